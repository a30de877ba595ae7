// The report for people: Markdown (the whole report) and the terminal's short form.
#include "json_io.hpp"
#include "markdown.hpp"
#include "gmem/report/report.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gmem::report {
namespace {

using nlohmann::json;

using detail::md_cell;

std::string cap_value(const std::string& key, const json& v) {
    if (v.is_null()) return "n/a";
    if (!v.is_number_integer()) return v.dump();
    const long long n = v.get<long long>();
    const bool mask = key.find("FLAGS") != std::string::npos ||
                      key.find("TYPES") != std::string::npos ||
                      key.find("ATTRIBUTES") != std::string::npos;
    if (!mask) return std::to_string(n);
    std::ostringstream os;
    os << "0x" << std::hex << n;
    return os.str();
}

std::string str(const json& j, const char* key, std::string fallback = "") {
    if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
    if (j.is_object() && j.contains(key) && !j[key].is_null()) return j[key].dump();
    return fallback;
}

std::string feature_line(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_object()) return "not probed";
    const auto& f = j[key];
    const bool avail = f.value("available", false);
    const std::string detail = str(f, "detail");
    return std::string(avail ? "yes" : "no") + (detail.empty() ? "" : " (" + detail + ")");
}

std::vector<const json*> created_types(const json& p) {
    std::vector<const json*> out;
    if (p.contains("vm_types") && p["vm_types"].is_array())
        for (const auto& t : p["vm_types"])
            if (t.is_object() && t.value("created", false)) out.push_back(&t);
    return out;
}

void probe_markdown(std::ostringstream& md, const Meta& m) {
    md << "## What this kernel offers (gmem-probe)\n\n";
    if (m.probe_json.empty()) {
        md << "No probe: " << md_cell(m.probe_note.empty() ? "gmem-probe output not given" : m.probe_note)
           << "\n\n";
        return;
    }
    // A report from an older gmem-report may hold a probe of another shape.
    const auto checked = check_probe(m.probe_json);
    const auto parsed = checked ? detail::parse_json(*checked) : Expected<json>{};
    if (!checked || !parsed) {
        md << "The probe output is not usable: " << md_cell(checked ? parsed.error().message : checked.error().message)
           << ".\n\n";
        return;
    }
    const json& p = *parsed;
    const json kvm = p.value("kvm", json::object());
    md << "| | |\n|---|---|\n";
    md << "| page size | " << md_cell(str(p, "page_size", "?")) << " |\n";
    if (kvm.value("usable", false))
        md << "| KVM | " << md_cell(str(kvm, "path")) << ", API version " << md_cell(str(kvm, "api_version"))
           << " |\n";
    else
        md << "| KVM | not usable: " << md_cell(str(kvm, "reason", "?")) << " |\n";
    if (p.contains("gmem_attributes_cap"))
        md << "| KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES number | "
           << md_cell(str(p["gmem_attributes_cap"], "number")) << " ("
           << md_cell(str(p["gmem_attributes_cap"], "source")) << ") |\n";
    md << "\n";

    const auto types = created_types(p);
    if (p.contains("system") && p["system"].is_object()) {
        md << "### Capabilities per VM type\n\n| capability | /dev/kvm |";
        for (const auto* t : types) md << " " << md_cell(str(*t, "name")) << " |";
        md << "\n|---|---|";
        for (size_t i = 0; i < types.size(); ++i) md << "---|";
        md << "\n";
        for (const auto& [key, val] : p["system"].items()) {
            md << "| " << md_cell(key) << " | " << cap_value(key, val) << " |";
            for (const auto* t : types) {
                const json caps = t->value("caps", json::object());
                md << " " << (caps.contains(key) ? cap_value(key, caps[key]) : "n/a") << " |";
            }
            md << "\n";
        }
        md << "\n";
    }
    if (p.contains("vm_types") && p["vm_types"].is_array()) {
        md << "### VM types and in-place conversion\n\n"
              "| VM type | advertised | created | in-place conversion |\n|---|---|---|---|\n";
        for (const auto& t : p["vm_types"]) {
            if (!t.is_object()) continue;
            const bool created = t.value("created", false);
            std::string conv = "n/a (VM not created)";
            if (created)
                conv = std::string(t.value("in_place_conversion", false) ? "yes" : "no") +
                       (str(t, "conversion_evidence").empty() ? "" : ": " + str(t, "conversion_evidence"));
            md << "| " << md_cell(str(t, "name")) << " | " << (t.value("advertised", false) ? "yes" : "no")
               << " | " << (created ? "yes" : "no (" + md_cell(str(t, "create_error", "?")) + ")") << " | "
               << md_cell(conv) << " |\n";
        }
        md << "\n";
    }
    md << "### Config-dependent features\n\n| feature | state |\n|---|---|\n";
    if (p.contains("thp") && p["thp"].is_object())
        md << "| transparent hugepages | " << md_cell(str(p["thp"], "enabled", "absent"))
           << ", PMD size " << md_cell(str(p["thp"], "pmd_size", "?")) << " |\n";
    md << "| NUMA nodes | " << md_cell(str(p, "numa_nodes", "?")) << " |\n";
    md << "| gup_test | " << md_cell(feature_line(p, "gup_test")) << " |\n";
    md << "| io_uring | " << md_cell(feature_line(p, "io_uring")) << " |\n";
    if (p.contains("kvm_module_params") && p["kvm_module_params"].is_object())
        for (const auto& [k, v] : p["kvm_module_params"].items())
            md << "| kvm." << md_cell(k) << " | " << (v.is_null() ? "(no such parameter)" : md_cell(str(p["kvm_module_params"], k.c_str())))
               << " |\n";
    md << "\n";
}

