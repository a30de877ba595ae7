// The harness's own checks (HARNESS-01 ... HARNESS-07): run the demo programs
// as child processes and assert the exact KTAP lines and exit codes. Every
// failure mode of a test (failed EXPECT/ASSERT, crash, abort, timeout, missing
// signal, wrong errno, XPASS) must come out as a failure here; a harness that
// passed everything would fail these checks.
#include "gmem/util/ktap.hpp"
#include "gmem/util/locate.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/tempdir.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sys/utsname.h>
#include <string>
#include <vector>

using gmem::util::has_line;

namespace {

// The demo programs: beside this one in the build tree and in an installed
// tree (gmem/util/locate.hpp); the build-tree paths are the fallback.
const std::string demo_mixed = gmem::util::helper_path("harness_demo", DEMO_MIXED);
const std::string demo_skip = gmem::util::helper_path("harness_demo_skip", DEMO_SKIP);
const std::string demo_pass = gmem::util::helper_path("harness_demo_pass", DEMO_PASS);
// A demo whose tests name real behaviour IDs (report_test's recorded input).
const std::string demo_ids = gmem::util::helper_path("../report/report_demo_alpha", DEMO_IDS);

struct DemoRun {
    gmem::util::ProcessResult proc;
    gmem::ktap::Document doc;
};

// known: GMEM_KNOWN_FAILURES for the demo ("": none, so that the project's
// ci/known-kernel-failures never touches the demos' verdicts).
DemoRun run_demo(const std::string& path, std::vector<std::string> args = {},
                 const std::string& known = "") {
    args.insert(args.begin(), path);
    // Sanitizer runtimes would turn SIGSEGV into a report and exit(1); the
    // checks want to see the harness's handling of a real crash.
    DemoRun r{gmem::util::run_capture(
                  args, {"ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0",
                         "GMEM_KTAP_DIR=", "GMEM_KNOWN_FAILURES=" + known}),
              {}};
    r.doc = gmem::ktap::parse(r.proc.out);
    return r;
}

const gmem::ktap::TestResult* find(const DemoRun& r, const std::string& name) {
    for (const auto& t : r.doc.tests)
        if (t.name == name) return &t;
    return nullptr;
}

bool has_diag(const gmem::ktap::TestResult& t, const std::string& needle) {
    return std::any_of(t.diagnostics.begin(), t.diagnostics.end(),
                       [&](const std::string& d) { return d.find(needle) != std::string::npos; });
}


std::vector<std::string> names_of(const DemoRun& r) {
    std::vector<std::string> n;
    for (const auto& t : r.doc.tests) n.push_back(t.name);
    return n;
}

// The demo's full, stable list of test names, in run order.
const std::vector<std::string> demo_names = {
    "global.passes",
    "global.expect_fails_and_continues",
    "global.assert_fails_and_stops",
    "global.skips",
    "global.crashes_with_segv",
    "global.aborts",
    "global.hangs",
    "global.expected_sigbus_raised",
    "global.expected_sigbus_missing",
    "global.errno_as_expected",
    "global.errno_wrong_value",
    "global.errno_but_success",
    "global.ok_but_failed",
    "global.unknown_behaviour_id",
    "global.throws_exception",
    "global.child_fails",
    "global.trace_context",
    "global.leaks_fd",
    "global.observes",
    "global.child_skips",
    "fx.small.assert_fails_teardown_runs",
    "fx.small.passes",
    "fx.small.known_bug",
    "fx.large.assert_fails_teardown_runs",
    "fx.large.passes",
    "fx.large.known_bug",
    "gated.open.runs",
    "gated.closed.runs",
    "gated.throwing.runs",
};

} // namespace

