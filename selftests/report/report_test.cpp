// The conformance report's own checks (no KVM): the report code runs on
// recorded corpus output (data/run: KTAP of programs that pass, observe, fail,
// skip, XFAIL, XPASS, time out, crash, die mid-run, print nothing, or never
// start; CTest's JUnit; the probe) and every row is asserted exactly; the
// comparison runs on hand-made reports with known regressions; gmem-report is
// run for its exit codes and its messages on bad input.
#include "gmem/report/compare.hpp"
#include "gmem/report/inputs.hpp"
#include "gmem/report/report.hpp"
#include "gmem/report/spec.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/tempdir.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using gmem::util::has_line;
using gmem::util::TempDir;

namespace fs = std::filesystem;
namespace rep = gmem::report;

namespace {

const std::string data = DATA_DIR;
const std::string run_dir = data + "/run";
const std::string junit = data + "/run/junit.xml";
const std::string spec_md = data + "/BEHAVIORS.md";
const std::string cmp = data + "/compare";

std::string slurp(const std::string& path) {
    auto t = rep::read_file(path);
    if (!t) throw std::runtime_error(t.error().message);
    return *t;
}

rep::Spec spec_or_throw(const std::string& path) {
    auto s = rep::load_spec(path);
    if (!s) throw std::runtime_error(s.error().message);
    return *s;
}

rep::Meta fixed_meta() {
    rep::Meta m;
    m.date = "2026-01-01T00:00:00Z";
    m.corpus_version = "test-1";
    m.probe_json = slurp(data + "/probe.json");
    return m;
}

rep::Report recorded_report() {
    auto inputs = rep::read_results(run_dir, junit);
    if (!inputs) throw std::runtime_error(inputs.error().message);
    return rep::build_report(spec_or_throw(spec_md), *inputs, fixed_meta());
}

const rep::Row* row_of(const rep::Report& r, const std::string& id) {
    for (const auto& row : r.rows)
        if (row.id == id) return &row;
    return nullptr;
}

const rep::TestRecord* test_of(const rep::Report& r, const std::string& program,
                               const std::string& test) {
    for (const auto& row : r.rows)
        for (const auto& t : row.tests)
            if (t.program == program && t.test == test) return &t;
    for (const auto& t : r.unattributed)
        if (t.program == program && t.test == test) return &t;
    return nullptr;
}

// The rows the recorded run must give, one per ID of data/BEHAVIORS.md.
struct ExpectedRow {
    const char* id;
    const char* status;
    const char* detail;
};
const ExpectedRow expected_rows[] = {
    {"CAP-01", "PASS", "2 passed; observed: api version 12"},
    {"CAP-02", "observe", "observed: flags 0x3"},
    {"CAP-03", "FAIL",
     "report_demo_alpha: global.expect_fails: report_demo_alpha.cpp:18:Expected answer (41) == 42 (42)"},
    {"CAP-04", "FAIL",
     "report_demo_alpha: global.expect_fails: report_demo_alpha.cpp:18:Expected answer (41) == 42 (42)"},
    {"CAP-05", "SKIP", "no /dev/kvm; KVM_X86_SW_PROTECTED_VM (1) not offered"},
    {"CAP-06", "PASS", "1 passed, 1 skipped (no /dev/kvm)"},
    {"CAP-07", "XFAIL",
     "report_demo_alpha: global.known_bug: known failure (XFAIL): kernel bug 123"},
    {"CAP-08", "FAIL",
     "report_demo_alpha: global.fixed_bug: passed but was expected to fail (XPASS): kernel bug 456"},
    {"CREATE-01", "FAIL", "report_demo_alpha: global.hangs: TIMEOUT after 1 seconds"},
    {"CREATE-02", "FAIL",
     "report_demo_alpha: global.crashes: Test terminated unexpectedly by SIGSEGV (Segmentation fault)"},
    {"CREATE-03", "FAIL",
     "report_demo_alpha: global.typo_id: unknown behaviour ID(s) NOPE-99 (not in spec/BEHAVIORS.md)"},
    {"CREATE-04", "NOT COVERED", "no test names this ID"},
    {"CREATE-05", "FAIL",
     "report_demo_alpha: global.errno_wrong: report_demo_alpha.cpp:48:Expected ::close(-1) to fail "
     "with EINVAL (Invalid argument), got EBADF (Bad file descriptor)"},
    {"MMAP-01", "SKIP", "no /dev/kvm"},
    {"MMAP-02", "NOT COVERED", "no test names this ID"},
    {"MMAP-03", "PASS", "1 passed"},
    {"MMAP-04", "FAIL",
     "report_demo_beta: global.kills_runner: the program ended while this test ran (no result line)"},
    {"MMAP-05", "FAIL",
     "report_demo_beta: global.never_runs: did not run: its program ended before it (the KTAP output "
     "ends early)"},
    {"MMAP-06", "FAIL",
     "report_demo_gamma: gmem.a: did not run: its program printed nothing (+1 more failing)"},
    {"MMAP-07", "FAIL", "report_demo_gamma: gmem.b: did not run: its program printed nothing"},
    {"MMAP-08", "NOT COVERED", "no test names this ID"},
    {"MMAP-09", "SKIP", "needs two NUMA nodes, this machine has 1"},
    {"FALLOC-01", "NOT COVERED", "no test names this ID"},
    {"FALLOC-02", "NOT COVERED", "no test names this ID"},
    {"FALLOC-03", "NOT COVERED", "no test names this ID"},
    {"FALLOC-04", "NOT COVERED", "no test names this ID"},
};

void expect_recorded_rows(const rep::Report& r) {
    ASSERT_EQ(r.rows.size(), std::size(expected_rows));
    for (size_t i = 0; i < r.rows.size(); ++i) {
        HARNESS_TRACE("row %zu (%s)", i, expected_rows[i].id);
        EXPECT_STREQ(r.rows[i].id, expected_rows[i].id);
        EXPECT_STREQ(std::string(rep::to_string(r.rows[i].status)), expected_rows[i].status);
        EXPECT_STREQ(r.rows[i].detail, expected_rows[i].detail);
    }
}

gmem::util::ProcessResult tool(std::vector<std::string> args) {
    args.insert(args.begin(), GMEM_REPORT);
    return gmem::util::run_capture(args);
}

} // namespace

