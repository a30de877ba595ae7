// The conformance report's own checks (no KVM): the report code runs on
// recorded corpus output (data/run: KTAP of programs that pass, observe, fail,
// skip, XFAIL, XPASS, time out, crash, die mid-run, print nothing, or never
// start; CTest's JUnit; the probe) and every row is asserted exactly; the
// comparison runs on hand-made reports with known regressions; the brief
// comparison and the many-kernel matrix run on real reports cut down
// (data/matrix); gmem-report is run for its exit codes and its messages on
// bad input.
#include "gmem/report/compare.hpp"
#include "gmem/report/inputs.hpp"
#include "gmem/report/matrix.hpp"
#include "gmem/report/report.hpp"
#include "gmem/report/spec.hpp"
#include "gmem/util/locate.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/tempdir.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using gmem::util::has_line;
using gmem::util::TempDir;

namespace fs = std::filesystem;
namespace rep = gmem::report;

namespace {

// Helper files beside this program in an installed tree (gmem/util/locate.hpp:
// data/ and the demos next to it, the spec and gmem-report one level up), else
// their build-tree and source-tree paths.
const std::string data = gmem::util::helper_path("data", DATA_DIR);
const std::string spec_path = gmem::util::helper_path("../spec/BEHAVIORS.md", SPEC_PATH);
const std::string gmem_report = gmem::util::helper_path("../bin/gmem-report", GMEM_REPORT);
const std::string demo_alpha = gmem::util::helper_path("report_demo_alpha", DEMO_ALPHA);
const std::string demo_beta = gmem::util::helper_path("report_demo_beta", DEMO_BETA);
const std::string demo_epsilon = gmem::util::helper_path("report_demo_epsilon", DEMO_EPSILON);
const std::string run_dir = data + "/run";
const std::string junit = data + "/run/junit.xml";
const std::string spec_md = data + "/BEHAVIORS.md";
const std::string cmp = data + "/compare";
// Real reports (data/matrix/README.md): the development machine's 6.18, the
// lab kernel 7.3.4 and 7.3.4 with the in-place conversion series, cut down
// to a few IDs; the 6.18 one lacks CONV-12 (as a report of an older spec).
const std::string mx = data + "/matrix";
const std::string host_json = mx + "/host-6.18.json";
const std::string lab_json = mx + "/lab-7.3.4.json";
const std::string v8_json = mx + "/v8-inplace.json";

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

rep::Report report_or_throw(const std::string& path) {
    auto r = rep::report_from_json(slurp(path));
    if (!r) throw std::runtime_error(path + ": " + r.error().message);
    return *r;
}

// The three recorded kernels, oldest first, with short names.
rep::Matrix recorded_matrix() {
    std::vector<rep::NamedReport> in;
    in.push_back({"6.18", host_json, report_or_throw(host_json)});
    in.push_back({"lab", lab_json, report_or_throw(lab_json)});
    in.push_back({"v8", v8_json, report_or_throw(v8_json)});
    auto m = rep::build_matrix(in);
    if (!m) throw std::runtime_error(m.error().message);
    return *m;
}

const rep::MatrixRow* matrix_row(const rep::Matrix& m, const std::string& id) {
    for (const auto& r : m.rows)
        if (r.id == id) return &r;
    return nullptr;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

gmem::util::ProcessResult tool(std::vector<std::string> args) {
    args.insert(args.begin(), gmem_report);
    return gmem::util::run_capture(args);
}

} // namespace

// ---------------------------------------------------------------- spec --
TEST(spec_real_matches_harness, "TOOLS-02") {
    const rep::Spec s = spec_or_throw(spec_path);
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

TEST(spec_bad_input, "TOOLS-02") {
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
TEST(junit_statuses, "TOOLS-02") {
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
TEST(recorded_rows_exact, "TOOLS-02") { expect_recorded_rows(recorded_report()); }

TEST(recorded_test_results, "TOOLS-02") {
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

TEST(recorded_programs_and_problems, "TOOLS-02") {
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
TEST(ctest_failure_without_failing_test, "TOOLS-02") {
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
TEST(json_round_trip, "TOOLS-02") {
    const rep::Report r = recorded_report();
    const std::string j = rep::to_json(r);
    auto back = rep::report_from_json(j);
    ASSERT_TRUE(back.has_value());
    EXPECT_STREQ(rep::to_json(*back), j);
    expect_recorded_rows(*back);
    EXPECT_STREQ(rep::to_terminal(*back), rep::to_terminal(r));
}

TEST(json_bad_input, "TOOLS-02") {
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
         "does not match the report schema: field \"behaviours[0].status\": unknown status 'GREAT' (row CAP-01)"},
        {R"({"schema":"gmem-conformance-report","schema_version":1,"sections":[],
             "behaviours":[{"id":"CAP-01","section":"CAP","status":"PASS","tests":[{"program":1}]}]})",
         "does not match the report schema: field \"behaviours[0].tests[0].program\": expected a string, got number"},
    };
    for (const auto& c : cases) {
        HARNESS_TRACE("input %s", c.text.c_str());
        auto r = rep::report_from_json(c.text);
        ASSERT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().message.starts_with(c.message));
        if (!r.error().message.starts_with(c.message)) TH_LOG("got: %s", r.error().message.c_str());
    }
}

TEST(terminal_short_form, "TOOLS-02") {
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

TEST(markdown_rows, "TOOLS-02") {
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
TEST(compare_order_and_kinds, "TOOLS-02") {
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

TEST(tool_compare_exit_codes, "TOOLS-02") {
    // --detail: every change with the row's whole detail (the former output).
    const auto reg = tool({"compare", "--detail", cmp + "/old.json", cmp + "/new.json"});
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
    EXPECT_TRUE(has_line(reg.out, "  CAP-06     SKIP -> SKIP            needs two NUMA nodes, this machine has 1"));

    EXPECT_EQ(tool({"compare", cmp + "/old.json", cmp + "/old.json"}).exit_code, 0);
    EXPECT_EQ(tool({"compare", "--detail", cmp + "/old.json", cmp + "/old.json"}).exit_code, 0);
    // PASS -> SKIP alone: listed, exit 0; --strict makes any regression exit 1.
    const auto lost_only = tool({"compare", cmp + "/old.json", cmp + "/lost_pass.json"});
    EXPECT_EQ(lost_only.exit_code, 0);
    EXPECT_TRUE(has_line(lost_only.out, "Regressions (1):"));
    EXPECT_EQ(tool({"compare", "--strict", cmp + "/old.json", cmp + "/lost_pass.json"}).exit_code, 1);
    EXPECT_EQ(tool({"compare", "--strict", "--detail", cmp + "/old.json", cmp + "/lost_pass.json"}).exit_code, 1);
}

// -------------------------------------------------------- compare, brief --
// The default: one line per ID whose status changed, with the first failing
// test and 100 characters of its message (or the SKIP reason); rows whose
// status stayed are counted, not listed. Real reports: lab 7.3.4 -> 7.3.4 with
// the in-place conversion series.
TEST(compare_brief_one_line_per_change, "TOOLS-02") {
    const auto r = tool({"compare", lab_json, v8_json});
    EXPECT_EQ(r.exit_code, 1); // CONV-09 went PASS -> FAIL
    EXPECT_EQ(r.term_signal, 0);
    const std::string want =
        "before: kernel 7.3.4, corpus e5ffe81-dirty, 2026-11-29T22:28:49Z\n"
        "after:  kernel 7.3.4-g9ac4d90765a6, corpus e5ffe81-dirty, 2026-11-29T22:29:37Z\n"
        "\n"
        "Regressions (2):\n"
        "  CONV-09    PASS -> FAIL  (conversion_test: gmem_conversions.disabled_answers_enotty: "
        "conversion_test.cpp:299:Expected g.try_set_attributes(0, page(), private_attr) to fail with "
        "ENOTTY (…)\n"
        "  GUEST-05   PASS -> SKIP  (the kernel tracks private memory per guest_memfd "
        "(KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd works)…)\n"
        "\n"
        "Improvements (1):\n"
        "  CONV-01    SKIP -> PASS\n"
        "\n"
        "9 ID(s) kept their status (5 with other text: --text-changes lists them).\n"
        "1 ID(s) went from PASS to FAIL.\n";
    EXPECT_STREQ(r.out, want);
    for (const auto& l : lines_of(r.out)) {
        HARNESS_TRACE("line '%s'", l.c_str());
        EXPECT_LE(l.size(), 200u);
    }
    // --detail: today's full form, every change with both sides' whole detail.
    const auto d = tool({"compare", "--detail", lab_json, v8_json});
    EXPECT_EQ(d.exit_code, 1);
    const rep::Comparison c = rep::compare(report_or_throw(lab_json), report_or_throw(v8_json));
    rep::TextOptions detail;
    detail.detail = true;
    EXPECT_STREQ(d.out, rep::to_text(c, detail));
    EXPECT_TRUE(has_line(d.out, "Same status, detail changed (5):"));
    EXPECT_NE(d.out.find("ENOTTY (Inappropriate ioctl for device), got EINVAL (Invalid argument)"),
              std::string::npos);
}

// A change of text alone (an observation's VmFlags, another f_type value) is
// no change unless asked for.
TEST(compare_brief_ignores_text_changes, "TOOLS-02") {
    rep::Report before = report_or_throw(lab_json);
    rep::Report after = before;
    rep::Row* row = nullptr;
    for (auto& x : after.rows)
        if (x.id == "CREATE-04") row = &x;
    ASSERT_TRUE(row != nullptr);
    ASSERT_STREQ(std::string(rep::to_string(row->status)), "observe");
    bool edited = false;
    for (auto& t : row->tests)
        if (t.test == "create.default_vm_none.file_io_fails" && !t.observations.empty()) {
            t.observations[0] += " (VmFlags: rd wr sh mr mw me ms)";
            edited = true;
        }
    ASSERT_TRUE(edited);
    row->detail += " (VmFlags: rd wr sh mr mw me ms)";
    const TempDir dir;
    const std::string a = dir.path + "/before.json", b = dir.path + "/after.json";
    std::ofstream(a) << rep::to_json(before);
    std::ofstream(b) << rep::to_json(after);

    const auto quiet = tool({"compare", a, b});
    EXPECT_EQ(quiet.exit_code, 0);
    EXPECT_EQ(quiet.out.find("CREATE-04"), std::string::npos);
    EXPECT_TRUE(has_line(quiet.out, "12 ID(s) kept their status (1 with other text: --text-changes lists them)."));
    EXPECT_TRUE(has_line(quiet.out, "No regressions."));

    const auto text = tool({"compare", "--text-changes", a, b});
    EXPECT_EQ(text.exit_code, 0);
    for (const char* line : {
             "Same status, other text (1):",
             "  CREATE-04  observe",
             "             - guest_memfd_create_test: create.default_vm_none.file_io_fails: observed: read "
             "EINVAL, write EINVAL, pread ESPIPE, pwrite ESPIPE",
             "             + guest_memfd_create_test: create.default_vm_none.file_io_fails: observed: read "
             "EINVAL, write EINVAL, pread ESPIPE, pwrite ESPIPE (VmFlags: rd wr sh mr mw me ms)",
             "12 ID(s) kept their status (1 with other text, listed above).",
         }) {
        HARNESS_TRACE("line '%s'", line);
        EXPECT_TRUE(has_line(text.out, line));
    }
    // The same tests saying the same: nothing but the count.
    EXPECT_EQ(text.out.find("create.default_vm_mmap."), std::string::npos);
}

// --text-changes groups the tests of a sweep that say the same.
TEST(compare_text_changes_grouped, "TOOLS-02") {
    const auto r = tool({"compare", "--text-changes", host_json, lab_json});
    EXPECT_EQ(r.exit_code, 0); // FAIL -> PASS and SKIP -> PASS only
    for (const char* line : {
             "Improvements (3):",
             "  GUEST-01    FAIL -> PASS",
             "  PREFAULT-02 SKIP -> observe  (observed: pre-fault racing slot deletion, 8 rounds: success, all "
             "mapped x5, success, partly mapped x3 (+3 more observations))",
             "Same status, other text (4):",
             "  MMAP-09     SKIP",
             "              - guest_memfd_mmap_test: mmap.sev_vm_none.numa_policy (+2 more): SKIP: KVM_X86_SEV_VM "
             "(2) not offered (KVM_CAP_VM_TYPES = 0x1)",
             "              + guest_memfd_mmap_test: mmap.sev_vm_none.numa_policy (+2 more): SKIP: KVM_X86_SEV_VM "
             "(2) not offered (KVM_CAP_VM_TYPES = 0x3)",
             "Spec changes (1):",
             "  CONV-12     (absent) -> PASS",
             "8 ID(s) kept their status (4 with other text, listed above).",
         }) {
        HARNESS_TRACE("line '%s'", line);
        EXPECT_TRUE(has_line(r.out, line));
    }
}

// -------------------------------------------------------------- matrix --
TEST(matrix_cells_and_first_pass, "TOOLS-02") {
    const rep::Matrix m = recorded_matrix();
    ASSERT_EQ(m.columns.size(), 3u);
    EXPECT_STREQ(m.columns[0].name, "6.18");
    EXPECT_STREQ(m.columns[0].meta.kernel_release, "6.18.44-fc-v669");
    EXPECT_STREQ(m.columns[2].source, v8_json);
    EXPECT_EQ(m.columns[1].total.pass, 7u);
    EXPECT_EQ(m.columns[0].total.fail, 1u);
    EXPECT_TRUE(m.columns[0].failed);
    EXPECT_FALSE(m.columns[1].failed);
    const struct {
        const char* id;
        const char* section;
        const char* cells[3]; // "-": the ID is not in that report
        bool differs;
        const char* first_pass; // "" none
    } want[] = {
        {"CAP-05", "CAP", {"PASS", "PASS", "PASS"}, false, "6.18"},
        {"CREATE-04", "CREATE", {"observe", "observe", "observe"}, false, ""},
        {"MMAP-09", "MMAP", {"SKIP", "SKIP", "SKIP"}, false, ""},
        {"GUEST-01", "GUEST", {"FAIL", "PASS", "PASS"}, true, "lab"},
        {"GUEST-05", "GUEST", {"SKIP", "PASS", "SKIP"}, true, "lab"},
        {"CPR-04", "CPR", {"PASS", "PASS", "PASS"}, false, "6.18"},
        {"CPR-05", "CPR", {"PASS", "PASS", "PASS"}, false, "6.18"},
        {"CONV-01", "CONV", {"SKIP", "SKIP", "PASS"}, true, "v8"},
        {"CONV-09", "CONV", {"PASS", "PASS", "FAIL"}, true, "6.18"},
        {"CONV-12", "CONV", {"-", "PASS", "PASS"}, true, "lab"},
        {"PREFAULT-02", "PREFAULT", {"SKIP", "observe", "observe"}, true, ""},
        {"TOOLS-02", "TOOLS", {"NOT COVERED", "NOT COVERED", "NOT COVERED"}, false, ""},
    };
    ASSERT_EQ(m.rows.size(), std::size(want));
    for (size_t i = 0; i < m.rows.size(); ++i) {
        const auto& r = m.rows[i];
        HARNESS_TRACE("row %zu (%s)", i, want[i].id);
        EXPECT_STREQ(r.id, want[i].id);
        EXPECT_STREQ(r.section, want[i].section);
        ASSERT_EQ(r.cells.size(), 3u);
        for (size_t k = 0; k < 3; ++k) {
            HARNESS_TRACE("column %zu", k);
            const auto& st = r.cells[k].status;
            EXPECT_STREQ(st ? std::string(rep::to_string(*st)) : std::string("-"), want[i].cells[k]);
        }
        EXPECT_EQ(r.differs, want[i].differs);
        EXPECT_STREQ(r.first_pass ? m.columns[*r.first_pass].name : std::string(), want[i].first_pass);
    }
    EXPECT_EQ(m.differing(), 6u);
    // Sections in spec order, CONV from the reports that have it.
    ASSERT_EQ(m.sections.size(), 8u);
    EXPECT_STREQ(m.sections[6].prefix, "PREFAULT");
}

// --reasons: SKIP reasons and FAIL messages as numbered notes, each text once.
TEST(matrix_notes_deduplicated, "TOOLS-02") {
    const rep::Matrix m = recorded_matrix();
    for (size_t i = 0; i < m.notes.size(); ++i)
        for (size_t j = i + 1; j < m.notes.size(); ++j) {
            HARNESS_TRACE("notes %zu and %zu", i + 1, j + 1);
            EXPECT_NE(m.notes[i], m.notes[j]);
        }
    EXPECT_EQ(m.notes.size(), 17u);
    auto texts = [&](const std::string& id, size_t col) {
        std::vector<std::string> out;
        for (unsigned n : matrix_row(m, id)->cells.at(col).notes) out.push_back(m.notes.at(n - 1));
        return out;
    };
    const std::string sw_prot = "KVM_X86_SW_PROTECTED_VM (1) not offered (KVM_CAP_VM_TYPES = 0x1)";
    EXPECT_TRUE(texts("GUEST-05", 0) == std::vector<std::string>{sw_prot});
    EXPECT_TRUE(texts("CONV-01", 0) == std::vector<std::string>{sw_prot});
    EXPECT_EQ(matrix_row(m, "GUEST-05")->cells[0].notes, matrix_row(m, "CONV-01")->cells[0].notes);
    EXPECT_EQ(texts("MMAP-09", 0).size(), 7u); // 5 VM types not offered, NUMA, no MMAP
    EXPECT_TRUE(texts("CONV-09", 2) ==
                std::vector<std::string>{"conversion_test: gmem_conversions.disabled_answers_enotty: "
                                         "conversion_test.cpp:299:Expected g.try_set_attributes(0, page(), "
                                         "private_attr) to fail with ENOTTY (…"});
    EXPECT_TRUE(texts("GUEST-01", 0) ==
                std::vector<std::string>{"guest_access_test: guest_access.default_vm.host_and_guest_share_pages: "
                                         "guest_access_test.cpp:105:guest check_pattern: guest read 8 byte(s) at "
                                         "GPA 0x100000000, which no mem… (+1 more failing)"});
    // PASS, observe and NOT COVERED have no notes.
    EXPECT_TRUE(texts("CONV-09", 0).empty());
    EXPECT_TRUE(texts("PREFAULT-02", 1).empty());
    EXPECT_TRUE(texts("TOOLS-02", 1).empty());
}

TEST(matrix_markdown_and_terminal, "TOOLS-02") {
    const rep::Matrix m = recorded_matrix();
    rep::MatrixView reasons;
    reasons.reasons = true;
    const std::string md = rep::to_markdown(m, reasons);
    for (const char* line : {
             "| kernel | release | corpus | date | PASS | FAIL | XFAIL | SKIP | observe | NOT COVERED |",
             "| 6.18 | 6.18.44-fc-v669 | e5ffe81-dirty | 2026-11-29T22:30:05Z | 4 | 1 | 0 | 4 | 1 | 1 |",
             "## CONV: in-place shared/private conversion (kernel series \"guest_memfd: In-place conversion "
             "support\", v7/v8; v13 queued upstream)",
             "| ID | ≠ | 6.18 | lab | v8 | first PASS |",
             "| CAP-05 |  | PASS | PASS | PASS | 6.18 |",
             "| GUEST-01 | ≠ | **FAIL [13]** | PASS | PASS | lab |",
             "| CONV-01 | ≠ | SKIP [3] | SKIP [15] | PASS | v8 |",
             "| CONV-12 | ≠ | — | PASS | PASS | lab |",
             "| MMAP-09 |  | SKIP [1,2,3,4,5,6,7] | SKIP [1,2,8,9,10,11,12] | SKIP [1,2,9,10,11,12] | — |",
             "| PREFAULT-02 | ≠ | SKIP [17] | observe | observe | — |",
             "- [3] KVM_X86_SW_PROTECTED_VM (1) not offered (KVM_CAP_VM_TYPES = 0x1)",
             "- [17] KVM_CAP_PRE_FAULT_MEMORY is 0 on /dev/kvm",
         }) {
        HARNESS_TRACE("markdown line '%s'", line);
        EXPECT_TRUE(has_line(md, line));
    }
    // Without --reasons: bare statuses, no notes.
    const std::string plain = rep::to_markdown(m);
    EXPECT_TRUE(has_line(plain, "| GUEST-01 | ≠ | **FAIL** | PASS | PASS | lab |"));
    EXPECT_EQ(plain.find("## Reasons"), std::string::npos);

    // --differing: only the six differing rows, the notes renumbered from 1.
    rep::MatrixView differing = reasons;
    differing.differing_only = true;
    const std::string t = rep::to_terminal(m, differing);
    for (const char* line : {
             "guest_memfd conformance matrix: 3 kernel(s)",
             "  lab   corpus e5ffe81-dirty, 2026-11-29T22:28:49Z: 7 PASS, 0 FAIL, 0 XFAIL, 2 SKIP, 2 observe, 1 NOT "
             "COVERED",
             "6 of 12 IDs differ between the kernels (marked ≠; only those shown).",
             "  ID           6.18      lab       v8        first PASS",
             "GUEST: guest code touching guest_memfd memory",
             "≠ GUEST-01     FAIL [1]  PASS      PASS      lab",
             "≠ GUEST-05     SKIP [2]  PASS      SKIP [3]  lab",
             "≠ CONV-12      -         PASS      PASS      lab",
             "≠ PREFAULT-02  SKIP [6]  observe   observe   -",
             "  [2] KVM_X86_SW_PROTECTED_VM (1) not offered (KVM_CAP_VM_TYPES = 0x1)",
             "  [6] KVM_CAP_PRE_FAULT_MEMORY is 0 on /dev/kvm",
         }) {
        HARNESS_TRACE("terminal line '%s'", line);
        EXPECT_TRUE(has_line(t, line));
    }
    EXPECT_EQ(t.find("CAP-05"), std::string::npos);
    EXPECT_EQ(t.find("  [7] "), std::string::npos);
}

TEST(matrix_json_schema, "TOOLS-02") {
    const rep::Matrix m = recorded_matrix();
    const auto j = nlohmann::json::parse(rep::to_json(m));
    EXPECT_STREQ(j.at("schema").get<std::string>(), "gmem-conformance-matrix");
    EXPECT_EQ(j.at("schema_version").get<int>(), 1);
    ASSERT_EQ(j.at("kernels").size(), 3u);
    EXPECT_STREQ(j["kernels"][1].at("name").get<std::string>(), "lab");
    EXPECT_STREQ(j["kernels"][1].at("kernel_release").get<std::string>(), "7.3.4");
    EXPECT_STREQ(j["kernels"][1].at("source").get<std::string>(), lab_json);
    EXPECT_EQ(j["kernels"][0].at("counts").at("FAIL").get<int>(), 1);
    EXPECT_EQ(j["kernels"][0].at("failed").get<bool>(), true);
    EXPECT_EQ(j.at("differing").get<int>(), 6);
    ASSERT_EQ(j.at("notes").size(), 17u);
    EXPECT_EQ(j["notes"][2].at("n").get<int>(), 3);
    EXPECT_STREQ(j["notes"][2].at("text").get<std::string>(),
                 "KVM_X86_SW_PROTECTED_VM (1) not offered (KVM_CAP_VM_TYPES = 0x1)");
    // Every row, whatever a view filters.
    ASSERT_EQ(j.at("behaviours").size(), 12u);
    const auto& conv12 = j["behaviours"][9];
    EXPECT_STREQ(conv12.at("id").get<std::string>(), "CONV-12");
    EXPECT_TRUE(conv12.at("cells")[0].at("status").is_null());
    EXPECT_STREQ(conv12.at("cells")[1].at("status").get<std::string>(), "PASS");
    EXPECT_STREQ(conv12.at("first_pass").get<std::string>(), "lab");
    EXPECT_TRUE(conv12.at("differs").get<bool>());
    const auto& create04 = j["behaviours"][1];
    EXPECT_TRUE(create04.at("first_pass").is_null());
    EXPECT_FALSE(create04.at("differs").get<bool>());
    const auto& guest05 = j["behaviours"][4];
    EXPECT_TRUE(guest05.at("cells")[0].at("notes") == nlohmann::json::array({3}));
}

TEST(tool_matrix_writes_outputs, "TOOLS-02") {
    const TempDir out;
    const auto r = tool({"matrix", host_json, lab_json, v8_json, "--names", "6.18,lab,v8", "--reasons", "--json",
                         out.path + "/m.json", "--markdown", out.path + "/m.md"});
    EXPECT_EQ(r.exit_code, 0); // a view: FAIL cells do not fail it
    EXPECT_STREQ(r.err, "");
    const rep::Matrix m = recorded_matrix();
    rep::MatrixView reasons;
    reasons.reasons = true;
    EXPECT_STREQ(r.out, rep::to_terminal(m, reasons));
    EXPECT_STREQ(slurp(out.path + "/m.json"), rep::to_json(m));
    EXPECT_STREQ(slurp(out.path + "/m.md"), rep::to_markdown(m, reasons));
    // Column titles default to the kernel release.
    const auto named = tool({"matrix", host_json, lab_json, "--differing"});
    EXPECT_EQ(named.exit_code, 0);
    EXPECT_TRUE(has_line(named.out, "  ID           6.18.44-fc-v669  7.3.4    first PASS"));
    EXPECT_TRUE(has_line(named.out, "≠ GUEST-01     FAIL             PASS     7.3.4"));
    // One report is a matrix too: nothing differs.
    const auto one = tool({"matrix", lab_json});
    EXPECT_EQ(one.exit_code, 0);
    EXPECT_TRUE(has_line(one.out, "0 of 12 IDs differ between the kernels (marked ≠; --differing shows only those)."));
}

TEST(tool_matrix_bad_input, "TOOLS-02") {
    const struct {
        std::vector<std::string> args;
        std::string message;
    } cases[] = {
        {{"matrix"}, "gmem-report: matrix needs at least one REPORT.json\n"},
        {{"matrix", "--reasons"}, "gmem-report: matrix needs at least one REPORT.json\n"},
        {{"matrix", lab_json, "/nonexistent/r.json"},
         "gmem-report: /nonexistent/r.json: cannot open: No such file or directory\n"},
        {{"matrix", lab_json, cmp + "/truncated.json"}, "gmem-report: " + cmp + "/truncated.json: not JSON\n"},
        {{"matrix", cmp + "/wrong_version.json"},
         "gmem-report: " + cmp + "/wrong_version.json: schema_version 2, this tool reads 1\n"},
        {{"matrix", mx + "/trim.py"}, "gmem-report: " + mx + "/trim.py: not JSON\n"},
        {{"matrix", lab_json, lab_json},
         "gmem-report: two columns are named '7.3.4' (" + lab_json + " and " + lab_json +
             "): give distinct --names\n"},
        {{"matrix", host_json, lab_json, "--names", "a,a"},
         "gmem-report: two columns are named 'a' (" + host_json + " and " + lab_json + "): give distinct --names\n"},
        {{"matrix", host_json, lab_json, "--names", "a"}, "gmem-report: --names gives 1 name(s) for 2 report(s)\n"},
        {{"matrix", host_json, lab_json, "--names", "a,"}, "gmem-report: --names has an empty name\n"},
        {{"matrix", lab_json, "--names"}, "gmem-report: option --names needs a value\n"},
        {{"matrix", lab_json, "--colour"}, "gmem-report: unknown option --colour\n"},
        {{"matrix", lab_json, "--json", "/nonexistent/m.json"}, "gmem-report: /nonexistent/m.json: cannot write\n"},
    };
    for (const auto& c : cases) {
        HARNESS_TRACE("gmem-report matrix ... (%s)", c.message.c_str());
        const auto r = tool(c.args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.term_signal, 0);
        EXPECT_STREQ(r.err, c.message);
        EXPECT_STREQ(r.out, "");
    }
}

TEST(tool_bad_input, "TOOLS-02") {
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
         ("gmem-report: " + junit + ": not gmem-probe --json output: not JSON (left out of the report)\n")},
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

TEST(tool_build_writes_reports, "TOOLS-02") {
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

// ------------------------------------------------------------ TOOLS-06 --
namespace {

// The recorded run cut down to its program whose every test skips (nothing
// failed), with the probe edited by `edit`: what a host or a kernel that
// cannot test guest_memfd leaves behind.
rep::Report skipped_run(const std::function<void(nlohmann::json&)>& edit, bool in_vm = false) {
    auto inputs = rep::read_results(run_dir, junit);
    if (!inputs) throw std::runtime_error(inputs.error().message);
    std::vector<rep::ProgramInput> only;
    for (auto& in : *inputs)
        if (in.name == "report_demo_epsilon") only.push_back(in);
    rep::Meta m = fixed_meta();
    auto p = nlohmann::json::parse(m.probe_json);
    edit(p);
    m.probe_json = p.dump();
    m.in_vm = in_vm;
    return rep::build_report(spec_or_throw(spec_md), only, m);
}

void no_kvm(nlohmann::json& p) {
    p["kvm"] = {{"path", "/dev/kvm"}, {"usable", false}, {"access", "missing"}, {"errno", "ENOENT"},
                {"reason", "no /dev/kvm (ENOENT: No such file or directory)"}, {"api_version", nullptr}};
}

const std::string hint = gmem::util::not_tested_hint;

} // namespace

// No /dev/kvm: nothing failed, but the verdict is NOT TESTED with the probe's
// reason, in the terminal (then what to run instead), in report.md and in
// report.json; never PASSED.
TEST(not_tested_without_kvm, "TOOLS-06") {
    const rep::Report r = skipped_run(no_kvm);
    EXPECT_FALSE(r.failed());
    EXPECT_TRUE(r.not_tested());
    EXPECT_STREQ(r.not_tested_reason(), "KVM cannot be used: no /dev/kvm (ENOENT: No such file or directory)");
    const auto term = lines_of(rep::to_terminal(r));
    ASSERT_GE(term.size(), 2U);
    EXPECT_TRUE(term[term.size() - 2].starts_with(
        "NOT TESTED: KVM cannot be used: no /dev/kvm (ENOENT: No such file or directory). This kernel's "
        "guest_memfd was not tested ("));
    EXPECT_STREQ(term.back(), hint);
    const std::string md = rep::to_markdown(r);
    EXPECT_NE(md.find("| verdict | NOT TESTED: KVM cannot be used: no /dev/kvm"), std::string::npos);
    EXPECT_NE(md.find("| instead | To test a kernel without host KVM: ci/conformance --kernel NAME"),
              std::string::npos);
    EXPECT_EQ(md.find("PASSED"), std::string::npos);
    const auto j = nlohmann::json::parse(rep::to_json(r));
    EXPECT_STREQ(j.at("verdict").at("status").get<std::string>(), "not_tested");
    EXPECT_FALSE(j.at("failed").get<bool>());
    // Read back, the report keeps its verdict (gmem-report show).
    auto back = rep::report_from_json(rep::to_json(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(back->not_tested());
}

// KVM opens but offers guest_memfd on no VM type it creates (6.1, or 6.12
// without SW_PROTECTED_VM): NOT TESTED too, naming each type's answer. In a
// VM a runner booted, no "instead" line (the runner is the way already).
TEST(not_tested_without_guest_memfd, "TOOLS-06") {
    const rep::Report r = skipped_run(
        [](nlohmann::json& p) {
            p["system"]["KVM_CAP_GUEST_MEMFD"] = 1; // /dev/kvm's answer does not count
            for (auto& t : p["vm_types"]) t["caps"]["KVM_CAP_GUEST_MEMFD"] = t["created"].get<bool>() ? 0 : 1;
        },
        true);
    EXPECT_TRUE(r.not_tested());
    EXPECT_TRUE(r.not_tested_reason().starts_with(
        "KVM offers no guest_memfd: KVM_CAP_GUEST_MEMFD is 0 on every VM type it creates (KVM_X86_DEFAULT_VM (0) 0"));
    EXPECT_EQ(rep::to_terminal(r).find(hint), std::string::npos);
    EXPECT_EQ(rep::to_markdown(r).find("| instead |"), std::string::npos);
}

// Where KVM works with guest_memfd, a run without failures PASSes as before
// (features it lacks are SKIP rows); where something failed, FAILED wins
// over NOT TESTED.
TEST(not_tested_only_when_kvm_unusable, "TOOLS-06") {
    const rep::Report ok = skipped_run([](nlohmann::json&) {});
    EXPECT_FALSE(ok.not_tested());
    EXPECT_TRUE(lines_of(rep::to_terminal(ok)).back().starts_with("PASSED: nothing failed"));
    rep::Meta m = fixed_meta();
    auto p = nlohmann::json::parse(m.probe_json);
    no_kvm(p);
    m.probe_json = p.dump();
    auto inputs = rep::read_results(run_dir, junit);
    ASSERT_TRUE(inputs.has_value());
    const rep::Report failed = rep::build_report(spec_or_throw(spec_md), *inputs, m);
    EXPECT_TRUE(failed.failed());
    EXPECT_FALSE(failed.not_tested());
    EXPECT_TRUE(lines_of(rep::to_terminal(failed)).back().starts_with("FAILED: "));
}

// The tool: build and show exit 4 for NOT TESTED (0 PASSED, 1 FAILED).
TEST(tool_not_tested_exit_code, "TOOLS-06") {
    const TempDir out;
    fs::create_directories(out.path + "/ktap");
    for (const char* f : {"report_demo_epsilon.ktap", "report_demo_epsilon.list"})
        fs::copy_file(run_dir + "/" + f, out.path + "/ktap/" + f);
    auto p = nlohmann::json::parse(slurp(data + "/probe.json"));
    no_kvm(p);
    {
        std::ofstream f(out.path + "/probe.json");
        f << p.dump();
    }
    const auto r = tool({"build", "--ktap-dir", out.path + "/ktap", "--spec", spec_md, "--probe",
                         out.path + "/probe.json", "--ran-on", "this host", "--json", out.path + "/report.json",
                         "--markdown", out.path + "/report.md"});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_STREQ(lines_of(r.out).back(), hint);
    EXPECT_NE(slurp(out.path + "/report.md").find("| ran on | this host |"), std::string::npos);
    const auto shown = tool({"show", out.path + "/report.json"});
    EXPECT_EQ(shown.exit_code, 4);
    EXPECT_STREQ(shown.out, r.out);
}

// Today's harness must still print what the recording holds: run the demo
// programs again and expect the same rows (guards the parser against a
// change of the harness's output).
TEST_TIMEOUT(live_harness_matches_recording, 20, "HARNESS-02 TOOLS-02") {
    const TempDir dir;
    const std::string asan = "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0";
    for (const std::string& demo : {demo_alpha, demo_beta, demo_epsilon}) {
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
TEST(tool_list_writes_listings, "TOOLS-02") {
    const TempDir dir;
    const std::string ctest_json = dir.path + "/ctest.json";
    {
        std::ofstream out(ctest_json);
        out << R"({"kind":"ctestInfo","tests":[)"
            << R"({"name":"report_demo_alpha","command":[")" << demo_alpha << R"("]},)"
            << R"({"name":"report_demo_beta","command":[")" << demo_beta << R"("]},)"
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

// ------------------------------------------- what a dying program writes --
namespace {

void write_text(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// Killed in the middle of a three-byte character (U+2026 is e2 80 a6).
const std::string ktap_cut = "KTAP version 1\n1..2\n#  RUN           global.first ...\n# ids: CAP-01\n"
                             "# wrote 3 bytes \xe2\x80";
// Complete and passing, with one stray byte in what it observed.
const std::string ktap_stray = "KTAP version 1\n1..1\n#  RUN           global.second ...\n# ids: CAP-02\n"
                               "# observe: flags \xff 0x3\n#            OK  global.second\nok 1 global.second\n";
const std::string ktap_ok = "KTAP version 1\n1..1\n#  RUN           global.third ...\n# ids: CAP-05\n"
                            "#            OK  global.third\nok 1 global.third\n";

struct Built {
    gmem::util::ProcessResult run;
    std::string json, md;
};

Built build_in(const TempDir& dir, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"build", "--ktap-dir", dir.path + "/ktap", "--spec", spec_md, "--date",
                                     "2026-01-01T00:00:00Z", "--corpus-version", "test-1", "--json",
                                     dir.path + "/report.json", "--markdown", dir.path + "/report.md"};
    args.insert(args.end(), more.begin(), more.end());
    fs::remove(dir.path + "/report.json");
    fs::remove(dir.path + "/report.md");
    Built b{tool(args), "", ""};
    if (fs::exists(dir.path + "/report.json")) b.json = slurp(dir.path + "/report.json");
    if (fs::exists(dir.path + "/report.md")) b.md = slurp(dir.path + "/report.md");
    return b;
}

void add_program(const TempDir& dir, const std::string& name, const std::string& ktap, const std::string& list) {
    fs::create_directories(dir.path + "/ktap");
    write_text(dir.path + "/ktap/" + name + ".ktap", ktap);
    write_text(dir.path + "/ktap/" + name + ".list", list);
}

const rep::ProgramRecord* program_of(const rep::Report& r, const std::string& name) {
    for (const auto& p : r.programs)
        if (p.name == name) return &p;
    return nullptr;
}

// 65,536 levels of arrays: 128 KiB, the depth that overflowed the stack.
std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

} // namespace

// Issue 25, case 1: bytes that are not UTF-8 in a program's KTAP. The report
// is written, the bytes are kept as \xNN with a note on that program, and the
// other programs' rows do not change.
TEST(tool_build_invalid_utf8, "TOOLS-02") {
    const TempDir dir;
    add_program(dir, "prog_ok", ktap_ok, "global.third\tCAP-05\n");
    add_program(dir, "prog_stray", ktap_stray, "global.second\tCAP-02\n");
    const Built clean = build_in(dir);
    EXPECT_EQ(clean.run.exit_code, 0); // a stray byte alone fails nothing
    EXPECT_STREQ(clean.run.err, "");
    auto a = rep::report_from_json(clean.json);
    ASSERT_TRUE(a.has_value());
    EXPECT_STREQ(row_of(*a, "CAP-02")->status == rep::Status::observe ? "observe" : "other", "observe");
    EXPECT_STREQ(row_of(*a, "CAP-02")->detail, "observed: flags \\xff 0x3");
    ASSERT_TRUE(program_of(*a, "prog_stray") != nullptr);
    EXPECT_EQ(program_of(*a, "prog_stray")->problems.size(), 0u);
    ASSERT_EQ(program_of(*a, "prog_stray")->notes.size(), 1u);
    EXPECT_STREQ(program_of(*a, "prog_stray")->notes[0],
                 "its KTAP output is not valid UTF-8 text: 1 byte(s) shown as \\xNN (first on line 5)");
    EXPECT_TRUE(has_line(clean.run.out, "Program notes (1):"));
    EXPECT_TRUE(has_line(clean.run.out, "  prog_stray: its KTAP output is not valid UTF-8 text: 1 byte(s) shown "
                                        "as \\xNN (first on line 5)"));
    EXPECT_TRUE(has_line(clean.md, "- program `prog_stray`: its KTAP output is not valid UTF-8 text: 1 byte(s) "
                                   "shown as \\xNN (first on line 5)"));

    add_program(dir, "prog_cut", ktap_cut, "global.first\tCAP-01\nglobal.fourth\tCAP-04\n");
    const Built cut = build_in(dir);
    EXPECT_EQ(cut.run.exit_code, 1); // prog_cut died: its IDs FAIL
    EXPECT_STREQ(cut.run.err, "");
    auto b = rep::report_from_json(cut.json);
    ASSERT_TRUE(b.has_value());
    EXPECT_FALSE(cut.md.empty());
    for (const char* id : {"CAP-01", "CAP-04"}) EXPECT_TRUE(row_of(*b, id)->status == rep::Status::fail);
    const rep::TestRecord* first = test_of(*b, "prog_cut", "global.first");
    ASSERT_TRUE(first != nullptr);
    EXPECT_STREQ(std::string(rep::to_string(first->status)), "crash");
    ASSERT_EQ(first->messages.size(), 1u);
    EXPECT_STREQ(first->messages[0], "wrote 3 bytes \\xe2\\x80");
    ASSERT_EQ(program_of(*b, "prog_cut")->notes.size(), 1u);
    EXPECT_STREQ(program_of(*b, "prog_cut")->notes[0],
                 "its KTAP output is not valid UTF-8 text: 2 byte(s) shown as \\xNN (first on line 5)");
    // The other programs' rows are what they were without prog_cut.
    for (const char* id : {"CAP-02", "CAP-05"}) {
        EXPECT_TRUE(row_of(*b, id)->status == row_of(*a, id)->status);
        EXPECT_STREQ(row_of(*b, id)->detail, row_of(*a, id)->detail);
    }
    EXPECT_STREQ(row_of(*b, "CAP-05")->detail, "1 passed");
    // show replays it.
    const auto shown = tool({"show", dir.path + "/report.json"});
    EXPECT_EQ(shown.exit_code, 1);
    EXPECT_STREQ(shown.out, cut.run.out);
}

// Issue 25, case 2: a probe of the wrong shape. build names the file and the
// field, exits 2 and still writes the report without the probe; a report that
// an older gmem-report wrote with such a probe is shown, saying why the probe
// is not.
TEST(tool_probe_wrong_shape, "TOOLS-02") {
    const TempDir dir;
    add_program(dir, "prog_ok", ktap_ok, "global.third\tCAP-05\n");
    const struct {
        const char* probe;
        const char* why;
    } cases[] = {
        {R"({"kvm":1})", R"(field "kvm": expected an object, got number)"},
        {R"({"kvm":{"usable":"yes"}})", R"(field "kvm.usable": expected true or false, got string)"},
        {R"({"vm_types":[{"name":"x","caps":[]}]})", R"(field "vm_types[0].caps": expected an object, got array)"},
        {"[1]", R"x(field "(top level)": expected an object, got array)x"},
        {"{\"kvm\":", "not JSON"},
    };
    for (const auto& c : cases) {
        HARNESS_TRACE("probe %s", c.probe);
        auto checked = rep::check_probe(c.probe);
        ASSERT_FALSE(checked.has_value());
        EXPECT_STREQ(checked.error().message, c.why);
    }
    for (const auto& c : {cases[0], cases[1]}) { // the issue's two, through the tool
        HARNESS_TRACE("build --probe %s", c.probe);
        const std::string probe = dir.path + "/probe.json";
        write_text(probe, c.probe);
        const Built b = build_in(dir, {"--probe", probe});
        const std::string why = probe + ": not gmem-probe --json output: " + c.why;
        EXPECT_EQ(b.run.exit_code, 2);
        EXPECT_STREQ(b.run.err, "gmem-report: " + why + " (left out of the report)\n");
        auto r = rep::report_from_json(b.json);
        ASSERT_TRUE(r.has_value());
        EXPECT_STREQ(r->meta.probe_json, "");
        ASSERT_EQ(r->meta.input_problems.size(), 1u);
        EXPECT_STREQ(r->meta.input_problems[0], why);
        EXPECT_STREQ(row_of(*r, "CAP-05")->detail, "1 passed");
        EXPECT_TRUE(has_line(b.run.out, "FAILED: 1 input(s) left out"));
        EXPECT_TRUE(has_line(b.md, "- input left out: " + why));
    }
    // Saved before this check existed: the probe is kept, show says why it is not shown.
    const std::string old = slurp(cmp + "/old.json");
    const std::string with_probe = dir.path + "/old-probe.json";
    std::string text = old;
    text.replace(text.find("\"probe\": null"), 13, R"("probe": {"kvm": {"usable": "yes"}})");
    write_text(with_probe, text);
    const auto shown = tool({"show", with_probe});
    EXPECT_EQ(shown.exit_code, 1); // old.json has a FAIL row
    EXPECT_STREQ(shown.err, "");
    EXPECT_TRUE(has_line(shown.out, R"(probe: not usable: field "kvm.usable": expected true or false, got string)"));
    const auto md = tool({"show", "--markdown", with_probe});
    EXPECT_EQ(md.exit_code, 1);
    EXPECT_TRUE(has_line(md.out, R"(The probe output is not usable: field "kvm.usable": expected true or false, got string.)"));
    EXPECT_EQ(tool({"compare", cmp + "/old.json", with_probe}).exit_code, 0);
}

// Issue 25, case 3: JSON nested 65,536 levels deep. Refused before anything
// recursive runs: exit 2 with the file named, never a signal.
TEST(tool_deep_nesting, "TOOLS-02") {
    const TempDir dir;
    const std::string deep = dir.path + "/deep.json";
    write_text(deep, nested(65536));
    const std::string why = deep + ": JSON nested deeper than 64 levels (at byte 64)";
    const std::vector<std::vector<std::string>> reads = {
        {"show", deep}, {"compare", cmp + "/old.json", deep}, {"compare", deep, cmp + "/old.json"},
        {"matrix", lab_json, deep}};
    for (const auto& args : reads) {
        HARNESS_TRACE("gmem-report %s", args.front().c_str());
        const auto r = tool(args);
        EXPECT_EQ(r.term_signal, 0);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_STREQ(r.err, "gmem-report: " + why + "\n");
    }
    // A report whose probe nests that deep.
    std::string text = slurp(cmp + "/old.json");
    text.replace(text.find("\"probe\": null"), 13, "\"probe\": {\"kvm\": " + nested(65536) + "}");
    const std::string deep_report = dir.path + "/deep-report.json";
    write_text(deep_report, text);
    const auto r = tool({"show", deep_report});
    EXPECT_EQ(r.term_signal, 0);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_STREQ(r.err, "gmem-report: " + deep_report + ": JSON nested deeper than 64 levels (at byte " +
                            std::to_string(text.find("\"kvm\": [") + 69) + ")\n");
    // build --probe: the report is written without it.
    add_program(dir, "prog_ok", ktap_ok, "global.third\tCAP-05\n");
    const Built b = build_in(dir, {"--probe", deep});
    EXPECT_EQ(b.run.term_signal, 0);
    EXPECT_EQ(b.run.exit_code, 2);
    EXPECT_STREQ(b.run.err, "gmem-report: " + deep + ": not gmem-probe --json output: JSON nested deeper than 64 "
                                                      "levels (at byte 64) (left out of the report)\n");
    auto rep_back = rep::report_from_json(b.json);
    ASSERT_TRUE(rep_back.has_value());
    EXPECT_STREQ(row_of(*rep_back, "CAP-05")->detail, "1 passed");
    // Depth 64 is still read (the bound, not the data, refuses).
    const std::string ok_depth = dir.path + "/depth64.json";
    write_text(ok_depth, "{\"kvm\":{\"x\":" + nested(62) + "}}");
    const Built b64 = build_in(dir, {"--probe", ok_depth});
    EXPECT_EQ(b64.run.exit_code, 0);
    EXPECT_STREQ(b64.run.err, "");
}

// Every other input of the wrong shape: the file and the field are named,
// exit 2, never "internal error".
TEST(tool_wrong_shape_inputs, "TOOLS-02") {
    const TempDir dir;
    add_program(dir, "prog_ok", ktap_ok, "global.third\tCAP-05\n");
    // A JUnit file cut short: left out, the report still written.
    const std::string junit_cut = dir.path + "/junit.xml";
    write_text(junit_cut, "<testsuite><testcase name=\"prog_ok\" status=\"run\">");
    const Built j = build_in(dir, {"--junit", junit_cut});
    EXPECT_EQ(j.run.exit_code, 2);
    EXPECT_STREQ(j.run.err, "gmem-report: " + junit_cut + ": <testcase> without </testcase> (left out of the report)\n");
    EXPECT_FALSE(j.json.empty());
    // A spec that is not text.
    const std::string bad_spec = dir.path + "/spec.md";
    write_text(bad_spec, "## CAP: caps\n| CAP-01 | a |\n| CAP-02 | b \xc3\x28 |\n");
    const auto s = tool({"build", "--ktap-dir", dir.path + "/ktap", "--spec", bad_spec});
    EXPECT_EQ(s.exit_code, 2);
    EXPECT_STREQ(s.err, "gmem-report: spec: " + bad_spec + ": line 3: not valid UTF-8 text (byte 41)\n");
    // A test list that is not one: that program's problem, the others' rows stand.
    write_text(dir.path + "/ktap/prog_bad.list", "no tab here\n");
    write_text(dir.path + "/ktap/prog_bad.ktap", "");
    const Built l = build_in(dir);
    EXPECT_EQ(l.run.exit_code, 1);
    auto lr = rep::report_from_json(l.json);
    ASSERT_TRUE(lr.has_value());
    ASSERT_TRUE(program_of(*lr, "prog_bad") != nullptr);
    EXPECT_TRUE(has_line(l.run.out, "  prog_bad: its test list is not usable: prog_bad.list: line 1: expected "
                                    "\"name<TAB>IDs\", got 'no tab here'"));
    EXPECT_STREQ(row_of(*lr, "CAP-05")->detail, "1 passed");
    // Saved reports with a field of the wrong type.
    const struct {
        const char* from;
        const char* to;
        const char* why;
    } fields[] = {
        {R"("status": "PASS", "detail": "1 passed")", R"("status": 1, "detail": "1 passed")",
         R"(field "behaviours[0].status": expected a string, got number)"},
        {R"("tests": [])", R"("tests": {})", R"(field "behaviours[0].tests": expected an array, got object)"},
        {R"("kernel_release": "6.17-old")", R"("kernel_release": ["6.17"])",
         R"(field "kernel_release": expected a string, got array)"},
        {R"("probe": null)", R"("probe": "none")", R"(field "probe": expected an object or null, got string)"},
        {R"({"prefix": "CAP", "title": "capability probing"})", R"({"prefix": "CAP"})",
         R"(field "sections[0].title" is missing)"},
    };
    const std::string saved = slurp(cmp + "/old.json");
    for (const auto& f : fields) {
        HARNESS_TRACE("%s", f.why);
        std::string edited = saved;
        const size_t at = edited.find(f.from);
        ASSERT_TRUE(at != std::string::npos);
        edited.replace(at, std::string_view(f.from).size(), f.to);
        auto r = rep::report_from_json(edited);
        ASSERT_FALSE(r.has_value());
        EXPECT_STREQ(r.error().message, std::string("does not match the report schema: ") + f.why);
    }
    // The tool says it with the file's name, in each command that reads reports.
    const std::string path = dir.path + "/wrong.json";
    std::string edited = saved;
    edited.replace(edited.find(fields[0].from), std::string_view(fields[0].from).size(), fields[0].to);
    write_text(path, edited);
    for (const std::vector<std::string>& args : {std::vector<std::string>{"show", path},
                                                 std::vector<std::string>{"compare", cmp + "/old.json", path},
                                                 std::vector<std::string>{"matrix", path}}) {
        const auto r = tool(args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_STREQ(r.err, "gmem-report: " + path + ": does not match the report schema: " + fields[0].why + "\n");
    }
}

TEST_HARNESS_MAIN