TEST(exit_codes_and_results, "HARNESS-01") {
    const DemoRun all = run_demo(demo_mixed);
    EXPECT_EQ(all.proc.exit_code, 1);
    EXPECT_EQ(run_demo(demo_pass).proc.exit_code, 0);
    EXPECT_EQ(run_demo(demo_skip).proc.exit_code, 4);

    for (const char* line : {
             "ok 1 global.passes",
             "not ok 2 global.expect_fails_and_continues",
             "not ok 3 global.assert_fails_and_stops",
             "ok 4 global.skips # SKIP no frobnicator on this machine",
             "not ok 5 global.crashes_with_segv",
             "not ok 6 global.aborts",
             "not ok 7 global.hangs # TIMEOUT 0.05 seconds",
             "ok 8 global.expected_sigbus_raised",
             "not ok 9 global.expected_sigbus_missing",
             "ok 10 global.errno_as_expected",
             "not ok 11 global.errno_wrong_value",
             "not ok 12 global.errno_but_success",
             "not ok 13 global.ok_but_failed",
             "not ok 14 global.unknown_behaviour_id",
             "not ok 15 global.throws_exception",
             "not ok 16 global.child_fails",
             "not ok 17 global.trace_context",
             "not ok 18 global.leaks_fd",
             "ok 19 global.observes",
             "ok 20 global.child_skips # SKIP no frobnicator in the child",
             "not ok 21 fx.small.assert_fails_teardown_runs",
             "ok 22 fx.small.passes",
             "ok 23 fx.small.known_bug # XFAIL known bug in small",
             "not ok 24 fx.large.assert_fails_teardown_runs",
             "ok 25 fx.large.passes",
             "not ok 26 fx.large.known_bug # XPASS fixed in large",
             "ok 27 gated.open.runs",
             "ok 28 gated.closed.runs # SKIP the gate is closed for this variant",
             "ok 29 gated.throwing.runs",
             "# Totals: pass:8 fail:16 xfail:1 xpass:1 skip:3 error:0",
         }) {
        HARNESS_TRACE("line '%s'", line);
        EXPECT_TRUE(has_line(all.proc.out, line));
    }
    // Messages that say what failed, with both sides and errno names.
    const auto* t = find(all, "global.errno_wrong_value");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "Expected ::close(-1) to fail with EINVAL (Invalid argument), got "
                             "EBADF (Bad file descriptor)"));
    t = find(all, "global.errno_but_success");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "to fail with EPERM (Operation not permitted), got success: "));
    t = find(all, "global.ok_but_failed");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "::close(-1) failed: EBADF (Bad file descriptor)"));
    t = find(all, "global.assert_fails_and_stops");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "Expected size (4096 (0x1000)) == 4097u (4097 (0x1001))"));
    t = find(all, "global.unknown_behaviour_id");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "unknown behaviour ID(s) NOPE-99"));
    t = find(all, "global.throws_exception");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "uncaught exception in test: boom"));
    t = find(all, "global.child_fails");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "Expected 3 (3) == 4 (4)"));
    t = find(all, "global.trace_context");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "with flag bit 5"));
    t = find(all, "global.leaks_fd");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "test left fd "));
    t = find(all, "global.observes");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(has_diag(*t, "observe: a value no document settles: 7"));
}

TEST(ktap_parses_with_stable_names, "HARNESS-02") {
    const DemoRun all = run_demo(demo_mixed);
    for (const auto& e : all.doc.errors) TH_LOG("KTAP error: %s", e.c_str());
    EXPECT_TRUE(all.doc.errors.empty());
    EXPECT_STREQ(all.doc.version, "KTAP version 1");
    ASSERT_TRUE(all.doc.plan.has_value());
    EXPECT_EQ(*all.doc.plan, demo_names.size());
    EXPECT_TRUE(names_of(all) == demo_names);
    // -l gives the same names, in the same order, with the declared IDs.
    const auto listed = gmem::util::run_capture({demo_mixed, "-l"});
    EXPECT_EQ(listed.exit_code, 0);
    std::string expect_list;
    for (const auto& n : demo_names)
        expect_list += n + "\t" + (n == "global.unknown_behaviour_id" ? "NOPE-99" : "") + "\n";
    EXPECT_STREQ(listed.out, expect_list);
    // Our own IDs are echoed in the KTAP for the report.
    const auto self = run_demo(demo_pass).proc;
    EXPECT_TRUE(gmem::ktap::parse(self.out).errors.empty());
}

