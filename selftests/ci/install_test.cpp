// The installed corpus as a user on the machine under test sees it:
// `cmake --install` of this build into a temporary prefix
// (cmake/GmemInstall.cmake), its runner run_kselftest.sh started from another
// directory: the list (kselftest's collection:program format), one nokvm
// collection run for real (KTAP that parses, each program as a subtest, the
// per-program files, exit 0), with the source and build trees hidden when a
// private mount namespace is possible, so a program that still reaches for a
// build-tree path fails here.
//
// The runner's own logic (every verdict it can give, the kselftest exit
// codes 0 / 1 / 4 and 2 for bad usage, timeouts, selection, the report's
// condition, the hook) is checked on a synthetic tree of shell-script
// programs, under every POSIX shell the machine has (dash, busybox sh, bash):
// ci/run-kernel's VM runs it with busybox.
#include "gmem/util/ktap.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/tempdir.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using gmem::util::contains;
using gmem::util::has_line;
using gmem::util::ProcessResult;
using gmem::util::TempDir;

namespace {

const std::string source_dir = GMEM_SOURCE_DIR;
const std::string binary_dir = GMEM_BINARY_DIR;
const std::string runner_source = source_dir + "/ci/install/run_kselftest.sh";

// The cheap collection run for real: no KVM, a second or two, and it finds
// the most helper files relative to itself (data/, the demos, ../spec,
// ../bin/gmem-report).
const std::string real_collection = "report";

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

bool write_file(const std::string& path, const std::string& text, bool exec = false) {
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f) return false;
    }
    if (exec) fs::permissions(path, fs::perms::owner_all | fs::perms::group_read |
                                        fs::perms::group_exec | fs::perms::others_read |
                                        fs::perms::others_exec);
    return true;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::string_view t = text;
    while (!t.empty()) out.emplace_back(gmem::util::next_line(t));
    return out;
}

// `script args...` with `shell` (empty: by its #! line), from directory `cwd`,
// stdin from /dev/null.
ProcessResult run_in(const std::string& cwd, const std::string& shell, const std::string& script,
                     const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\" </dev/null", cwd};
    if (!shell.empty()) {
        std::istringstream words(shell);
        for (std::string w; words >> w;) argv.push_back(w);
    }
    argv.push_back(script);
    argv.insert(argv.end(), args.begin(), args.end());
    return gmem::util::run_capture(argv, env);
}

void log_output(const ProcessResult& r) {
    TH_LOG("exit %d (signal %d)\nstdout:\n%s\nstderr:\n%s", r.exit_code, r.term_signal,
           r.out.c_str(), r.err.c_str());
}

// The shells to run the runner with: the system's /bin/sh and whichever of
// busybox sh and bash exist.
std::vector<std::string> shells() {
    std::vector<std::string> s = {"/bin/sh"};
    for (const char* b : {"/bin/busybox", "/usr/bin/busybox"})
        if (fs::exists(b)) {
            s.push_back(std::string(b) + " sh");
            break;
        }
    if (fs::exists("/bin/bash")) s.push_back("/bin/bash");
    return s;
}

// ---- a synthetic installed tree: the real runner, shell-script programs
struct FakeTree {
    TempDir dir{"gmem-fake-tree"};
    std::string root = dir / "tree";
    std::string hook_log = dir / "hook.log";
    std::string report_log = dir / "report.log";

    FakeTree() {
        fs::create_directories(root + "/fake");
        fs::create_directories(root + "/other");
        fs::create_directories(root + "/bin");
        fs::copy_file(runner_source, root + "/run_kselftest.sh");
        write_file(root + "/kselftest-list.txt",
                   "fake:passes\nfake:skips\nfake:fails\nfake:hangs\nother:missing\nother:also_passes\n");
        write_file(root + "/kselftest-labels.txt",
                   "fake:passes nokvm corpus fake\nfake:skips kvm fake\nfake:fails nokvm fake\n"
                   "fake:hangs nokvm fake\nother:missing nokvm other\nother:also_passes nokvm corpus other\n");
        write_file(root + "/VERSION", "v9.9-test\n");
        // kselftest's key, then ours: per-program timeouts win over timeout=.
        write_file(root + "/fake/settings", "# comment\ntimeout=2\ntimeout_hangs=1\n");
        write_file(root + "/other/settings", "timeout=7\n");
        const std::string ktap_ok = "echo 'KTAP version 1'; echo '1..1'; echo \"ok 1 global.t\"";
        write_file(root + "/fake/passes",
                   "#!/bin/sh\n" + ktap_ok + "\necho \"# args: $*\"\necho \"# cwd: $(pwd)\"\n"
                   "echo \"# ktapdir: $GMEM_KTAP_DIR\"\nprintf 'no newline at the end'\nexit 0\n",
                   true);
        write_file(root + "/fake/skips", "#!/bin/sh\necho '1..0 # SKIP nothing here'\nexit 4\n", true);
        write_file(root + "/fake/fails", "#!/bin/sh\necho 'not ok 1 global.t'\nexit 1\n", true);
        write_file(root + "/fake/hangs", "#!/bin/sh\necho 'hanging'\nexec sleep 30\n", true);
        write_file(root + "/other/also_passes", "#!/bin/sh\n" + ktap_ok + "\n", true);
        write_file(root + "/bin/gmem-report",
                   "#!/bin/sh\necho \"$*\" >>'" + report_log + "'\necho 'short form of the report'\nexit 0\n",
                   true);
    }
    std::vector<std::string> env() const {
        return {"GMEM_RUN_HOOK=" + root + "/../hook", "TMPDIR=" + dir.path};
    }
    void make_hook() const {
        write_file(dir / "hook", "#!/bin/sh\necho \"$*\" >>'" + hook_log + "'\n", true);
    }
};