// ---------------------------------------------------------------- spec --
TEST(spec_real_matches_harness, "") {
    const rep::Spec s = spec_or_throw(SPEC_PATH);
    // The same rows lib/CMakeLists.txt compiles into the harness (counted by
    // this directory's CMakeLists with the same regular expression).
    EXPECT_EQ(s.behaviours.size(), static_cast<size_t>(SPEC_ID_COUNT));
    for (const auto& b : s.behaviours) {
        HARNESS_TRACE("ID %s", b.id.c_str());
        EXPECT_TRUE(harness::known_behaviour_id(b.id));
        EXPECT_STREQ(b.id.substr(0, b.id.find('-')), b.section);
    }
    ASSERT_GE(s.sections.size(), 1u);
    EXPECT_STREQ(s.sections.front().prefix, "CAP");
    EXPECT_STREQ(s.sections.front().title, "capability probing");
    EXPECT_STREQ(s.behaviours.front().id, "CAP-01");
}

TEST(spec_bad_input, "") {
    auto none = rep::parse_spec("# title\nno rows here\n");
    ASSERT_FALSE(none.has_value());
    EXPECT_STREQ(none.error().message, "no behaviour rows (\"| ID | behaviour |\") found");
    auto dup = rep::parse_spec("## CAP: x\n| CAP-01 | a |\n| CAP-01 | b |\n");
    ASSERT_FALSE(dup.has_value());
    EXPECT_STREQ(dup.error().message, "line 3: duplicate ID CAP-01");
    auto orphan = rep::parse_spec("| CAP-01 | a |\n## CAP: x\n");
    ASSERT_FALSE(orphan.has_value());
    EXPECT_STREQ(orphan.error().message, "line 1: CAP-01 comes before any section");
    auto missing = rep::load_spec("/nonexistent/BEHAVIORS.md");
    ASSERT_FALSE(missing.has_value());
    EXPECT_STREQ(missing.error().message,
                 "/nonexistent/BEHAVIORS.md: cannot open: No such file or directory");
    // A row keeps pipes inside its text.
    auto ok = rep::parse_spec("## MMAP: m\n| ID | behaviour |\n|---|---|\n| MMAP-03 | MMAP\\|INIT | \n");
    ASSERT_TRUE(ok.has_value());
    ASSERT_EQ(ok->behaviours.size(), 1u);
    EXPECT_STREQ(ok->behaviours[0].text, "MMAP\\|INIT");
}

