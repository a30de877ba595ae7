// Building the report from the programs' outputs, and its JSON form.
#include "gmem/report/report.hpp"

#include "json_io.hpp"

#include "gmem/util/ktap.hpp"
#include "gmem/util/utf8.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace gmem::report {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// "file.cpp:42:Expected ..." as fail_here prints it.
bool is_location_line(std::string_view s) {
    const size_t c1 = s.find(':');
    if (c1 == 0 || c1 == std::string_view::npos) return false;
    if (s.substr(0, c1).find(' ') != std::string_view::npos) return false;
    size_t i = c1 + 1;
    const size_t digits = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i > digits && i < s.size() && s[i] == ':';
}

// The harness's own progress markers carry nothing the result line does not.
bool is_marker(std::string_view d, std::string_view name) {
    const std::string_view t = trim(d);
    if (t.starts_with("RUN ") && t.ends_with(" ...")) return true;
    if (t.starts_with("OK ") && trim(t.substr(3)) == name) return true;
    if (t.starts_with("FAIL ") && trim(t.substr(5)) == name) return true;
    if (d.starts_with(" ") && (t.starts_with("SKIP ") || t.starts_with("XFAIL "))) return true;
    return d.starts_with("ids:");
}

// Splits one test's diagnostics into messages and observations.
void take_diagnostics(const std::vector<std::string>& diags, TestRecord& t) {
    const std::string own = t.test + ": ";
    for (const auto& d : diags) {
        if (is_marker(d, t.test)) continue;
        if (d.starts_with("observe: ")) {
            t.observations.push_back(d.substr(9));
            continue;
        }
        t.messages.push_back(d.starts_with(own) ? d.substr(own.size()) : d);
    }
    t.observed = !t.observations.empty();
}

TestRecord from_result(const std::string& program, const gmem::ktap::TestResult& r) {
    TestRecord t;
    t.program = program;
    t.test = r.name;
    t.ids = split_ids(r.ids);
    take_diagnostics(r.diagnostics, t);
    if (r.directive == "SKIP" && r.ok) {
        t.status = TestStatus::skip;
    } else if (r.directive == "XFAIL" && r.ok) {
        t.status = TestStatus::xfail;
    } else if (r.directive == "XPASS") {
        t.status = TestStatus::xpass;
    } else if (r.directive == "TIMEOUT") {
        t.status = TestStatus::timeout;
    } else if (r.ok) {
        t.status = TestStatus::pass;
    } else {
        t.status = TestStatus::fail;
        for (const auto& m : t.messages)
            if (m.starts_with("Test terminated unexpectedly by ") ||
                m.find("before reporting a result") != std::string::npos)
                t.status = TestStatus::crash;
    }
    if (t.status != TestStatus::pass && t.status != TestStatus::fail &&
        t.status != TestStatus::crash)
        t.reason = r.directive_text;
    return t;
}

// The test whose RUN line has no result: the program ended while it ran.
std::optional<TestRecord> unfinished(const std::string& program,
                                     const std::vector<std::string>& trailing) {
    std::optional<TestRecord> t;
    std::vector<std::string> diags;
    for (const auto& d : trailing) {
        const std::string_view v = trim(d);
        if (v.starts_with("RUN ") && v.ends_with(" ...")) {
            t = TestRecord{};
            t->program = program;
            t->test = std::string(trim(v.substr(4, v.size() - 8)));
            diags.clear();
        } else if (t && d.starts_with("ids: ")) {
            t->ids = split_ids(std::string_view(d).substr(5));
        }
        if (t) diags.push_back(d);
    }
    if (t) {
        take_diagnostics(diags, *t);
        t->status = TestStatus::crash;
        t->reason = "the program ended while this test ran (no result line)";
    }
    return t;
}

bool is_failing(const TestRecord& t) { return is_failure(t.status); }