const gmem::ktap::TestResult* find(const gmem::ktap::Document& d, const std::string& name) {
    for (const auto& t : d.tests)
        if (t.name == name) return &t;
    return nullptr;
}

} // namespace

// -l lists collection:program lines; selections and bad usage (exit 2,
// nothing run) behave as in kselftest's runner.
TEST(fake_tree_list_and_usage, "TOOLS-05") {
    const FakeTree t;
    const TempDir elsewhere;
    const std::string runner = t.root + "/run_kselftest.sh";
    for (const auto& sh : shells()) {
        HARNESS_TRACE("shell %s", sh.c_str());
        auto r = run_in(elsewhere.path, sh, runner, {"-l"});
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_STREQ(r.out, slurp(t.root + "/kselftest-list.txt"));
        r = run_in(elsewhere.path, sh, runner, {"-c", "other", "-l"});
        EXPECT_STREQ(r.out, "other:missing\nother:also_passes\n");
        r = run_in(elsewhere.path, sh, runner, {"-L", "corpus", "-l"});
        EXPECT_STREQ(r.out, "fake:passes\nother:also_passes\n");
        r = run_in(elsewhere.path, sh, runner, {"-c", "fake", "-S", "fake:hangs", "-t", "other:also_passes", "-l"});
        EXPECT_STREQ(r.out, "fake:passes\nfake:skips\nfake:fails\nother:also_passes\n");
        struct Bad {
            std::vector<std::string> args;
            std::string message;
        };
        for (const Bad& b : {Bad{{"--frobnicate"}, "unknown option '--frobnicate'"},
                             Bad{{"-t", "fake:nosuch"}, "no such test 'fake:nosuch'"},
                             Bad{{"-c", "nosuch"}, "no such collection 'nosuch'"},
                             Bad{{"-L", "nosuch"}, "no program has label 'nosuch'"},
                             Bad{{"-t"}, "option -t needs a value"},
                             Bad{{"--timeout-scale", "x"}, "--timeout-scale needs a positive integer"}}) {
            HARNESS_TRACE("args %s", b.args[0].c_str());
            r = run_in(elsewhere.path, sh, runner, b.args);
            EXPECT_EQ(r.exit_code, 2);
            EXPECT_TRUE(contains(r.err, b.message));
            EXPECT_STREQ(r.out, "");
        }
        EXPECT_FALSE(fs::exists(elsewhere.path + "/kselftest.ktap"));
    }
}