// -------------------------------------------------------------- inputs --
TEST(junit_statuses, "") {
    auto cases = rep::parse_junit(slurp(junit));
    ASSERT_TRUE(cases.has_value());
    ASSERT_EQ(cases->size(), 5u);
    const struct {
        const char* name;
        rep::CtestStatus status;
        const char* detail;
    } want[] = {
        {"report_demo_alpha", rep::CtestStatus::failed, ""},
        {"report_demo_beta", rep::CtestStatus::failed, ""},
        {"report_demo_epsilon", rep::CtestStatus::skipped, "SKIP_RETURN_CODE=4"},
        {"report_demo_gamma", rep::CtestStatus::failed, ""},
        {"report_demo_delta", rep::CtestStatus::not_run, "Unable to find executable"},
    };
    for (size_t i = 0; i < cases->size(); ++i) {
        HARNESS_TRACE("testcase %zu", i);
        EXPECT_STREQ((*cases)[i].name, want[i].name);
        EXPECT_EQ((*cases)[i].status, want[i].status);
        EXPECT_STREQ((*cases)[i].detail, want[i].detail);
    }
    EXPECT_FALSE(rep::parse_junit("KTAP version 1\n").has_value());
    EXPECT_FALSE(rep::parse_junit("<testsuite><testcase name=\"x\" status=\"run\">").has_value());
    auto bad_list = rep::parse_listing("fx.test\tCAP-01\nnot a test line\n");
    ASSERT_FALSE(bad_list.has_value());
    EXPECT_STREQ(bad_list.error().message,
                 "line 2: expected \"name<TAB>IDs\", got 'not a test line'");
}

// ---------------------------------------------------------------- rows --
TEST(recorded_rows_exact, "") { expect_recorded_rows(recorded_report()); }