// One line for the terminal: what the kernel offers, in the probe's words.
std::string probe_line(const Meta& m) {
    if (m.probe_json.empty()) return "probe: none (" + (m.probe_note.empty() ? "not given" : m.probe_note) + ")";
    const auto checked = check_probe(m.probe_json);
    if (!checked) return "probe: not usable: " + checked.error().message;
    const auto parsed = detail::parse_json(*checked);
    if (!parsed) return "probe: not usable: " + parsed.error().message;
    const json& p = *parsed;
    std::string s = "probe: ";
    const json kvm = p.value("kvm", json::object());
    if (!kvm.value("usable", false)) return s + "KVM not usable: " + str(kvm, "reason", "?");
    s += "KVM API " + str(kvm, "api_version", "?") + "; VM types";
    bool conv = false;
    for (const auto* t : created_types(p)) {
        s += " " + str(*t, "name");
        conv |= t->value("in_place_conversion", false);
    }
    s += std::string("; in-place conversion ") + (conv ? "yes" : "no");
    if (p.contains("system") && p["system"].is_object() && p["system"].contains("KVM_CAP_GUEST_MEMFD_FLAGS"))
        s += "; gmem flags " + cap_value("FLAGS", p["system"]["KVM_CAP_GUEST_MEMFD_FLAGS"]);
    if (p.contains("thp") && p["thp"].is_object()) s += "; THP " + str(p["thp"], "enabled", "absent");
    s += "; NUMA nodes " + str(p, "numa_nodes", "?");
    s += "; gup_test " + std::string(p.value("gup_test", json::object()).value("available", false) ? "yes" : "no");
    s += "; io_uring " + std::string(p.value("io_uring", json::object()).value("available", false) ? "yes" : "no");
    return s;
}

// One test in a row's "tests" cell.
std::string test_label(const TestRecord& t) {
    switch (t.status) {
    case TestStatus::pass: return t.observed ? "pass; " + t.summary() : "pass";
    case TestStatus::skip: return "SKIP: " + t.summary();
    case TestStatus::fail: return "FAIL: " + t.summary();
    case TestStatus::crash: return "crash: " + t.summary();
    default: return t.summary();
    }
}

std::string short_behaviour(const std::string& text) {
    constexpr size_t max = 90;
    if (text.size() <= max) return text;
    size_t cut = text.rfind(' ', max);
    if (cut == std::string::npos || cut < max / 2) cut = max;
    return text.substr(0, cut) + " …";
}

