#include "gmem/report/inputs.hpp"

#include "json_io.hpp"

#include "gmem/util/process.hpp"
#include "gmem/util/text.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace gmem::report {
namespace {

std::string xml_unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        const size_t semi = s.find(';', i);
        if (semi == std::string_view::npos || semi - i > 10) {
            out += s[i];
            continue;
        }
        const std::string_view ent = s.substr(i + 1, semi - i - 1);
        if (ent == "lt") out += '<';
        else if (ent == "gt") out += '>';
        else if (ent == "amp") out += '&';
        else if (ent == "quot") out += '"';
        else if (ent == "apos") out += '\'';
        else if (ent.starts_with("#")) {
            const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
            const std::string digits(ent.substr(hex ? 2 : 1));
            unsigned long cp = 0;
            try {
                cp = std::stoul(digits, nullptr, hex ? 16 : 10);
            } catch (...) {
                cp = '?';
            }
            out += cp < 0x80 ? static_cast<char>(cp) : '?';
        } else {
            out += s.substr(i, semi - i + 1);
        }
        i = semi;
    }
    return out;
}

// The value of attr="..." inside one tag's text.
std::optional<std::string> attribute(std::string_view tag, std::string_view attr) {
    size_t pos = 0;
    const std::string key = std::string(attr) + "=\"";
    while ((pos = tag.find(key, pos)) != std::string_view::npos) {
        if (pos > 0 && (tag[pos - 1] == ' ' || tag[pos - 1] == '\t' || tag[pos - 1] == '\n')) {
            const size_t start = pos + key.size();
            const size_t end = tag.find('"', start);
            if (end == std::string_view::npos) return std::nullopt;
            return xml_unescape(tag.substr(start, end - start));
        }
        pos += key.size();
    }
    return std::nullopt;
}

bool valid_program_name(std::string_view n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos;
}

// The probe fields the report shows, with the types gmem-probe writes
// (lib/kvm/features.cpp); thrown as "field \"path\": expected ..., got ...".
struct ShapeError {
    std::string message;
};

using nlohmann::json;

void want(const json& v, const std::string& path, bool ok, const char* what) {
    if (!ok)
        throw ShapeError{"field \"" + path + "\": expected " + what + ", got " + std::string(v.type_name())};
}

// The field `key` of object `o` if present, checked with `ok`.
template <class Pred>
const json* field(const json& o, const std::string& base, const char* key, Pred ok, const char* what) {
    const auto it = o.find(key);
    if (it == o.end()) return nullptr;
    const std::string path = base.empty() ? std::string(key) : base + "." + key;
    want(*it, path, ok(*it), what);
    return &*it;
}

bool is_obj(const json& v) { return v.is_object(); }
bool is_bool(const json& v) { return v.is_boolean(); }
bool is_scalar(const json& v) { return v.is_null() || v.is_string() || v.is_number() || v.is_boolean(); }
constexpr const char* an_object = "an object";
constexpr const char* a_bool = "true or false";
constexpr const char* a_scalar = "text, a number or null";

void scalar_fields(const json& o, const std::string& base, std::initializer_list<const char*> keys) {
    for (const char* k : keys) field(o, base, k, is_scalar, a_scalar);
}

void scalar_values(const json& o, const std::string& path) {
    for (const auto& [k, v] : o.items()) want(v, path + "." + k, is_scalar(v), a_scalar);
}

void check_probe_shape(const json& p) {
    want(p, "(top level)", p.is_object(), an_object);
    scalar_fields(p, "", {"kernel_release", "page_size", "numa_nodes"});
    if (const json* kvm = field(p, "", "kvm", is_obj, an_object)) {
        field(*kvm, "kvm", "usable", is_bool, a_bool);
        scalar_fields(*kvm, "kvm", {"path", "api_version", "reason"});
    }
    if (const json* cap = field(p, "", "gmem_attributes_cap", is_obj, an_object))
        scalar_fields(*cap, "gmem_attributes_cap", {"number", "source"});
    if (const json* sys = field(p, "", "system", is_obj, an_object)) scalar_values(*sys, "system");
    if (const json* types = field(p, "", "vm_types", [](const json& v) { return v.is_array(); }, "an array")) {
        for (std::size_t i = 0; i < types->size(); ++i) {
            const json& t = (*types)[i];
            const std::string path = "vm_types[" + std::to_string(i) + "]";
            want(t, path, t.is_object(), an_object);
            for (const char* k : {"advertised", "created", "in_place_conversion"}) field(t, path, k, is_bool, a_bool);
            scalar_fields(t, path, {"name", "create_error", "conversion_evidence"});
            if (const json* caps = field(t, path, "caps", is_obj, an_object)) scalar_values(*caps, path + ".caps");
        }
    }
    if (const json* params = field(p, "", "kvm_module_params", is_obj, an_object))
        scalar_values(*params, "kvm_module_params");
    if (const json* thp = field(p, "", "thp", is_obj, an_object)) scalar_fields(*thp, "thp", {"enabled", "pmd_size"});
    for (const char* k : {"gup_test", "io_uring"})
        if (const json* f = field(p, "", k, is_obj, an_object)) {
            field(*f, k, "available", is_bool, a_bool);
            scalar_fields(*f, k, {"detail"});
        }
}

} // namespace