TEST(recorded_test_results, "") {
    const rep::Report r = recorded_report();
    const struct {
        const char* program;
        const char* test;
        rep::TestStatus status;
        const char* reason;
    } want[] = {
        {"report_demo_alpha", "global.passes", rep::TestStatus::pass, ""},
        {"report_demo_alpha", "global.skips_b", rep::TestStatus::skip,
         "KVM_X86_SW_PROTECTED_VM (1) not offered"},
        {"report_demo_alpha", "global.known_bug", rep::TestStatus::xfail, "kernel bug 123"},
        {"report_demo_alpha", "global.fixed_bug", rep::TestStatus::xpass, "kernel bug 456"},
        {"report_demo_alpha", "global.hangs", rep::TestStatus::timeout, "1 seconds"},
        {"report_demo_alpha", "global.crashes", rep::TestStatus::crash, ""},
        {"report_demo_alpha", "global.typo_id", rep::TestStatus::fail, ""},
        {"report_demo_alpha", "global.no_ids_fails", rep::TestStatus::fail, ""},
        {"report_demo_beta", "global.kills_runner", rep::TestStatus::crash,
         "the program ended while this test ran (no result line)"},
        {"report_demo_beta", "global.never_runs", rep::TestStatus::not_run,
         "its program ended before it (the KTAP output ends early)"},
        {"report_demo_gamma", "gmem.b", rep::TestStatus::not_run, "its program printed nothing"},
        {"report_demo_epsilon", "global.needs_mmap", rep::TestStatus::skip, "no /dev/kvm"},
    };
    for (const auto& w : want) {
        HARNESS_TRACE("%s: %s", w.program, w.test);
        const rep::TestRecord* t = test_of(r, w.program, w.test);
        ASSERT_TRUE(t != nullptr);
        EXPECT_STREQ(std::string(rep::to_string(t->status)), std::string(rep::to_string(w.status)));
        EXPECT_STREQ(t->reason, w.reason);
    }
    const rep::TestRecord* obs = test_of(r, "report_demo_alpha", "global.passes_and_observes");
    ASSERT_TRUE(obs != nullptr);
    EXPECT_TRUE(obs->observed);
    ASSERT_EQ(obs->observations.size(), 1u);
    EXPECT_STREQ(obs->observations[0], "api version 12");
    // The XFAIL's own failure line is kept, the harness markers are not.
    const rep::TestRecord* xf = test_of(r, "report_demo_alpha", "global.known_bug");
    ASSERT_TRUE(xf != nullptr);
    ASSERT_EQ(xf->messages.size(), 1u);
    EXPECT_STREQ(xf->messages[0], "report_demo_alpha.cpp:31:Expected 0 (0) == 1 (1)");
}

TEST(recorded_programs_and_problems, "") {
    const rep::Report r = recorded_report();
    ASSERT_EQ(r.programs.size(), 5u);
    const struct {
        const char* name;
        const char* ktap;
        unsigned results;
        std::vector<std::string> problems;
    } want[] = {
        {"report_demo_alpha", "complete", 18, {}},
        {"report_demo_beta", "incomplete", 1,
         {"KTAP output incomplete (crash or CTest timeout?): plan says 3 tests, 1 results found"}},
        {"report_demo_delta", "missing", 0,
         {"no KTAP output: the program did not start, or died before printing (CTest: Unable to "
          "find executable)",
          "no test list (report_demo_delta.list) either: the behaviour IDs it covers are unknown"}},
        {"report_demo_epsilon", "complete", 2, {}},
        {"report_demo_gamma", "empty", 0, {"printed nothing (empty KTAP file)"}},
    };
    for (size_t i = 0; i < r.programs.size(); ++i) {
        HARNESS_TRACE("program %s", want[i].name);
        EXPECT_STREQ(r.programs[i].name, want[i].name);
        EXPECT_STREQ(r.programs[i].ktap, want[i].ktap);
        EXPECT_EQ(r.programs[i].results, want[i].results);
        EXPECT_TRUE(r.programs[i].problems == want[i].problems);
    }
    ASSERT_EQ(r.unknown_ids.size(), 1u);
    EXPECT_STREQ(r.unknown_ids[0].id, "NOPE-99");
    EXPECT_STREQ(r.unknown_ids[0].test, "global.typo_id");
    ASSERT_EQ(r.unattributed.size(), 1u);
    EXPECT_STREQ(r.unattributed[0].test, "global.no_ids_fails");
    EXPECT_EQ(r.tests_without_ids, 2u);
    EXPECT_EQ(r.failed_rows(), 11u);
    EXPECT_EQ(r.program_problems(), 4u);
    EXPECT_TRUE(r.failed());
    EXPECT_STREQ(r.meta.kernel_release, "6.18.44-fc-v657"); // from the probe
    // A KTAP file of a program CTest did not run (a checker's child that
    // inherited GMEM_KTAP_DIR) is ignored: its FALLOC-01 failure is no row.
    ASSERT_EQ(r.stray_ktap.size(), 1u);
    EXPECT_STREQ(r.stray_ktap[0], "report_demo_child");
    EXPECT_STREQ(std::string(rep::to_string(row_of(r, "FALLOC-01")->status)), "NOT COVERED");
}