void counts_table(std::ostringstream& os, const Report& r, bool markdown) {
    char buf[256];
    if (markdown) {
        os << "| section | IDs | PASS | FAIL | XFAIL | SKIP | observe | NOT COVERED |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    } else {
        std::snprintf(buf, sizeof(buf), "%-9s %4s %5s %5s %5s %5s %8s %12s\n", "section", "IDs", "PASS",
                      "FAIL", "XFAIL", "SKIP", "observe", "NOT COVERED");
        os << buf;
    }
    for (const auto& c : r.counts()) {
        if (markdown) {
            std::string name = c.prefix == "total" ? "**total**" : c.prefix + ": " + c.title;
            os << "| " << md_cell(name) << " | " << c.ids << " | " << c.pass << " | " << c.fail << " | "
               << c.xfail << " | " << c.skip << " | " << c.observe << " | " << c.not_covered << " |\n";
        } else {
            std::snprintf(buf, sizeof(buf), "%-9s %4u %5u %5u %5u %5u %8u %12u\n", c.prefix.c_str(),
                          c.ids, c.pass, c.fail, c.xfail, c.skip, c.observe, c.not_covered);
            os << buf;
        }
    }
}

// reason -> IDs it was given for (IDs in spec order, each once)
std::vector<std::pair<std::string, std::vector<std::string>>> skip_reasons(const Report& r) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (const auto& row : r.rows)
        for (const auto& t : row.tests) {
            if (t.status != TestStatus::skip) continue;
            auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == t.reason; });
            if (it == out.end()) {
                out.push_back({t.reason, {}});
                it = out.end() - 1;
            }
            if (std::find(it->second.begin(), it->second.end(), row.id) == it->second.end())
                it->second.push_back(row.id);
        }
    return out;
}

std::string ids_line(const std::vector<std::string>& ids, size_t indent) {
    std::string out, line;
    for (const auto& id : ids) {
        if (!line.empty() && line.size() + id.size() + 1 > 96 - indent) {
            out += line + "\n" + std::string(indent, ' ');
            line.clear();
        }
        line += (line.empty() ? "" : " ") + id;
    }
    return out + line;
}

std::string pad(const std::string& id) { return id.size() >= 10 ? id + " " : id + std::string(11 - id.size(), ' '); }

std::string verdict(const Report& r) {
    if (r.not_tested()) {
        unsigned skip = 0, ids = 0;
        for (const auto& row : r.rows) {
            ++ids;
            skip += row.status == Status::skip;
        }
        return gmem::util::not_tested_prefix + r.not_tested_reason() + ". This kernel's guest_memfd was not tested (" +
               std::to_string(skip) + " of " + std::to_string(ids) +
               " behaviour IDs SKIP; what PASSed needs no KVM)";
    }
    if (!r.failed()) return "PASSED: nothing failed";
    std::vector<std::string> parts;
    if (r.programs.empty()) parts.push_back("no corpus program ran");
    if (r.failed_rows()) parts.push_back(std::to_string(r.failed_rows()) + " behaviour(s) FAIL");
    if (r.program_problems()) parts.push_back(std::to_string(r.program_problems()) + " program problem(s)");
    if (!r.unknown_ids.empty()) parts.push_back(std::to_string(r.unknown_ids.size()) + " unknown ID(s)");
    if (!r.unattributed.empty())
        parts.push_back(std::to_string(r.unattributed.size()) + " failing test(s) naming no ID");
    if (!r.meta.input_problems.empty())
        parts.push_back(std::to_string(r.meta.input_problems.size()) + " input(s) left out");
    std::string s = "FAILED: ";
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
    return s;
}

} // namespace