Expected<std::string> check_probe(std::string_view text) {
    auto j = detail::parse_json(text);
    if (!j) return std::unexpected(j.error());
    try {
        check_probe_shape(*j);
    } catch (const ShapeError& e) {
        return std::unexpected(Problem{e.message});
    }
    return detail::dump(*j);
}

std::string_view to_string(CtestStatus s) {
    switch (s) {
    case CtestStatus::unknown: return "unknown";
    case CtestStatus::passed: return "passed";
    case CtestStatus::failed: return "failed";
    case CtestStatus::skipped: return "skipped";
    case CtestStatus::not_run: return "not_run";
    }
    return "unknown";
}

Expected<std::vector<CtestResult>> parse_junit(std::string_view xml) {
    if (xml.find("<testsuite") == std::string_view::npos)
        return std::unexpected(Problem{"not a JUnit file (no <testsuite> element)"});
    std::vector<CtestResult> out;
    size_t pos = 0;
    while ((pos = xml.find("<testcase", pos)) != std::string_view::npos) {
        const size_t tag_end = xml.find('>', pos);
        if (tag_end == std::string_view::npos)
            return std::unexpected(Problem{"unterminated <testcase> element"});
        const std::string_view tag = xml.substr(pos, tag_end - pos);
        const bool self_closed = tag.ends_with("/");
        size_t body_end = tag_end;
        if (!self_closed) {
            body_end = xml.find("</testcase>", tag_end);
            if (body_end == std::string_view::npos)
                return std::unexpected(Problem{"<testcase> without </testcase>"});
        }
        const std::string_view body = xml.substr(tag_end + 1, body_end - tag_end - (self_closed ? 0 : 1));
        CtestResult r;
        const auto name = attribute(tag, "name");
        if (!name || name->empty())
            return std::unexpected(Problem{"<testcase> without a name attribute"});
        r.name = *name;
        const std::string status = attribute(tag, "status").value_or("");
        // Only the element tags matter; the captured output is escaped text.
        const size_t sk = body.find("<skipped");
        const size_t fa = body.find("<failure");
        if (status == "run") {
            r.status = CtestStatus::passed;
        } else if (status == "fail" || fa != std::string_view::npos) {
            r.status = CtestStatus::failed;
            if (fa != std::string_view::npos)
                r.detail = attribute(body.substr(fa, body.find('>', fa) - fa), "message").value_or("");
        } else if (status == "notrun" || status == "disabled" || sk != std::string_view::npos) {
            std::string msg;
            if (sk != std::string_view::npos)
                msg = attribute(body.substr(sk, body.find('>', sk) - sk), "message").value_or("");
            r.detail = msg.empty() ? status : msg;
            // SKIP_RETURN_CODE: the program ran and skipped everything.
            r.status = msg.starts_with("SKIP_RETURN_CODE") ? CtestStatus::skipped
                                                           : CtestStatus::not_run;
        } else {
            r.status = CtestStatus::unknown;
            r.detail = "status=\"" + status + "\"";
        }
        out.push_back(std::move(r));
        pos = body_end;
    }
    return out;
}

std::vector<std::string> split_ids(std::string_view ids) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < ids.size()) {
        while (i < ids.size() && (ids[i] == ' ' || ids[i] == '\t')) ++i;
        size_t j = i;
        while (j < ids.size() && ids[j] != ' ' && ids[j] != '\t') ++j;
        if (j > i) out.emplace_back(ids.substr(i, j - i));
        i = j;
    }
    return out;
}

Expected<std::vector<ListedTest>> parse_listing(std::string_view text) {
    std::vector<ListedTest> out;
    size_t lineno = 0;
    while (!text.empty()) {
        std::string_view line = util::next_line(text);
        ++lineno;
        if (line.empty()) continue;
        const size_t tab = line.find('\t');
        ListedTest t;
        t.name = std::string(line.substr(0, tab));
        if (t.name.empty() || t.name.find(' ') != std::string::npos)
            return std::unexpected(Problem{"line " + std::to_string(lineno) +
                                           ": expected \"name<TAB>IDs\", got '" +
                                           std::string(line) + "'"});
        if (tab != std::string_view::npos) t.ids = split_ids(line.substr(tab + 1));
        out.push_back(std::move(t));
    }
    return out;
}