std::string detail_of(const std::vector<const TestRecord*>& tests, Status& status) {
    std::vector<const TestRecord*> fails, xfails, passes, skips;
    for (const auto* t : tests) {
        if (is_failing(*t)) fails.push_back(t);
        else if (t->status == TestStatus::xfail) xfails.push_back(t);
        else if (t->status == TestStatus::pass) passes.push_back(t);
        else skips.push_back(t);
    }
    auto first_of = [](const std::vector<const TestRecord*>& v, std::string_view more) {
        std::string s = v.front()->program + ": " + v.front()->test + ": " + v.front()->summary();
        if (v.size() > 1) s += " (+" + std::to_string(v.size() - 1) + " more " + std::string(more) + ")";
        return s;
    };
    std::vector<std::string> reasons, observations;
    for (const auto* t : skips) add_unique(reasons, t->reason);
    bool plain_pass = false;
    for (const auto* t : passes) {
        for (const auto& o : t->observations) add_unique(observations, o);
        plain_pass |= !t->observed;
    }
    const std::string skipped =
        skips.empty() ? "" : std::to_string(skips.size()) + " skipped (" + join(reasons, "; ") + ")";
    if (tests.empty()) {
        status = Status::not_covered;
        return "no test names this ID";
    }
    if (!fails.empty()) {
        status = Status::fail;
        return first_of(fails, "failing");
    }
    if (!xfails.empty()) {
        status = Status::xfail;
        return first_of(xfails, "known failures");
    }
    if (plain_pass) {
        status = Status::pass;
        std::string s = std::to_string(passes.size()) + " passed";
        if (!skipped.empty()) s += ", " + skipped;
        if (!observations.empty()) s += "; observed: " + join(observations, "; ");
        return s;
    }
    if (!passes.empty()) {
        status = Status::observe;
        std::string s = "observed: " + join(observations, "; ");
        if (!skipped.empty()) s += "; " + skipped;
        return s;
    }
    status = Status::skip;
    return join(reasons, "; ");
}

} // namespace

// ---------------------------------------------------------------- names --
std::string_view to_string(Status s) {
    switch (s) {
    case Status::pass: return "PASS";
    case Status::fail: return "FAIL";
    case Status::xfail: return "XFAIL";
    case Status::skip: return "SKIP";
    case Status::observe: return "observe";
    case Status::not_covered: return "NOT COVERED";
    }
    return "?";
}

std::optional<Status> status_from(std::string_view s) {
    for (Status v : {Status::pass, Status::fail, Status::xfail, Status::skip, Status::observe,
                     Status::not_covered})
        if (to_string(v) == s) return v;
    return std::nullopt;
}

std::string_view to_string(TestStatus s) {
    switch (s) {
    case TestStatus::pass: return "pass";
    case TestStatus::fail: return "fail";
    case TestStatus::skip: return "skip";
    case TestStatus::xfail: return "xfail";
    case TestStatus::xpass: return "xpass";
    case TestStatus::timeout: return "timeout";
    case TestStatus::crash: return "crash";
    case TestStatus::not_run: return "not_run";
    }
    return "?";
}

std::optional<TestStatus> test_status_from(std::string_view s) {
    for (TestStatus v : {TestStatus::pass, TestStatus::fail, TestStatus::skip, TestStatus::xfail,
                         TestStatus::xpass, TestStatus::timeout, TestStatus::crash,
                         TestStatus::not_run})
        if (to_string(v) == s) return v;
    return std::nullopt;
}

bool is_failure(TestStatus s) {
    return s == TestStatus::fail || s == TestStatus::xpass || s == TestStatus::timeout ||
           s == TestStatus::crash || s == TestStatus::not_run;
}

std::string TestRecord::summary() const {
    switch (status) {
    case TestStatus::pass:
        return observed ? "observed: " + join(observations, "; ") : std::string("passed");
    case TestStatus::skip: return reason;
    case TestStatus::xfail: return "known failure (XFAIL): " + reason;
    case TestStatus::xpass: return "passed but was expected to fail (XPASS): " + reason;
    case TestStatus::timeout: return "TIMEOUT after " + reason;
    case TestStatus::not_run: return "did not run: " + reason;
    case TestStatus::fail:
    case TestStatus::crash:
        for (const auto& m : messages)
            if (is_location_line(m)) return m;
        for (const auto& m : messages)
            if (m.starts_with("Test terminated") || m.find("uncaught exception") != std::string::npos ||
                m.find("unknown behaviour ID") != std::string::npos)
                return m;
        if (!reason.empty()) return reason;
        if (!messages.empty()) return messages.front();
        return "failed (no diagnostic printed)";
    }
    return "?";
}