std::string to_markdown(const Report& r) {
    std::ostringstream md;
    md << "# guest_memfd conformance report\n\n";
    md << "| | |\n|---|---|\n";
    md << "| kernel | " << md_cell(r.meta.kernel_release.empty() ? "unknown" : r.meta.kernel_release) << " |\n";
    md << "| date | " << md_cell(r.meta.date) << " |\n";
    md << "| corpus version | " << md_cell(r.meta.corpus_version.empty() ? "unknown" : r.meta.corpus_version)
       << " |\n";
    if (!r.meta.ran_on.empty()) md << "| ran on | " << md_cell(r.meta.ran_on) << " |\n";
    md << "| verdict | " << md_cell(verdict(r)) << " |\n";
    if (r.not_tested() && !r.meta.in_vm) md << "| instead | " << md_cell(gmem::util::not_tested_hint) << " |\n";
    md << "\n";
    probe_markdown(md, r.meta);

    md << "## Summary\n\n";
    counts_table(md, r, true);
    md << "\nHow tests combine into a row: any failing test (not ok, XPASS, TIMEOUT, crash, or "
          "never ran because its program ended early) → FAIL; else any XFAIL → XFAIL; else any "
          "test passed without observing → PASS; else any passed by observing → observe; else "
          "all skipped → SKIP with the distinct reasons. No test names the ID → NOT COVERED.\n\n";

    bool problems = false;
    for (const auto& p : r.programs) problems |= !p.problems.empty();
    if (problems || !r.unknown_ids.empty() || !r.unattributed.empty() || !r.meta.input_problems.empty()) {
        md << "## Problems that fail the run\n\n";
        for (const auto& i : r.meta.input_problems) md << "- input left out: " << md_cell(i) << "\n";
        for (const auto& p : r.programs)
            for (const auto& pr : p.problems)
                md << "- program `" << p.name << "`: " << md_cell(pr) << "\n";
        for (const auto& u : r.unknown_ids)
            md << "- unknown behaviour ID `" << md_cell(u.id) << "` declared by `" << u.program << ": "
               << u.test << "` (not in spec/BEHAVIORS.md)\n";
        for (const auto& t : r.unattributed)
            md << "- failing test naming no known ID: `" << t.program << ": " << t.test
               << "`: " << md_cell(t.summary()) << "\n";
        md << "\n";
    }
    bool notes = false;
    for (const auto& p : r.programs) notes |= !p.notes.empty();
    if (notes) {
        md << "## Notes\n\n";
        for (const auto& p : r.programs)
            for (const auto& n : p.notes) md << "- program `" << md_cell(p.name) << "`: " << md_cell(n) << "\n";
        md << "\n";
    }

    md << "## Behaviours\n";
    for (const auto& s : r.sections) {
        md << "\n### " << md_cell(s.prefix) << ": " << md_cell(s.title) << "\n\n";
        md << "| ID | status | behaviour | result | tests |\n|---|---|---|---|---|\n";
        for (const auto& row : r.rows) {
            if (row.section != s.prefix) continue;
            std::string tests;
            for (const auto& t : row.tests) {
                if (!tests.empty()) tests += "\n";
                tests += t.program + ": " + t.test + " — " + test_label(t);
                for (const auto& o : t.observations)
                    if (t.status != TestStatus::pass) tests += "\n  observed: " + o;
            }
            const std::string status = row.status == Status::fail ? "**FAIL**" : std::string(to_string(row.status));
            md << "| " << row.id << " | " << status << " | " << md_cell(short_behaviour(row.behaviour)) << " | "
               << md_cell(row.detail) << " | " << md_cell(tests) << " |\n";
        }
    }
    md << "\n## Programs\n\n| program | CTest | KTAP | results |\n|---|---|---|---:|\n";
    for (const auto& p : r.programs)
        md << "| " << md_cell(p.name) << " | " << to_string(p.ctest)
           << (p.ctest_detail.empty() ? "" : " (" + md_cell(p.ctest_detail) + ")") << " | " << p.ktap
           << " | " << p.results << " |\n";
    if (r.tests_without_ids)
        md << "\n" << r.tests_without_ids << " test(s) name no behaviour ID.\n";
    for (const auto& s : r.stray_ktap)
        md << "\nIgnored `" << md_cell(s) << ".ktap`: CTest did not run `" << md_cell(s)
           << "` (a checker's child that inherited GMEM_KTAP_DIR?).\n";
    return md.str();
}