// One KTAP stream with every program as a subtest: pass, SKIP, exit=N,
// TIMEOUT, a missing program; kselftest's exit codes; the per-program files.
TEST_TIMEOUT(fake_tree_verdicts_and_exit_codes, 90, "TOOLS-05") {
    const FakeTree t;
    t.make_hook();
    const TempDir elsewhere;
    const std::string runner = t.root + "/run_kselftest.sh";
    for (const auto& sh : shells()) {
        HARNESS_TRACE("shell %s", sh.c_str());
        fs::remove(t.hook_log);
        const std::string out = elsewhere / "out";
        auto r = run_in(elsewhere.path, sh, runner, {"-o", "out", "-c", "fake", "-c", "other"}, t.env());
        EXPECT_EQ(r.exit_code, 1);
        const auto doc = gmem::ktap::parse(r.out);
        EXPECT_TRUE(doc.errors.empty());
        EXPECT_STREQ(doc.version, "TAP version 13");
        ASSERT_EQ(doc.tests.size(), 6u);
        const auto* pass = find(doc, "selftests: fake: passes");
        const auto* skip = find(doc, "selftests: fake: skips");
        const auto* fail = find(doc, "selftests: fake: fails");
        const auto* hang = find(doc, "selftests: fake: hangs");
        const auto* missing = find(doc, "selftests: other: missing");
        ASSERT_TRUE(pass && skip && fail && hang && missing);
        EXPECT_TRUE(pass->ok && pass->directive.empty());
        EXPECT_TRUE(skip->ok);
        EXPECT_STREQ(skip->directive, "SKIP");
        EXPECT_FALSE(fail->ok);
        EXPECT_STREQ(fail->directive_text, "exit=1");
        EXPECT_FALSE(hang->ok);
        EXPECT_STREQ(hang->directive, "TIMEOUT");
        EXPECT_STREQ(hang->directive_text, "1 seconds");
        EXPECT_FALSE(missing->ok);
        EXPECT_STREQ(missing->directive_text, "exit=127");
        // kselftest's lines around each program; its output as "# " lines.
        EXPECT_TRUE(has_line(r.out, "# timeout set to 2"));
        EXPECT_TRUE(has_line(r.out, "# timeout set to 1"));
        EXPECT_TRUE(has_line(r.out, "# selftests: fake: passes"));
        EXPECT_TRUE(has_line(r.out, "# ok 1 global.t"));
        EXPECT_TRUE(has_line(r.out, "# # args: "));
        EXPECT_TRUE(has_line(r.out, "# # cwd: " + fs::canonical(t.root).string() + "/fake"));
        EXPECT_TRUE(has_line(r.out, "# # ktapdir: " + fs::canonical(out).string() + "/ktap"));
        EXPECT_TRUE(has_line(r.out, "# no newline at the end"));
        EXPECT_TRUE(has_line(r.out, "# Warning: file other/missing is missing!"));
        EXPECT_TRUE(has_line(r.out, "# Totals: pass:2 fail:3 xfail:0 xpass:0 skip:1 error:0"));
        // Not every corpus program passed? It ran: the report is written.
        EXPECT_TRUE(has_line(r.out, "# short form of the report"));
        // The stream is also in OUT, and each program's output in its log.
        EXPECT_STREQ(slurp(out + "/kselftest.ktap"), r.out);
        EXPECT_TRUE(contains(slurp(out + "/log/passes.log"), "ok 1 global.t\n# args: \n"));
        EXPECT_STREQ(slurp(out + "/log/hangs.log"), "hanging\n");
        // The hook saw each program start and end, the timeout flagged.
        const std::string hooks = slurp(t.hook_log);
        EXPECT_TRUE(has_line(hooks, "start fake passes 2"));
        EXPECT_TRUE(has_line(hooks, "end fake passes 0 0") || has_line(hooks, "end fake passes 0 1"));
        EXPECT_TRUE(has_line(hooks, "end fake skips 4 0") || has_line(hooks, "end fake skips 4 1"));
        EXPECT_TRUE(contains(hooks, "end fake hangs ") && contains(hooks, " timeout\n"));
        EXPECT_TRUE(has_line(hooks, "start other also_passes 7"));
        if (harness::test_failed()) log_output(r);
    }

    const std::string runner_sh = shells().back();
    struct Case {
        std::vector<std::string> args;
        int exit_code;
    };
    for (const Case& c : {Case{{"-t", "fake:passes"}, 0}, Case{{"-t", "fake:skips"}, 4},
                          Case{{"-t", "fake:passes", "-t", "fake:skips"}, 0},
                          Case{{"-t", "fake:fails", "-t", "fake:skips"}, 1},
                          Case{{"-f", "-t", "fake:fails"}, 0}}) {
        HARNESS_TRACE("%s %s", c.args[0].c_str(), c.args[1].c_str());
        auto args = c.args;
        args.insert(args.begin(), {"-o", elsewhere / "sel"});
        const auto r = run_in(elsewhere.path, runner_sh, runner, args, t.env());
        EXPECT_EQ(r.exit_code, c.exit_code);
        EXPECT_TRUE(gmem::ktap::parse(r.out).errors.empty());
    }
}