// --------------------------------------------------------------- report --
std::vector<SectionCounts> Report::counts() const {
    std::vector<SectionCounts> out;
    for (const auto& s : sections) out.push_back({s.prefix, s.title});
    out.push_back({"total", ""});
    for (const auto& r : rows) {
        for (auto& c : out) {
            if (c.prefix != r.section && c.prefix != "total") continue;
            ++c.ids;
            switch (r.status) {
            case Status::pass: ++c.pass; break;
            case Status::fail: ++c.fail; break;
            case Status::xfail: ++c.xfail; break;
            case Status::skip: ++c.skip; break;
            case Status::observe: ++c.observe; break;
            case Status::not_covered: ++c.not_covered; break;
            }
        }
    }
    return out;
}

unsigned Report::failed_rows() const {
    return static_cast<unsigned>(
        std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.status == Status::fail; }));
}

unsigned Report::program_problems() const {
    unsigned n = 0;
    for (const auto& p : programs) n += static_cast<unsigned>(p.problems.size());
    return n;
}

bool Report::failed() const {
    return programs.empty() || failed_rows() > 0 || program_problems() > 0 || !unknown_ids.empty() ||
           !unattributed.empty() || !meta.input_problems.empty();
}

std::string Report::not_tested_reason() const {
    if (meta.probe_json.empty()) return "";
    const auto parsed = detail::parse_json(meta.probe_json);
    if (!parsed || !parsed->is_object()) return "";
    const json& pj = *parsed;
    const auto kvm = pj.find("kvm");
    if (kvm == pj.end() || !kvm->is_object()) return "";
    const auto usable = kvm->find("usable");
    if (usable == kvm->end() || !usable->is_boolean()) return "";
    if (!usable->get<bool>()) {
        const auto why = kvm->find("reason");
        return gmem::util::kvm_unusable_prefix +
               (why != kvm->end() && why->is_string() && !why->get<std::string>().empty()
                    ? why->get<std::string>()
                    : std::string("the probe says it is not usable"));
    }
    // KVM_CAP_GUEST_MEMFD on the VM types KVM creates: the corpus's checks
    // gate on the VM's answer, so a kernel that says 1 on /dev/kvm but 0 on
    // every VM type it creates (Debian's 6.12 without SEV hardware or
    // KVM_SW_PROTECTED_VM) runs none of them, like one without guest_memfd
    // (ci/kernel-matrix's negative control asks the same).
    const auto types = pj.find("vm_types");
    if (types == pj.end() || !types->is_array()) return ""; // not a probe we can read: no claim
    std::string seen;
    for (const auto& t : *types) {
        if (!t.is_object() || !t.contains("created") || !t["created"].is_boolean() || !t["created"].get<bool>())
            continue;
        const json* cap = nullptr;
        if (t.contains("caps") && t["caps"].is_object() && t["caps"].contains("KVM_CAP_GUEST_MEMFD"))
            cap = &t["caps"]["KVM_CAP_GUEST_MEMFD"];
        if (cap && cap->is_number_integer() && cap->get<long long>() > 0) return "";
        const std::string name = t.contains("name") && t["name"].is_string() ? t["name"].get<std::string>() : "?";
        seen += (seen.empty() ? "" : ", ") + name + " " + (cap && !cap->is_null() ? detail::dump(*cap) : "none");
    }
    return "KVM offers no guest_memfd: KVM_CAP_GUEST_MEMFD is 0 on every VM type it creates (" +
           (seen.empty() ? std::string("it creates none") : seen) + ")";
}

namespace {

// Text that is not UTF-8 made valid ("\\xNN" per bad byte), counting the bytes.
struct Cleaner {
    std::size_t escaped = 0;
    std::string operator()(std::string_view s) {
        auto t = util::escape_invalid_utf8(s);
        escaped += t.escaped;
        return std::move(t.text);
    }
    void operator()(std::vector<std::string>& v) {
        for (auto& s : v) s = (*this)(s);
    }
};

// "its KTAP output is not valid UTF-8 text: 2 byte(s) shown as \xNN (first on line 7)"
std::string not_text_note(std::string_view what, std::string_view original, const util::Utf8Text& t) {
    std::string n = std::string(what) + " is not valid UTF-8 text: " + std::to_string(t.escaped) +
                    " byte(s) shown as \\xNN";
    if (t.first_bad != std::string_view::npos) {
        const auto line = std::count(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(t.first_bad), '\n');
        n += " (first on line " + std::to_string(line + 1) + ")";
    }
    return n;
}

} // namespace