// A program whose KTAP is complete and clean but whose process CTest saw fail
// (a sanitizer report or crash at exit) is a problem of its own; a clean run
// is not failed.
TEST(ctest_failure_without_failing_test, "") {
    const rep::Spec s = spec_or_throw(spec_md);
    const std::string ktap = "KTAP version 1\n1..1\n#  RUN           g.t ...\n# ids: CAP-01\n"
                             "#            OK  g.t\nok 1 g.t\n";
    rep::ProgramInput clean{"p", {"p", rep::CtestStatus::passed, ""}, ktap, std::nullopt};
    const rep::Report ok = rep::build_report(s, {clean}, {});
    EXPECT_FALSE(ok.failed());
    EXPECT_STREQ(std::string(rep::to_string(row_of(ok, "CAP-01")->status)), "PASS");

    rep::ProgramInput leaky = clean;
    leaky.ctest.status = rep::CtestStatus::failed;
    const rep::Report bad = rep::build_report(s, {leaky}, {});
    EXPECT_TRUE(bad.failed());
    ASSERT_EQ(bad.programs.size(), 1u);
    ASSERT_EQ(bad.programs[0].problems.size(), 1u);
    EXPECT_STREQ(bad.programs[0].problems[0],
                 "CTest reports a failure (exit code, signal or timeout) although every KTAP result "
                 "is ok (a crash or sanitizer report at exit? see ctest.log)");
}

// ------------------------------------------------------------- formats --
TEST(json_round_trip, "") {
    const rep::Report r = recorded_report();
    const std::string j = rep::to_json(r);
    auto back = rep::report_from_json(j);
    ASSERT_TRUE(back.has_value());
    EXPECT_STREQ(rep::to_json(*back), j);
    expect_recorded_rows(*back);
    EXPECT_STREQ(rep::to_terminal(*back), rep::to_terminal(r));
}

TEST(json_bad_input, "") {
    const struct {
        std::string text;
        const char* message;
    } cases[] = {
        {"{not json", "not JSON"},
        {"[1,2]", "not a conformance report (\"schema\" is not \"gmem-conformance-report\")"},
        {R"({"schema":"gmem-conformance-report"})", "no integer \"schema_version\""},
        {R"({"schema":"gmem-conformance-report","schema_version":2})",
         "schema_version 2, this tool reads 1"},
        {R"({"schema":"gmem-conformance-report","schema_version":1,"behaviours":[]})",
         "does not match the report schema: "},
        {R"({"schema":"gmem-conformance-report","schema_version":1,"sections":[],
             "behaviours":[{"id":"CAP-01","section":"CAP","status":"GREAT","tests":[]}]})",
         "does not match the report schema: row CAP-01: unknown status 'GREAT'"},
    };
    for (const auto& c : cases) {
        HARNESS_TRACE("input %s", c.text.c_str());
        auto r = rep::report_from_json(c.text);
        ASSERT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().message.starts_with(c.message));
        if (!r.error().message.starts_with(c.message)) TH_LOG("got: %s", r.error().message.c_str());
    }
}