// Timeouts (scale, override, kselftest's numeric -o), program arguments
// (after --, KSELFTEST_<PROGRAM>_ARGS), and the report only after every
// corpus program ran without extra arguments.
TEST(fake_tree_timeouts_arguments_report, "TOOLS-05") {
    const FakeTree t;
    const TempDir elsewhere;
    const std::string runner = t.root + "/run_kselftest.sh";
    const std::string o = elsewhere / "out";
    const std::vector<std::string> env = {"TMPDIR=" + t.dir.path};
    auto r = run_in(elsewhere.path, "", runner, {"-o", o, "-t", "fake:passes", "--timeout-scale", "3"});
    EXPECT_TRUE(has_line(r.out, "# timeout set to 6"));
    r = run_in(elsewhere.path, "", runner, {"-o", o, "-t", "fake:passes", "--override-timeout", "9"});
    EXPECT_TRUE(has_line(r.out, "# timeout set to 9"));
    r = run_in(elsewhere.path, "", runner, {"-o", "11", "-t", "fake:passes"}, env);
    EXPECT_TRUE(has_line(r.out, "# timeout set to 11"));
    EXPECT_TRUE(contains(r.out, "-o 11 taken as kselftest's --override-timeout"));
    EXPECT_FALSE(fs::exists(elsewhere / "11"));

    r = run_in(elsewhere.path, "", runner, {"-o", o, "-t", "fake:passes", "--", "-r", "a b"});
    EXPECT_TRUE(has_line(r.out, "# # args: -r a b"));
    EXPECT_TRUE(has_line(r.out, "# no conformance report: programs ran with extra arguments"));
    r = run_in(elsewhere.path, "", runner, {"-o", o, "-t", "fake:passes"},
               {"KSELFTEST_PASSES_ARGS=-v x"});
    EXPECT_TRUE(has_line(r.out, "# # args: -v x"));

    // Only one of the two corpus programs: no report.
    fs::remove(t.report_log);
    r = run_in(elsewhere.path, "", runner, {"-o", o, "-t", "fake:passes"});
    EXPECT_TRUE(contains(r.out, "# no conformance report: not every corpus program ran"));
    EXPECT_FALSE(fs::exists(t.report_log));
    // Both (-L corpus): gmem-report list, then build with the tree's spec,
    // VERSION and the output directory's files.
    r = run_in(elsewhere.path, "", runner, {"-o", o, "-L", "corpus"});
    EXPECT_EQ(r.exit_code, 0);
    const auto calls = lines_of(slurp(t.report_log));
    ASSERT_EQ(calls.size(), 2u);
    const std::string base = fs::canonical(t.root).string();
    const std::string out = fs::canonical(o).string();
    EXPECT_STREQ(calls[0], "list --ctest-json " + out + "/report-input/corpus-tests.json --out " +
                               out + "/report-input/ktap");
    EXPECT_STREQ(calls[1], "build --ktap-dir " + out + "/report-input/ktap --spec " + base +
                               "/spec/BEHAVIORS.md --corpus-version v9.9-test --json " + out +
                               "/report.json --markdown " + out +
                               "/report.md --probe-note no gmem-probe --json output");
    EXPECT_STREQ(slurp(out + "/report-input/corpus-tests.json"),
                 R"({"kind":"ctestInfo","tests":[{"name":"passes","command":[")" + base +
                     R"(/fake/passes"]},{"name":"also_passes","command":[")" + base +
                     "/other/also_passes\"]}]}\n");
    if (harness::test_failed()) log_output(r);
}