TEST(crash_fails_alone, "HARNESS-03") {
    const DemoRun r = run_demo(demo_mixed, {"-r", "global.crashes_with_segv", "-r",
                                            "global.aborts", "-r", "global.passes"});
    EXPECT_EQ(r.proc.exit_code, 1);
    ASSERT_EQ(r.doc.tests.size(), 3u);
    const auto* segv = find(r, "global.crashes_with_segv");
    const auto* abrt = find(r, "global.aborts");
    const auto* pass = find(r, "global.passes");
    ASSERT_NE(segv, nullptr);
    ASSERT_NE(abrt, nullptr);
    ASSERT_NE(pass, nullptr);
    EXPECT_FALSE(segv->ok);
    EXPECT_TRUE(has_diag(*segv, "Test terminated unexpectedly by SIGSEGV (Segmentation fault)"));
    EXPECT_FALSE(abrt->ok);
    EXPECT_TRUE(has_diag(*abrt, "Test terminated unexpectedly by SIGABRT (Aborted)"));
    EXPECT_TRUE(pass->ok);
}

// The demo's hang has a 0.05 s bound (TEST_TIMEOUT_MS); harness_slow_test
// checks the same for a whole-second TEST_TIMEOUT, as real tests use.
TEST(hang_is_killed_at_timeout, "HARNESS-04") {
    const auto start = std::chrono::steady_clock::now();
    const DemoRun r =
        run_demo(demo_mixed, {"-r", "global.hangs", "-r", "global.errno_as_expected"});
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.proc.exit_code, 1);
    EXPECT_TRUE(has_line(r.proc.out, "not ok 1 global.hangs # TIMEOUT 0.05 seconds"));
    EXPECT_TRUE(has_line(r.proc.out, "# global.hangs: Test terminated by timeout"));
    // The program goes on with the test after the killed one.
    EXPECT_TRUE(has_line(r.proc.out, "ok 2 global.errno_as_expected"));
    EXPECT_TRUE(has_line(r.proc.out, "# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0"));
    // Killed at its 0.05 s timeout: not before it, and not at ours (30 s).
    EXPECT_GE(secs, 0.05);
    EXPECT_LT(secs, 10.0);
}

TEST(teardown_after_failed_assert, "HARNESS-05") {
    const DemoRun r = run_demo(demo_mixed, {"-f", "fx", "-r", "global.assert_fails_and_stops",
                                            "-r", "global.expect_fails_and_continues"});
    const auto* small = find(r, "fx.small.assert_fails_teardown_runs");
    const auto* large = find(r, "fx.large.assert_fails_teardown_runs");
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    EXPECT_FALSE(small->ok);
    EXPECT_TRUE(has_diag(*small, "teardown ran with value 2"));
    EXPECT_TRUE(has_diag(*large, "teardown ran with value 101"));
    // ASSERT stops the body; EXPECT does not.
    const auto* stops = find(r, "global.assert_fails_and_stops");
    const auto* goes_on = find(r, "global.expect_fails_and_continues");
    ASSERT_NE(stops, nullptr);
    ASSERT_NE(goes_on, nullptr);
    EXPECT_FALSE(has_diag(*stops, "must not be reached"));
    EXPECT_TRUE(has_diag(*goes_on, "reached after the failed EXPECT"));
}

TEST(expected_signal, "HARNESS-06") {
    const DemoRun r = run_demo(demo_mixed, {"-r", "global.expected_sigbus_raised", "-r",
                                            "global.expected_sigbus_missing"});
    const auto* raised = find(r, "global.expected_sigbus_raised");
    const auto* missing = find(r, "global.expected_sigbus_missing");
    ASSERT_NE(raised, nullptr);
    ASSERT_NE(missing, nullptr);
    EXPECT_TRUE(raised->ok);
    EXPECT_FALSE(missing->ok);
    EXPECT_TRUE(has_diag(*missing, "to raise SIGBUS (Bus error), it completed without one"));
}