TEST(terminal_short_form, "") {
    const std::string t = rep::to_terminal(recorded_report());
    for (const char* line : {
             "guest_memfd conformance: kernel 6.18.44-fc-v657, corpus test-1, 2026-01-01T00:00:00Z",
             "section    IDs  PASS  FAIL XFAIL  SKIP  observe  NOT COVERED",
             "CAP          8     2     3     1     1        1            0",
             "total       26     3    11     1     3        1            7",
             "FAIL (11):",
             "  CREATE-01  report_demo_alpha: global.hangs: TIMEOUT after 1 seconds",
             "  report_demo_gamma: printed nothing (empty KTAP file)",
             "  NOPE-99    report_demo_alpha: global.typo_id",
             "SKIP reasons (3):",
             "  no /dev/kvm",
             "      CAP-05 CAP-06 MMAP-01",
             "NOT COVERED (7): CREATE-04 MMAP-02 MMAP-08 FALLOC-01 FALLOC-02 FALLOC-03 FALLOC-04",
             "Ignored KTAP of programs CTest did not run (children that inherited GMEM_KTAP_DIR?): "
             "report_demo_child",
             "FAILED: 11 behaviour(s) FAIL, 4 program problem(s), 1 unknown ID(s), 1 failing test(s) "
             "naming no ID",
         }) {
        HARNESS_TRACE("line '%s'", line);
        EXPECT_TRUE(has_line(t, line));
    }
    // FAIL lines come in spec order, before the SKIP reasons.
    EXPECT_LT(t.find("  CAP-03 "), t.find("  CAP-04 "));
    EXPECT_LT(t.find("  MMAP-07 "), t.find("SKIP reasons"));
}

TEST(markdown_rows, "") {
    const std::string md = rep::to_markdown(recorded_report());
    for (const char* line : {
             "| kernel | 6.18.44-fc-v657 |",
             "| corpus version | test-1 |",
             "| KVM_CAP_GUEST_MEMFD_FLAGS | 0x3 | 0x3 |",
             "| KVM_X86_DEFAULT_VM (0) | yes | yes | no: KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd "
             "answers ENOTTY |",
             "| NUMA nodes | 1 |",
             "| **total** | 26 | 3 | 11 | 1 | 3 | 1 | 7 |",
             "| MMAP-02 | NOT COVERED | MAP_PRIVATE fails (copy-on-write is not allowed). | no test "
             "names this ID |  |",
             "| MMAP-09 | SKIP | mbind / get_mempolicy on the mapping (MPOL_INTERLEAVE, MPOL_BIND, "
             "MPOL_DEFAULT, bad policy … | needs two NUMA nodes, this machine has 1 | "
             "report_demo_epsilon: global.needs_numa — SKIP: needs two NUMA nodes, this machine has 1 |",
             "- unknown behaviour ID `NOPE-99` declared by `report_demo_alpha: global.typo_id` (not in "
             "spec/BEHAVIORS.md)",
         }) {
        HARNESS_TRACE("line '%s'", line);
        EXPECT_TRUE(has_line(md, line));
    }
}

// ------------------------------------------------------------- compare --
TEST(compare_order_and_kinds, "") {
    auto before = rep::report_from_json(slurp(cmp + "/old.json"));
    auto after = rep::report_from_json(slurp(cmp + "/new.json"));
    ASSERT_TRUE(before.has_value());
    ASSERT_TRUE(after.has_value());
    const rep::Comparison c = rep::compare(*before, *after);
    const struct {
        const char* id;
        rep::ChangeKind kind;
    } want[] = {
        {"CAP-04", rep::ChangeKind::pass_to_fail},     {"CAP-05", rep::ChangeKind::new_failure},
        {"CAP-01", rep::ChangeKind::lost_pass},        {"CAP-02", rep::ChangeKind::other_regression},
        {"CAP-03", rep::ChangeKind::improvement},      {"CAP-06", rep::ChangeKind::detail_changed},
        {"CAP-08", rep::ChangeKind::added},            {"CREATE-01", rep::ChangeKind::removed},
    };
    ASSERT_EQ(c.changes.size(), std::size(want));
    for (size_t i = 0; i < c.changes.size(); ++i) {
        HARNESS_TRACE("change %zu (%s)", i, want[i].id);
        EXPECT_STREQ(c.changes[i].id, want[i].id);
        EXPECT_STREQ(std::string(rep::to_string(c.changes[i].kind)),
                     std::string(rep::to_string(want[i].kind)));
    }
    EXPECT_EQ(c.unchanged, 1u);
    EXPECT_TRUE(c.pass_to_fail());
    EXPECT_TRUE(c.any_regression());
    const rep::Comparison same = rep::compare(*before, *before);
    EXPECT_EQ(same.changes.size(), 0u);
    EXPECT_EQ(same.unchanged, 8u);
    EXPECT_FALSE(same.any_regression());
}