// The real tree: cmake --install into a temporary prefix, listed and run
// (one nokvm collection) from another directory.
TEST_TIMEOUT(installed_tree_lists_and_runs, 110, "TOOLS-05") {
    TempDir tmp("gmem-install-test");
    fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
    const std::string prefix = tmp / "prefix";
    const auto inst = gmem::util::run_capture(
        {GMEM_CMAKE_COMMAND, "--install", binary_dir, "--prefix", prefix});
    if (inst.exit_code != 0) log_output(inst);
    ASSERT_EQ(inst.exit_code, 0);

    // Everything a run needs, at the top and in bin/, spec/.
    for (const char* f : {"run_kselftest.sh", "kselftest-list.txt", "kselftest-labels.txt", "VERSION",
                          "bin/gmem-probe", "bin/gmem-report", "bin/gmem-summary", "spec/BEHAVIORS.md"}) {
        HARNESS_TRACE("file %s", f);
        EXPECT_TRUE(fs::exists(prefix + "/" + f));
    }
    const std::string list = slurp(prefix + "/kselftest-list.txt");
    const std::regex entry("[a-z][a-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*");
    for (const auto& l : lines_of(list)) {
        HARNESS_TRACE("entry %s", l.c_str());
        EXPECT_TRUE(std::regex_match(l, entry));
        const std::string coll = l.substr(0, l.find(':'));
        const std::string prog = l.substr(l.find(':') + 1);
        EXPECT_TRUE(fs::is_regular_file(prefix + "/" + coll + "/" + prog));
        EXPECT_TRUE(std::regex_search(slurp(prefix + "/" + coll + "/settings"),
                                      std::regex("(^|\n)timeout=[1-9][0-9]*\n")));
    }
    EXPECT_TRUE(has_line(list, "harness:harness_test"));
    EXPECT_TRUE(has_line(list, "report:report_test"));
    EXPECT_FALSE(contains(list, "ci:")); // the tooling checks stay home
    const std::string labels = slurp(prefix + "/kselftest-labels.txt");
    EXPECT_TRUE(std::regex_search(labels, std::regex("(^|\n)harness:harness_test [^\n]*\\bcorpus\\b")));
    EXPECT_FALSE(std::regex_search(labels, std::regex("(^|\n)report:report_test [^\n]*\\bcorpus\\b")));

    // From elsewhere, with the source and build trees out of sight when a
    // private mount namespace can hide them (root): a program that still uses
    // a build-tree path fails.
    const std::string cwd = tmp / "elsewhere";
    fs::create_directories(cwd);
    const std::string runner = prefix + "/run_kselftest.sh";
    // The run as a script: the mounts (in a private namespace), then the runner.
    std::string mounts;
    for (const auto& d : {binary_dir, source_dir}) mounts += "mount -t tmpfs -o ro none '" + d + "' || exit 97\n";
    const std::string hidden_sh = tmp / "hidden.sh";
    const std::string plain_sh = tmp / "plain.sh";
    const std::string tail = "cd '" + cwd + "' || exit 97\nexec '" + runner + "' \"$@\" </dev/null\n";
    ASSERT_TRUE(write_file(hidden_sh, mounts + tail));
    ASSERT_TRUE(write_file(plain_sh, tail));
    const std::string unshare = "exec unshare --mount --propagation private /bin/sh \"$0\" \"$@\"";
    const auto probe = gmem::util::run_capture({"/bin/sh", "-c", unshare, hidden_sh, "-l"});
    const bool hidden = probe.exit_code == 0;
    if (!hidden) TH_LOG("source and build trees not hidden (no private mount namespace: %s)", probe.err.c_str());
    auto run = [&](const std::vector<std::string>& args) {
        std::vector<std::string> argv = {"/bin/sh", "-c", hidden ? unshare : "exec /bin/sh \"$0\" \"$@\"",
                                         hidden ? hidden_sh : plain_sh};
        argv.insert(argv.end(), args.begin(), args.end());
        return gmem::util::run_capture(argv);
    };

    auto r = run({"-l"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_STREQ(r.out, list);

    const std::string out = tmp / "out";
    r = run({"-c", real_collection, "-o", out});
    EXPECT_EQ(r.exit_code, 0);
    const auto doc = gmem::ktap::parse(r.out);
    EXPECT_TRUE(doc.errors.empty());
    for (const auto& e : doc.errors) TH_LOG("KTAP: %s", e.c_str());
    std::vector<std::string> progs;
    for (const auto& l : lines_of(list))
        if (l.starts_with(real_collection + ":")) progs.push_back(l.substr(real_collection.size() + 1));
    ASSERT_EQ(doc.tests.size(), progs.size());
    for (size_t i = 0; i < progs.size(); ++i) {
        HARNESS_TRACE("program %s", progs[i].c_str());
        const std::string name = "selftests: " + real_collection + ": " + progs[i];
        EXPECT_STREQ(doc.tests[i].name, name);
        EXPECT_TRUE(doc.tests[i].ok);
        EXPECT_TRUE(has_line(r.out, "# " + name));
        // Its own KTAP (the harness's copy) parses and passed.
        const auto own = gmem::ktap::parse(slurp(out + "/ktap/" + progs[i] + ".ktap"));
        EXPECT_TRUE(own.errors.empty());
        EXPECT_FALSE(own.tests.empty());
        for (const auto& t : own.tests) {
            HARNESS_TRACE("test %s", t.name.c_str());
            EXPECT_TRUE(t.ok);
        }
    }
    EXPECT_TRUE(has_line(r.out, "# Totals: pass:" + std::to_string(progs.size()) +
                                    " fail:0 xfail:0 xpass:0 skip:0 error:0"));
    EXPECT_TRUE(contains(r.out, "# no conformance report: not every corpus program ran"));
    EXPECT_STREQ(slurp(out + "/kselftest.ktap"), r.out);
    if (harness::test_failed()) log_output(r);
}

TEST_HARNESS_MAIN