Expected<std::vector<ProgramInput>> read_results(const std::string& ktap_dir,
                                                 const std::optional<std::string>& junit_path) {
    std::error_code ec;
    if (!fs::is_directory(ktap_dir, ec))
        return std::unexpected(Problem{ktap_dir + ": not a directory"});
    std::map<std::string, ProgramInput> progs;
    auto entry = [&](const std::string& name) -> ProgramInput& {
        auto& p = progs[name];
        p.name = name;
        return p;
    };
    if (junit_path) {
        auto xml = read_file(*junit_path);
        if (!xml) return std::unexpected(xml.error());
        auto cases = parse_junit(*xml);
        if (!cases) return std::unexpected(Problem{*junit_path + ": " + cases.error().message});
        for (auto& c : *cases) {
            if (!valid_program_name(c.name)) continue;
            entry(c.name).ctest = c;
        }
    }
    for (const auto& e : fs::directory_iterator(ktap_dir, ec)) {
        const fs::path& p = e.path();
        const std::string ext = p.extension().string();
        if (ext != ".ktap" && ext != ".list") continue;
        const std::string name = p.stem().string();
        if (!valid_program_name(name)) continue;
        auto text = read_file(p.string());
        if (!text) return std::unexpected(text.error());
        if (ext == ".ktap") {
            entry(name).ktap = std::move(*text);
        } else {
            auto listing = parse_listing(*text);
            if (!listing) entry(name).listing_problem = p.filename().string() + ": " + listing.error().message;
            else entry(name).listing = std::move(*listing);
        }
    }
    if (ec) return std::unexpected(Problem{ktap_dir + ": " + ec.message()});
    std::vector<ProgramInput> out;
    if (junit_path)
        for (auto& [name, p] : progs)
            p.stray = p.ctest.status == CtestStatus::unknown && !p.listing && p.listing_problem.empty();
    for (auto& [name, p] : progs) out.push_back(std::move(p));
    return out;
}

Expected<RunInputs> read_run(const std::string& ktap_dir, std::optional<std::string> junit_path,
                             const std::optional<std::string>& probe_path) {
    RunInputs run;
    if (junit_path) {
        auto xml = read_file(*junit_path);
        std::string why;
        if (!xml) why = xml.error().message;
        else if (auto cases = parse_junit(*xml); !cases) why = *junit_path + ": " + cases.error().message;
        if (!why.empty()) {
            run.left_out.push_back(why);
            junit_path.reset();
        }
    }
    auto programs = read_results(ktap_dir, junit_path);
    if (!programs) return std::unexpected(programs.error());
    run.programs = std::move(*programs);
    if (probe_path) {
        auto text = read_file(*probe_path);
        auto checked = text ? check_probe(*text) : Expected<std::string>{};
        if (!text) run.left_out.push_back(text.error().message);
        else if (!checked)
            run.left_out.push_back(*probe_path + ": not gmem-probe --json output: " + checked.error().message);
        else run.probe_json = std::move(*checked);
    }
    return run;
}

Expected<std::vector<std::string>> write_listings(std::string_view ctest_json,
                                                  const std::string& out_dir,
                                                  unsigned timeout_s) {
    const auto parsed = detail::parse_json(ctest_json);
    if (!parsed && parsed.error().message != "not JSON")
        return std::unexpected(Problem{"not CTest's --show-only=json-v1 output (" + parsed.error().message + ")"});
    if (!parsed || !parsed->is_object() || !parsed->contains("tests") || !(*parsed)["tests"].is_array())
        return std::unexpected(
            Problem{"not CTest's --show-only=json-v1 output (no \"tests\" array)"});
    const nlohmann::json& j = *parsed;
    std::error_code ec;
    if (!fs::is_directory(out_dir, ec))
        return std::unexpected(Problem{out_dir + ": not a directory"});
    std::vector<std::string> unlisted;
    for (const auto& t : j["tests"]) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) continue;
        const std::string name = t["name"].get<std::string>();
        if (!valid_program_name(name)) continue;
        if (!t.contains("command") || !t["command"].is_array() || t["command"].empty() ||
            !t["command"][0].is_string()) {
            unlisted.push_back(name + ": CTest knows no command for it");
            continue;
        }
        const std::string exe = t["command"][0].get<std::string>();
        // timeout(1) bounds a program that hangs; stdin is /dev/null so that
        // nothing waits for the terminal. The names travel as arguments, unquoted.
        const auto res = gmem::util::run_capture(
            {"/bin/sh", "-c", "exec /usr/bin/timeout -k 2 \"$0\" \"$1\" -l </dev/null",
             std::to_string(timeout_s), exe});
        if (res.exit_code != 0) {
            std::string why = res.term_signal ? "killed by signal " + std::to_string(res.term_signal)
                                              : "exit code " + std::to_string(res.exit_code);
            if (res.exit_code == 124) why = "timed out after " + std::to_string(timeout_s) + " s";
            unlisted.push_back(name + ": '" + exe + " -l' failed (" + why + ")");
            continue;
        }
        auto listing = parse_listing(res.out);
        if (!listing) {
            unlisted.push_back(name + ": '" + exe + " -l' printed no test list: " +
                               listing.error().message);
            continue;
        }
        const fs::path path = fs::path(out_dir) / (name + ".list");
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << res.out;
        out.close();
        if (!out) return std::unexpected(Problem{path.string() + ": cannot write"});
    }
    return unlisted;
}

} // namespace gmem::report