std::string to_terminal(const Report& r) {
    std::ostringstream os;
    os << "guest_memfd conformance: kernel " << (r.meta.kernel_release.empty() ? "unknown" : r.meta.kernel_release)
       << ", corpus " << (r.meta.corpus_version.empty() ? "unknown" : r.meta.corpus_version) << ", "
       << r.meta.date << "\n";
    if (!r.meta.ran_on.empty()) os << "ran on " << r.meta.ran_on << "\n";
    os << probe_line(r.meta) << "\n\n";
    counts_table(os, r, false);

    std::vector<const Row*> fails;
    for (const auto& row : r.rows)
        if (row.status == Status::fail) fails.push_back(&row);
    if (!fails.empty()) {
        os << "\nFAIL (" << fails.size() << "):\n";
        for (const auto* row : fails) os << "  " << pad(row->id) << row->detail << "\n";
    }
    if (!r.meta.input_problems.empty()) {
        os << "\nInputs left out (" << r.meta.input_problems.size() << "):\n";
        for (const auto& i : r.meta.input_problems) os << "  " << i << "\n";
    }
    if (r.program_problems()) {
        os << "\nProgram problems (" << r.program_problems() << "):\n";
        for (const auto& p : r.programs)
            for (const auto& pr : p.problems) os << "  " << p.name << ": " << pr << "\n";
    }
    if (!r.unknown_ids.empty()) {
        os << "\nUnknown behaviour IDs declared by tests (" << r.unknown_ids.size() << "):\n";
        for (const auto& u : r.unknown_ids) os << "  " << pad(u.id) << u.program << ": " << u.test << "\n";
    }
    if (!r.unattributed.empty()) {
        os << "\nFailing tests that name no known behaviour ID (" << r.unattributed.size() << "):\n";
        for (const auto& t : r.unattributed) os << "  " << t.program << ": " << t.test << ": " << t.summary() << "\n";
    }
    const auto reasons = skip_reasons(r);
    if (!reasons.empty()) {
        os << "\nSKIP reasons (" << reasons.size() << "):\n";
        for (const auto& [reason, ids] : reasons)
        {
            constexpr size_t max_ids = 20;
            std::vector<std::string> shown(ids.begin(), ids.begin() + std::min(ids.size(), max_ids));
            if (ids.size() > max_ids) shown.push_back("... (+" + std::to_string(ids.size() - max_ids) + " more)");
            os << "  " << reason << "\n      " << ids_line(shown, 6) << "\n";
        }
    }
    std::vector<std::string> xfails, uncovered;
    for (const auto& row : r.rows) {
        if (row.status == Status::xfail) xfails.push_back(pad(row.id) + row.detail);
        if (row.status == Status::not_covered) uncovered.push_back(row.id);
    }
    if (!xfails.empty()) {
        os << "\nXFAIL, known failures (" << xfails.size() << "):\n";
        for (const auto& x : xfails) os << "  " << x << "\n";
    }
    if (!uncovered.empty())
        os << "\nNOT COVERED (" << uncovered.size() << "): " << ids_line(uncovered, 2) << "\n";
    std::size_t notes_n = 0;
    for (const auto& p : r.programs) notes_n += p.notes.size();
    if (notes_n) {
        os << "\nProgram notes (" << notes_n << "):\n";
        for (const auto& p : r.programs)
            for (const auto& n : p.notes) os << "  " << p.name << ": " << n << "\n";
    }
    if (!r.stray_ktap.empty()) {
        os << "\nIgnored KTAP of programs CTest did not run (children that inherited GMEM_KTAP_DIR?):";
        for (const auto& s : r.stray_ktap) os << " " << s;
        os << "\n";
    }
    os << "\n" << verdict(r) << "\n";
    if (r.not_tested() && !r.meta.in_vm) os << gmem::util::not_tested_hint << "\n";
    return os.str();
}

} // namespace gmem::report