Report build_report(const Spec& spec, const std::vector<ProgramInput>& programs, Meta meta) {
    Report rep;
    rep.sections = spec.sections;
    Cleaner meta_clean;
    for (std::string* s : {&meta.kernel_release, &meta.date, &meta.corpus_version, &meta.probe_note})
        *s = meta_clean(*s);
    meta_clean(meta.input_problems);
    if (!meta.probe_json.empty()) {
        // Only a probe that check_probe() accepts is shown.
        auto checked = check_probe(meta.probe_json);
        if (checked) {
            meta.probe_json = std::move(*checked);
        } else {
            meta.input_problems.push_back("probe: " + checked.error().message + " (left out)");
            meta.probe_json.clear();
        }
    }
    if (meta.kernel_release.empty() && !meta.probe_json.empty()) {
        const auto pj = detail::parse_json(meta.probe_json);
        if (pj && pj->is_object() && pj->contains("kernel_release") && (*pj)["kernel_release"].is_string())
            meta.kernel_release = meta_clean((*pj)["kernel_release"].get<std::string>());
    }
    rep.meta = std::move(meta);

    std::vector<TestRecord> all;
    for (const auto& in : programs) {
        if (in.stray) {
            rep.stray_ktap.push_back(util::escape_invalid_utf8(in.name).text);
            continue;
        }
        ProgramRecord pr;
        Cleaner clean;
        pr.name = clean(in.name);
        if (clean.escaped) pr.notes.push_back("its name is not valid UTF-8 text (bytes shown as \\xNN)");
        clean.escaped = 0;
        pr.ctest = in.ctest.status;
        pr.ctest_detail = clean(in.ctest.detail);
        if (clean.escaped) pr.notes.push_back("CTest's record of it is not valid UTF-8 text (bytes shown as \\xNN)");
        std::optional<std::vector<ListedTest>> listing = in.listing;
        if (listing) {
            clean.escaped = 0;
            for (auto& l : *listing) {
                l.name = clean(l.name);
                clean(l.ids);
            }
            if (clean.escaped)
                pr.notes.push_back("its test list (" + pr.name + ".list) is not valid UTF-8 text: " +
                                   std::to_string(clean.escaped) + " byte(s) shown as \\xNN");
        }
        if (!in.listing_problem.empty())
            pr.problems.push_back("its test list is not usable: " + clean(in.listing_problem));
        std::optional<std::string> ktap;
        if (in.ktap) {
            auto t = util::escape_invalid_utf8(*in.ktap);
            if (t.escaped) pr.notes.push_back(not_text_note("its KTAP output", *in.ktap, t));
            ktap = std::move(t.text);
        }
        std::vector<TestRecord> recs;
        bool ended_early = false;
        std::string why_early;
        if (!ktap) {
            pr.ktap = "missing";
            ended_early = true;
            why_early = "its program wrote no KTAP file";
            std::string p = "no KTAP output: the program did not start, or died before printing";
            if (!pr.ctest_detail.empty()) p += " (CTest: " + pr.ctest_detail + ")";
            pr.problems.push_back(p);
        } else if (trim(*ktap).empty() ||
                   std::all_of(ktap->begin(), ktap->end(),
                               [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
            pr.ktap = "empty";
            ended_early = true;
            why_early = "its program printed nothing";
            pr.problems.push_back("printed nothing (empty KTAP file)");
        } else {
            const auto doc = gmem::ktap::parse(*ktap);
            pr.results = static_cast<unsigned>(doc.tests.size());
            for (const auto& r : doc.tests) recs.push_back(from_result(pr.name, r));
            if (!doc.errors.empty()) {
                pr.ktap = "incomplete";
                ended_early = true;
                why_early = "its program ended before it (the KTAP output ends early)";
                pr.problems.push_back("KTAP output incomplete (crash or CTest timeout?): " +
                                      join(doc.errors, "; "));
                if (auto t = unfinished(pr.name, doc.trailing)) recs.push_back(std::move(*t));
            } else {
                pr.ktap = "complete";
                const bool any_fail = std::any_of(recs.begin(), recs.end(), is_failing);
                if (in.ctest.status == CtestStatus::failed && !any_fail)
                    pr.problems.push_back(
                        "CTest reports a failure (exit code, signal or timeout) although every "
                        "KTAP result is ok (a crash or sanitizer report at exit? see ctest.log)");
            }
        }
        if (ended_early && listing) {
            for (const auto& l : *listing) {
                const bool have = std::any_of(recs.begin(), recs.end(),
                                              [&](const TestRecord& t) { return t.test == l.name; });
                if (have) continue;
                TestRecord t;
                t.program = pr.name;
                t.test = l.name;
                t.ids = l.ids;
                t.status = TestStatus::not_run;
                t.reason = why_early;
                recs.push_back(std::move(t));
            }
        } else if (ended_early) {
            pr.problems.push_back("no test list (" + pr.name +
                                  ".list) either: the behaviour IDs it covers are unknown");
        }
        for (auto& t : recs) all.push_back(std::move(t));
        rep.programs.push_back(std::move(pr));
    }

    std::set<std::pair<std::string, std::string>> seen_unknown;
    for (const auto& t : all) {
        bool names_known = false;
        for (const auto& id : t.ids) {
            if (spec.find(id)) {
                names_known = true;
            } else if (seen_unknown.insert({id, t.program + ":" + t.test}).second) {
                rep.unknown_ids.push_back({id, t.program, t.test});
            }
        }
        if (t.ids.empty()) ++rep.tests_without_ids;
        if (!names_known && is_failing(t)) rep.unattributed.push_back(t);
    }

    for (const auto& b : spec.behaviours) {
        Row row{b.id, b.section, b.text, Status::not_covered, "", {}};
        std::vector<const TestRecord*> tests;
        for (const auto& t : all)
            if (std::find(t.ids.begin(), t.ids.end(), b.id) != t.ids.end()) tests.push_back(&t);
        row.detail = detail_of(tests, row.status);
        for (const auto* t : tests) row.tests.push_back(*t);
        rep.rows.push_back(std::move(row));
    }
    return rep;
}

// ----------------------------------------------------------------- JSON --
namespace {

ojson test_json(const TestRecord& t) {
    return ojson{{"program", t.program},   {"test", t.test},
                {"result", to_string(t.status)}, {"observed", t.observed},
                {"reason", t.reason},     {"messages", t.messages},
                {"observations", t.observations}, {"ids", t.ids}};
}

// Reading a report: every field is checked before it is used, and what does
// not fit names its path ("behaviours[3].tests[0].result").
struct SchemaError {
    std::string message;
};

class Fields {
  public:
    Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {
        if (!j_.is_object()) fail(j_, path_.empty() ? "(top level)" : path_, "an object");
    }
    std::string path(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }
    const json* find(const char* key) const {
        const auto it = j_.find(key);
        return it == j_.end() ? nullptr : &*it;
    }
    const json& need(const char* key) const {
        const json* v = find(key);
        if (!v) throw SchemaError{"field \"" + path(key) + "\" is missing"};
        return *v;
    }
    std::string str(const char* key) const { return as_string(need(key), path(key)); }
    std::string str_or(const char* key, std::string fallback) const {
        const json* v = find(key);
        return v ? as_string(*v, path(key)) : fallback;
    }
    bool bool_or(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) fail(*v, path(key), "true or false");
        return v->get<bool>();
    }
    unsigned count_or(const char* key, unsigned fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number_unsigned() || v->get<std::uint64_t>() > 0xffffffffU)
            fail(*v, path(key), "a count (0 .. 4294967295)");
        return static_cast<unsigned>(v->get<std::uint64_t>());
    }
    const json& array(const char* key) const {
        const json& v = need(key);
        if (!v.is_array()) fail(v, path(key), "an array");
        return v;
    }
    // An absent array reads as empty.
    const json& array_or_empty(const char* key) const {
        static const json empty = json::array();
        return find(key) ? array(key) : empty;
    }
    std::vector<std::string> strings_or(const char* key) const {
        std::vector<std::string> out;
        const json& a = array_or_empty(key);
        for (std::size_t i = 0; i < a.size(); ++i)
            out.push_back(as_string(a[i], path(key) + "[" + std::to_string(i) + "]"));
        return out;
    }

    [[noreturn]] static void fail(const json& v, const std::string& path, const char* what) {
        throw SchemaError{"field \"" + path + "\": expected " + what + ", got " + std::string(v.type_name())};
    }
    static std::string as_string(const json& v, const std::string& path) {
        if (!v.is_string()) fail(v, path, "a string");
        return v.get<std::string>();
    }

  private:
    const json& j_;
    std::string path_;
};

std::string item(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

TestRecord test_from(const json& j, const std::string& path) {
    const Fields f(j, path);
    TestRecord t;
    t.program = f.str("program");
    t.test = f.str("test");
    const std::string result = f.str("result");
    const auto st = test_status_from(result);
    if (!st) throw SchemaError{"field \"" + f.path("result") + "\": unknown test result '" + result + "'"};
    t.status = *st;
    t.observed = f.bool_or("observed", false);
    t.reason = f.str_or("reason", "");
    t.messages = f.strings_or("messages");
    t.observations = f.strings_or("observations");
    t.ids = f.strings_or("ids");
    return t;
}

} // namespace

std::string to_json(const Report& r) {
    ojson j;
    j["schema"] = schema_name;
    j["schema_version"] = schema_version;
    j["kernel_release"] = r.meta.kernel_release;
    j["date"] = r.meta.date;
    j["corpus_version"] = r.meta.corpus_version;
    j["probe"] = nullptr;
    if (!r.meta.probe_json.empty())
        if (auto p = detail::parse_json<ojson>(r.meta.probe_json)) j["probe"] = std::move(*p);
    j["probe_note"] = r.meta.probe_note;
    j["input_problems"] = r.meta.input_problems;
    j["ran_on"] = r.meta.ran_on;
    j["in_vm"] = r.meta.in_vm;
    j["failed"] = r.failed();
    // The verdict as the terminal and report.md state it (TOOLS-06): "failed",
    // "not_tested" (with the reason and what to run instead) or "passed".
    const std::string why = r.not_tested_reason();
    j["verdict"] = {{"status", r.failed() ? "failed" : !why.empty() ? "not_tested" : "passed"},
                    {"not_tested_reason", why}};
    ojson counts = ojson::array();
    for (const auto& c : r.counts())
        counts.push_back({{"section", c.prefix}, {"title", c.title},   {"ids", c.ids},
                          {"PASS", c.pass},      {"FAIL", c.fail},     {"XFAIL", c.xfail},
                          {"SKIP", c.skip},      {"observe", c.observe}, {"NOT COVERED", c.not_covered}});
    j["counts"] = counts;
    ojson sections = ojson::array();
    for (const auto& s : r.sections) sections.push_back({{"prefix", s.prefix}, {"title", s.title}});
    j["sections"] = sections;
    ojson rows = ojson::array();
    for (const auto& row : r.rows) {
        ojson tests = ojson::array();
        for (const auto& t : row.tests) tests.push_back(test_json(t));
        rows.push_back({{"id", row.id},
                        {"section", row.section},
                        {"behaviour", row.behaviour},
                        {"status", to_string(row.status)},
                        {"detail", row.detail},
                        {"tests", tests}});
    }
    j["behaviours"] = rows;
    ojson progs = ojson::array();
    for (const auto& p : r.programs)
        progs.push_back({{"name", p.name},
                         {"ctest", to_string(p.ctest)},
                         {"ctest_detail", p.ctest_detail},
                         {"ktap", p.ktap},
                         {"results", p.results},
                         {"problems", p.problems},
                         {"notes", p.notes}});
    j["programs"] = progs;
    ojson unknown = ojson::array();
    for (const auto& u : r.unknown_ids)
        unknown.push_back({{"id", u.id}, {"program", u.program}, {"test", u.test}});
    j["unknown_ids"] = unknown;
    ojson un = ojson::array();
    for (const auto& t : r.unattributed) un.push_back(test_json(t));
    j["unattributed_failures"] = un;
    j["tests_without_ids"] = r.tests_without_ids;
    j["stray_ktap"] = r.stray_ktap;
    return detail::dump(j, 2) + "\n";
}

Expected<Report> report_from_json(std::string_view text) {
    auto parsed = detail::parse_json(text);
    if (!parsed) return std::unexpected(parsed.error());
    const json& j = *parsed;
    if (!j.is_object() || !j.contains("schema") || j["schema"] != schema_name)
        return std::unexpected(
            Problem{"not a conformance report (\"schema\" is not \"" + std::string(schema_name) + "\")"});
    if (!j.contains("schema_version") || !j["schema_version"].is_number_integer())
        return std::unexpected(Problem{"no integer \"schema_version\""});
    if (j["schema_version"].get<long long>() != schema_version)
        return std::unexpected(Problem{"schema_version " + detail::dump(j["schema_version"]) +
                                       ", this tool reads " + std::to_string(schema_version)});
    try {
        const Fields f(j, "");
        Report r;
        r.meta.kernel_release = f.str_or("kernel_release", "");
        r.meta.date = f.str_or("date", "");
        r.meta.corpus_version = f.str_or("corpus_version", "");
        if (const json* p = f.find("probe"); p && !p->is_null()) {
            if (!p->is_object()) Fields::fail(*p, "probe", "an object or null");
            r.meta.probe_json = detail::dump(*p);
        }
        r.meta.probe_note = f.str_or("probe_note", "");
        r.meta.input_problems = f.strings_or("input_problems");
        r.meta.ran_on = f.str_or("ran_on", "");
        r.meta.in_vm = f.bool_or("in_vm", false);
        const json& sections = f.array("sections");
        for (std::size_t i = 0; i < sections.size(); ++i) {
            const Fields s(sections[i], item("sections", i));
            r.sections.push_back({s.str("prefix"), s.str("title")});
        }
        std::set<std::string> ids;
        const json& rows = f.array("behaviours");
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const Fields row(rows[i], item("behaviours", i));
            Row x;
            x.id = row.str("id");
            if (!ids.insert(x.id).second)
                throw SchemaError{"field \"" + row.path("id") + "\": duplicate row " + x.id};
            x.section = row.str("section");
            x.behaviour = row.str_or("behaviour", "");
            const std::string status = row.str("status");
            const auto st = status_from(status);
            if (!st)
                throw SchemaError{"field \"" + row.path("status") + "\": unknown status '" + status + "' (row " +
                                  x.id + ")"};
            x.status = *st;
            x.detail = row.str_or("detail", "");
            const json& tests = row.array("tests");
            for (std::size_t k = 0; k < tests.size(); ++k) x.tests.push_back(test_from(tests[k], item(row.path("tests"), k)));
            r.rows.push_back(std::move(x));
        }
        const json& progs = f.array_or_empty("programs");
        for (std::size_t i = 0; i < progs.size(); ++i) {
            const Fields p(progs[i], item("programs", i));
            ProgramRecord x;
            x.name = p.str("name");
            const std::string c = p.str_or("ctest", "unknown");
            for (CtestStatus s : {CtestStatus::unknown, CtestStatus::passed, CtestStatus::failed,
                                  CtestStatus::skipped, CtestStatus::not_run})
                if (to_string(s) == c) x.ctest = s;
            x.ctest_detail = p.str_or("ctest_detail", "");
            x.ktap = p.str_or("ktap", "");
            x.results = p.count_or("results", 0);
            x.problems = p.strings_or("problems");
            x.notes = p.strings_or("notes");
            r.programs.push_back(std::move(x));
        }
        const json& unknown = f.array_or_empty("unknown_ids");
        for (std::size_t i = 0; i < unknown.size(); ++i) {
            const Fields u(unknown[i], item("unknown_ids", i));
            r.unknown_ids.push_back({u.str("id"), u.str("program"), u.str("test")});
        }
        const json& un = f.array_or_empty("unattributed_failures");
        for (std::size_t i = 0; i < un.size(); ++i)
            r.unattributed.push_back(test_from(un[i], item("unattributed_failures", i)));
        r.tests_without_ids = f.count_or("tests_without_ids", 0);
        r.stray_ktap = f.strings_or("stray_ktap");
        return r;
    } catch (const SchemaError& e) {
        return std::unexpected(Problem{"does not match the report schema: " + e.message});
    }
}

} // namespace gmem::report