TEST(tool_compare_exit_codes, "") {
    const auto reg = tool({"compare", cmp + "/old.json", cmp + "/new.json"});
    EXPECT_EQ(reg.exit_code, 1);
    const size_t p2f = reg.out.find("  CAP-04     PASS -> FAIL            p: t: x.cpp:9:Expected");
    const size_t s2f = reg.out.find("  CAP-05     SKIP -> FAIL ");
    const size_t lost = reg.out.find("  CAP-01     PASS -> SKIP ");
    const size_t impr = reg.out.find("Improvements (1):");
    EXPECT_NE(p2f, std::string::npos);
    EXPECT_LT(p2f, s2f);
    EXPECT_LT(s2f, lost);
    EXPECT_LT(lost, impr);
    EXPECT_TRUE(has_line(reg.out, "1 ID(s) went from PASS to FAIL."));

    EXPECT_EQ(tool({"compare", cmp + "/old.json", cmp + "/old.json"}).exit_code, 0);
    // PASS -> SKIP alone: listed, exit 0; --strict makes any regression exit 1.
    const auto lost_only = tool({"compare", cmp + "/old.json", cmp + "/lost_pass.json"});
    EXPECT_EQ(lost_only.exit_code, 0);
    EXPECT_TRUE(has_line(lost_only.out, "Regressions (1):"));
    EXPECT_EQ(tool({"compare", "--strict", cmp + "/old.json", cmp + "/lost_pass.json"}).exit_code, 1);
}