TEST(command_line, "HARNESS-07") {
    auto names = [](std::vector<std::string> args) {
        return names_of(run_demo(demo_mixed, std::move(args)));
    };
    using V = std::vector<std::string>;
    EXPECT_TRUE(names({"-t", "passes"}) ==
                (V{"global.passes", "fx.small.passes", "fx.large.passes"}));
    // The first option that matches decides, as in kselftest: to keep
    // variant large without two of its tests, the excludes come first.
    EXPECT_TRUE(names({"-T", "known_bug", "-T", "assert_fails_teardown_runs", "-v", "large"}) ==
                (V{"fx.large.passes"}));
    EXPECT_TRUE(names({"-T", "passes", "-v", "large", "-T", "known_bug"}) ==
                (V{"fx.large.assert_fails_teardown_runs", "fx.large.known_bug"}));
    EXPECT_TRUE(names({"-V", "small", "-T", "known_bug", "-T", "assert_fails_teardown_runs",
                       "-f", "fx"}) == (V{"fx.large.passes"}));
    EXPECT_TRUE(names({"-r", "fx.small.passes"}) == (V{"fx.small.passes"}));
    // Only excludes: everything else runs.
    const V no_global = names({"-F", "global", "-F", "gated", "-T", "known_bug", "-T",
                               "assert_fails_teardown_runs"});
    EXPECT_TRUE(no_global == (V{"fx.small.passes", "fx.large.passes"}));

    // Bad command lines: usage on stderr, exit 2, nothing run (no KTAP).
    for (const V& bad : {V{"-x"}, V{"-t"}, V{"-r", "no.such.test"}, V{"extra"}, V{"-r", ""}}) {
        HARNESS_TRACE("args '%s'", bad[0].c_str());
        const auto p = gmem::util::run_capture([&] {
            V a{demo_mixed};
            a.insert(a.end(), bad.begin(), bad.end());
            return a;
        }());
        EXPECT_EQ(p.exit_code, 2);
        EXPECT_STREQ(p.out, "");
        EXPECT_TRUE(p.err.find("Usage:") != std::string::npos ||
                    p.err.find("no test matches") != std::string::npos);
    }
    const auto help = gmem::util::run_capture({demo_mixed, "-h"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("-r name  run specified test"), std::string::npos);
}

// Known failures read at run time (ci/known-kernel-failures' format): a listed
// test that fails is XFAIL with the entry's reason and where it is listed, one
// that passes is XPASS (a failure: the entry is stale), an entry for another
// kernel changes nothing, an ID entry covers every test naming that ID, and
// the rest of the program runs and counts as before.
TEST(known_failures_file, "HARNESS-01") {
    utsname u{};
    ASSERT_EQ(::uname(&u), 0);
    const gmem::util::TempDir dir("gmem-known");
    const std::string list = dir / "known";
    {
        std::ofstream f(list);
        f << "# a comment, then a blank line\n\n"
          << "*        harness_demo:global.expect_fails_and_continues  kernel bug A (fixed by \"X\")\n"
          << u.release << " harness_demo:fx.*.passes  kernel bug B\n"
          << "no-such-kernel-* harness_demo:global.errno_wrong_value  another kernel's bug\n"
          << "*        CAP-04  kernel bug C\n";
    }
    const DemoRun r = run_demo(demo_mixed,
                               {"-r", "global.expect_fails_and_continues", "-r", "fx.small.passes", "-r",
                                "fx.large.passes", "-r", "global.errno_wrong_value", "-r", "global.passes"},
                               list);
    EXPECT_EQ(r.proc.exit_code, 1);
    const auto* xf = find(r, "global.expect_fails_and_continues");
    ASSERT_TRUE(xf != nullptr);
    EXPECT_TRUE(xf->ok);
    EXPECT_STREQ(xf->directive, "XFAIL");
    EXPECT_STREQ(xf->directive_text, std::string("kernel bug A (fixed by \"X\") [known failure on ") +
                                         u.release + ": " + list + ":3]");
    for (const char* name : {"fx.small.passes", "fx.large.passes"}) {
        HARNESS_TRACE("%s", name);
        const auto* xp = find(r, name);
        ASSERT_TRUE(xp != nullptr);
        EXPECT_FALSE(xp->ok);
        EXPECT_STREQ(xp->directive, "XPASS");
        EXPECT_TRUE(xp->directive_text.starts_with("kernel bug B [known failure on "));
    }
    const auto* other = find(r, "global.errno_wrong_value");
    ASSERT_TRUE(other != nullptr);
    EXPECT_FALSE(other->ok);
    EXPECT_STREQ(other->directive, "");
    const auto* pass = find(r, "global.passes");
    ASSERT_TRUE(pass != nullptr);
    EXPECT_TRUE(pass->ok);
    EXPECT_STREQ(pass->directive, "");
    EXPECT_TRUE(has_line(r.proc.out, "# Totals: pass:1 fail:1 xfail:1 xpass:2 skip:0 error:0"));

    // An ID entry: CAP-04's failing test is XFAIL, its passing test XPASS;
    // tests of other IDs keep their verdicts.
    const DemoRun ids = run_demo(demo_ids, {"-r", "global.expect_fails", "-r", "global.passes_cap04", "-r",
                                            "global.passes"},
                                 list);
    const auto* a = find(ids, "global.expect_fails");
    const auto* b = find(ids, "global.passes_cap04");
    const auto* c = find(ids, "global.passes");
    ASSERT_TRUE(a != nullptr && b != nullptr && c != nullptr);
    EXPECT_STREQ(a->directive, "XFAIL");
    EXPECT_STREQ(b->directive, "XPASS");
    EXPECT_STREQ(c->directive, "");
    EXPECT_TRUE(c->ok);

    // Without the file's entries the same tests give their raw verdicts.
    const DemoRun raw = run_demo(demo_mixed, {"-r", "global.expect_fails_and_continues", "-r", "fx.small.passes"});
    EXPECT_TRUE(has_line(raw.proc.out, "# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0"));
}

// A known-failures file that cannot be read, or a line that is not an entry:
// exit 2 naming the file and line, nothing run.
TEST(known_failures_bad_file, "HARNESS-01") {
    const gmem::util::TempDir dir("gmem-known");
    struct Case {
        const char* text;
        const char* message;
    };
    for (const Case c : {Case{"* harness_demo:global.passes\n", ":1: not '<kernel glob> <ID or PROGRAM:TEST> <reason>'"},
                         Case{"# c\n* harness_demo a whole program\n",
                              ":2: 'harness_demo' is neither a behaviour ID nor PROGRAM:TEST"},
                         Case{"* NOPE-99 no such ID\n", ":1: NOPE-99 is not a behaviour ID of spec/BEHAVIORS.md"}}) {
        HARNESS_TRACE("file: %s", c.text);
        const std::string list = dir / "known";
        {
            std::ofstream f(list, std::ios::trunc);
            f << c.text;
        }
        const DemoRun r = run_demo(demo_mixed, {"-r", "global.passes"}, list);
        EXPECT_EQ(r.proc.exit_code, 2);
        EXPECT_STREQ(r.proc.out, "");
        EXPECT_NE(r.proc.err.find("known failures: " + list + c.message), std::string::npos);
    }
    const DemoRun missing = run_demo(demo_mixed, {"-r", "global.passes"}, dir / "absent");
    EXPECT_EQ(missing.proc.exit_code, 2);
    EXPECT_NE(missing.proc.err.find("known failures: " + (dir / "absent") + ": cannot read"), std::string::npos);
}

TEST_HARNESS_MAIN