TEST(tool_bad_input, "") {
    const struct {
        std::vector<std::string> args;
        std::string message;
    } cases[] = {
        {{"compare", cmp + "/old.json", "/nonexistent/new.json"},
         "gmem-report: /nonexistent/new.json: cannot open: No such file or directory\n"},
        {{"compare", cmp + "/old.json", cmp + "/truncated.json"},
         ("gmem-report: " + cmp + "/truncated.json: not JSON\n")},
        {{"compare", cmp + "/old.json", cmp + "/wrong_version.json"},
         ("gmem-report: " + cmp + "/wrong_version.json: schema_version 2, this tool reads 1\n")},
        {{"compare", cmp + "/old.json"}, "gmem-report: compare needs OLD.json NEW.json\n"},
        {{"build"}, "gmem-report: build needs --ktap-dir DIR\n"},
        {{"build", "--ktap-dir", "/nonexistent"}, "gmem-report: /nonexistent: not a directory\n"},
        {{"build", "--ktap-dir", run_dir, "--spec", spec_md, "--probe", junit},
         ("gmem-report: " + junit + ": not a JSON object (expected gmem-probe --json output)\n")},
        {{"build", "--ktap-dir"}, "gmem-report: option --ktap-dir needs a value\n"},
        {{"show", cmp + "/old.json", "--colour"}, "gmem-report: unknown option --colour\n"},
        {{"list", "--ctest-json", junit, "--out", "/tmp"},
         ("gmem-report: " + junit + ": not CTest's --show-only=json-v1 output (no \"tests\" array)\n")},
    };
    for (const auto& c : cases) {
        HARNESS_TRACE("gmem-report %s", c.args.front().c_str());
        const auto r = tool(c.args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.term_signal, 0);
        EXPECT_STREQ(r.err, c.message);
    }
    const auto unknown = tool({"frobnicate"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_TRUE(unknown.err.starts_with("gmem-report: unknown command 'frobnicate'\nUsage:"));
    EXPECT_EQ(tool({"--help"}).exit_code, 0);
}

TEST(tool_build_writes_reports, "") {
    const TempDir out;
    const auto r = tool({"build", "--ktap-dir", run_dir, "--junit", junit, "--spec", spec_md,
                         "--probe", data + "/probe.json", "--corpus-version", "test-1", "--date",
                         "2026-01-01T00:00:00Z", "--json", out.path + "/report.json", "--markdown",
                         out.path + "/report.md"});
    EXPECT_EQ(r.exit_code, 1); // the recorded run has failures
    EXPECT_STREQ(r.out, rep::to_terminal(recorded_report()));
    auto back = rep::report_from_json(slurp(out.path + "/report.json"));
    ASSERT_TRUE(back.has_value());
    expect_recorded_rows(*back);
    EXPECT_STREQ(slurp(out.path + "/report.md"), rep::to_markdown(recorded_report()));
    // show replays the short form and the verdict of a saved report.
    const auto shown = tool({"show", out.path + "/report.json"});
    EXPECT_EQ(shown.exit_code, 1);
    EXPECT_STREQ(shown.out, r.out);
}

// Today's harness must still print what the recording holds: run the demo
// programs again and expect the same rows (guards the parser against a
// change of the harness's output).
TEST_TIMEOUT(live_harness_matches_recording, 20, "") {
    const TempDir dir;
    const std::string asan = "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0";
    for (const char* demo : {DEMO_ALPHA, DEMO_BETA, DEMO_EPSILON}) {
        const auto r = gmem::util::run_capture({demo}, {"GMEM_KTAP_DIR=" + dir.path, asan});
        EXPECT_TRUE(r.exit_code != 0 || r.term_signal != 0); // each one fails, dies or skips
    }
    for (const char* f : {"report_demo_alpha.list", "report_demo_beta.list", "report_demo_epsilon.list",
                          "report_demo_gamma.list", "report_demo_gamma.ktap"})
        fs::copy_file(run_dir + "/" + f, dir.path + "/" + f);
    auto inputs = rep::read_results(dir.path, junit);
    ASSERT_TRUE(inputs.has_value());
    expect_recorded_rows(rep::build_report(spec_or_throw(spec_md), *inputs, fixed_meta()));
}

// `gmem-report list` runs every program of CTest's JSON with -l.
TEST(tool_list_writes_listings, "") {
    const TempDir dir;
    const std::string ctest_json = dir.path + "/ctest.json";
    {
        std::ofstream out(ctest_json);
        out << R"({"kind":"ctestInfo","tests":[)"
            << R"({"name":"report_demo_alpha","command":[")" << DEMO_ALPHA << R"("]},)"
            << R"({"name":"report_demo_beta","command":[")" << DEMO_BETA << R"("]},)"
            << R"({"name":"report_demo_delta","command":["/nonexistent/report_demo_delta"]},)"
            << R"({"name":"../escape","command":["/bin/true"]}]})";
    }
    const auto r = tool({"list", "--ctest-json", ctest_json, "--out", dir.path, "--timeout", "5"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_STREQ(slurp(dir.path + "/report_demo_alpha.list"), slurp(run_dir + "/report_demo_alpha.list"));
    EXPECT_STREQ(slurp(dir.path + "/report_demo_beta.list"), slurp(run_dir + "/report_demo_beta.list"));
    EXPECT_FALSE(fs::exists(dir.path + "/report_demo_delta.list"));
    EXPECT_TRUE(r.err.starts_with("gmem-report: cannot list report_demo_delta: "
                                  "'/nonexistent/report_demo_delta -l' failed (exit code "));
    EXPECT_EQ(tool({"list", "--ctest-json", ctest_json, "--out", dir.path, "--timeout", "0"}).exit_code, 2);
}

TEST_HARNESS_MAIN
