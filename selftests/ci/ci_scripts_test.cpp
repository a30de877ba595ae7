// The VM-runner scripts of ci/ refuse bad input, and the negative-control
// verdict (ci/vm/check-negative-control) can fail. A check that cannot fail
// proves nothing: every verdict the checker gives is provoked here on KTAP
// written the way the harness writes it, and every usage error the scripts
// document is asserted (exact exit status and a distinctive message).
//
// No VM boots and nothing is installed or fetched: every script runs with a
// directory of stubs first on PATH (apt-get, apt-cache, dpkg, dpkg-query,
// dpkg-deb, qemu-system-x86_64, cmake, ctest, ...) that log their call and
// fail, and the cases that must end at argument checking assert that no stub
// was called.
//
// Behaviour IDs: TOOLS-03 (run-kernel and bisect-kernel: documented exit
// codes, bad input -> a message and exit 2), TOOLS-04 (build-kernel: the
// same recipe gives the same cached image, a patch that does not apply stops
// the build naming the patch and the file) and TOOLS-05 (ci/lava/run-lava:
// bad input, and its verdicts from LAVA's log stream, never from lava-run's
// exit code; the real LAVA run is ci/test's lava step) of spec/BEHAVIORS.md;
// beside them
// the harness's own: HARNESS-07 (an unknown option prints usage and exits 2,
// nothing run) for the scripts' usage errors, HARNESS-01 (exit status from
// PASS / FAIL / SKIP results) for the checker's verdicts, and HARNESS-02
// (KTAP v1 that a KTAP parser accepts) for the checker reading a real
// harness program's output. This program is not labelled corpus, so these
// tests do not count toward the conformance report's rows.
//
// build-kernel is run on a fake kernel tree (a Makefile, arch/x86/,
// scripts/kconfig/merge_config.sh: what its tree check asks for) with make
// a stub, so no kernel is ever configured or built here.
#include "gmem/util/ktap.hpp"
#include "gmem/util/process.hpp"
#include "gmem/util/tempdir.hpp"
#include "gmem/util/text.hpp"
#include "harness/harness.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

using gmem::util::contains;
using gmem::util::has_line;
using gmem::util::TempDir;

namespace fs = std::filesystem;
using gmem::util::ProcessResult;

namespace {

const std::string source_dir = GMEM_SOURCE_DIR;
const std::string binary_dir = GMEM_BINARY_DIR; // configured: has CTestTestfile.cmake
const std::string run_kernel = source_dir + "/ci/run-kernel";
const std::string bisect_kernel = source_dir + "/ci/bisect-kernel";
const std::string kernel_matrix = source_dir + "/ci/kernel-matrix";
const std::string build_kernel = source_dir + "/ci/build-kernel";
const std::string mutate_kernel = source_dir + "/ci/mutate-kernel";
const std::string check_nc = source_dir + "/ci/vm/check-negative-control";
const std::string run_lava = source_dir + "/ci/lava/run-lava";

// What the gates print when a kernel has no guest_memfd (kvm/gate.cpp).
const std::string no_gmem_reason = "KVM_CAP_GUEST_MEMFD is 0 on KVM_X86_DEFAULT_VM (0)";

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    return static_cast<bool>(f);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string chomp(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// Programs a script must not reach while it is still checking its arguments:
// package managers, the kernel fetch, CTest/CMake, the VM.
const std::initializer_list<const char*> all_stubs = {
    "apt-get", "apt-cache", "apt", "dpkg", "dpkg-query", "dpkg-deb", "qemu-system-x86_64",
    "cmake", "ctest", "sudo", "curl", "wget", "git", "lava-run"};

// A directory of stand-ins, put first on PATH: each logs "name args" to the
// log file and exits 97.
struct Stubs {
    TempDir dir;
    std::string log = dir / "calls.log";
    std::string bin = dir / "bin";

    explicit Stubs(std::initializer_list<const char*> names = all_stubs) {
        fs::create_directory(bin);
        for (const char* name : names) {
            const std::string path = bin + "/" + name;
            write_file(path, "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>\"$GMEM_STUB_LOG\"\nexit 97\n");
            fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace);
        }
    }
    // A stand-in that answers (`script` is its body after #!/bin/sh) and logs
    // nothing: what a script may ask without fetching or building anything.
    void answer(const char* name, const std::string& script) const {
        const std::string path = bin + "/" + name;
        write_file(path, "#!/bin/sh\n" + script);
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace);
    }
    std::vector<std::string> env() const {
        const char* path = std::getenv("PATH");
        return {"PATH=" + bin + ":" + (path ? path : "/usr/bin:/bin"), "GMEM_STUB_LOG=" + log};
    }
    std::string calls() const { return read_file(log); }
};

// Runs a script as its users do (by path: its #! line and exec bit count),
// with stdin from /dev/null so that nothing can wait on a terminal.
ProcessResult run(const std::string& script, const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" </dev/null", script};
    argv.insert(argv.end(), args.begin(), args.end());
    return gmem::util::run_capture(argv, env);
}

// The exit status must be `code` and `text` (the named stream) must contain
// `needle`; on a mismatch the script's whole output is printed.
void expect_run(const ProcessResult& r, int code, const char* which, const std::string& text,
                const std::string& needle, const char* file, int line) {
    bool bad = false;
    if (r.exit_code != code || r.term_signal != 0) {
        harness::fail_here(file, line,
                           harness::strf("Expected exit status %d, got %d (signal %d)", code,
                                         r.exit_code, r.term_signal),
                           false);
        bad = true;
    }
    if (!contains(text, needle)) {
        harness::fail_here(file, line,
                           harness::strf("Expected %s to contain \"%s\"", which, needle.c_str()),
                           false);
        bad = true;
    }
    if (bad) TH_LOG("stdout:\n%s\nstderr:\n%s", chomp(r.out).c_str(), chomp(r.err).c_str());
}
#define EXPECT_RUN(r, code, stream, needle)                                                        \
    expect_run((r), (code), #stream, (r).stream, (needle), __FILE__, __LINE__)

// No stub was called: the script stopped before any package, network or VM step.
#define EXPECT_NO_CALLS(stubs) EXPECT_STREQ((stubs).calls(), "")

// ---- KTAP as the harness writes it (lib/harness/harness.cpp) ----
struct Check {
    std::string name;   // fixture[.variant].test
    std::string ids;    // "CREATE-01"
    std::string result; // "pass", "fail", "timeout", or the SKIP reason after "skip:"
};

std::string ktap(const std::vector<Check>& checks) {
    std::string t = "KTAP version 1\n1.." + std::to_string(checks.size()) + "\n";
    unsigned n = 0, pass = 0, fail = 0, skip = 0;
    for (const auto& c : checks) {
        const std::string num = std::to_string(++n);
        t += "#  RUN           " + c.name + " ...\n";
        if (!c.ids.empty()) t += "# ids: " + c.ids + "\n";
        if (c.result == "pass") {
            ++pass;
            t += "#            OK  " + c.name + "\nok " + num + " " + c.name + "\n";
        } else if (c.result == "fail") {
            ++fail;
            t += "# " + c.name + ".cpp:12:Expected fd (-1) >= 0 (0)\n";
            t += "#     FAIL       " + c.name + "\nnot ok " + num + " " + c.name + "\n";
        } else if (c.result == "timeout") {
            ++fail;
            t += "# " + c.name + ": Test terminated by timeout\n";
            t += "#     FAIL       " + c.name + "\nnot ok " + num + " " + c.name +
                 " # TIMEOUT 30 seconds\n";
        } else {
            ++skip;
            const std::string why = c.result.substr(5); // "skip:"
            t += "#      SKIP      " + why + "\nok " + num + " " + c.name + " # SKIP " + why + "\n";
        }
    }
    t += harness::strf("# %s: %u / %zu tests passed.\n", fail ? "FAILED" : "PASSED", pass,
                       checks.size());
    t += harness::strf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n", pass, fail,
                       skip);
    return t;
}

// Writes dir/<program>.ktap; the text must be KTAP our own strict reader
// accepts, so that the checker is tested on what the harness really prints.
void write_ktap(const TempDir& dir, const std::string& program, const std::vector<Check>& checks) {
    const std::string text = ktap(checks);
    const auto doc = gmem::ktap::parse(text);
    for (const auto& e : doc.errors) TH_LOG("fixture %s: %s", program.c_str(), e.c_str());
    ASSERT_TRUE(doc.errors.empty());
    ASSERT_EQ(doc.tests.size(), checks.size());
    ASSERT_TRUE(write_file(dir / (program + ".ktap"), text));
}

ProcessResult check_negative_control(const std::vector<std::string>& args) {
    const Stubs stubs;
    auto r = run(check_nc, args, stubs.env());
    EXPECT_NO_CALLS(stubs);
    return r;
}

} // namespace

// -------------------------------------------------------------- the stubs --
// EXPECT_NO_CALLS can fail: a stub on PATH is what a script reaches, and a
// script that gets past its argument checks calls one (bisect-kernel --local
// lists the build's tests with ctest).
TEST(stubs_see_script_calls, "HARNESS-07") {
    {
        const Stubs stubs;
        const auto r = run("/bin/sh", {"-c", "apt-get update && echo unreachable"}, stubs.env());
        EXPECT_EQ(r.exit_code, 97);
        EXPECT_STREQ(r.out, "");
        EXPECT_STREQ(stubs.calls(), "apt-get update\n");
    }
    {
        const Stubs stubs;
        const auto r = run(bisect_kernel, {"--local", "-p", "no_such_program", "-b", binary_dir},
                           stubs.env());
        EXPECT_RUN(r, 255, err, "bisect-kernel: ctest cannot list the tests of " + binary_dir);
        EXPECT_STREQ(stubs.calls(), "ctest --test-dir " + binary_dir + " --show-only=json-v1\n");
    }
}

// ------------------------------------------------ check-negative-control --
// 1a: the control holds: the gmem check SKIPs naming the missing capability,
// a check that needs no guest_memfd (CAP-01) may pass.
TEST(negative_control_holds, "HARNESS-01") {
    TempDir d;
    write_ktap(d, "guest_memfd_create_test",
               {{"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason},
                {"global.api_version", "CAP-01", "pass"}});
    const auto r = check_negative_control({d.path});
    EXPECT_RUN(r, 0, out,
               "ok    guest_memfd_create_test:gmem.size_zero [CREATE-01]: SKIP " + no_gmem_reason);
    EXPECT_TRUE(has_line(r.out, "negative control: 1 guest_memfd check(s) SKIPped for a missing "
                                "capability; other checks: 1 passed, 0 skipped"));
    EXPECT_FALSE(contains(r.out, "problem"));
    EXPECT_STREQ(r.err, "");
}

// 1b: a gmem check that PASSES on a kernel without guest_memfd is wrong.
TEST(negative_control_gmem_check_passed, "HARNESS-01") {
    TempDir d;
    write_ktap(d, "guest_memfd_create_test",
               {{"gmem.size_zero", "CREATE-01", "pass"},
                {"gmem.unaligned", "CREATE-02", "skip:" + no_gmem_reason},
                {"global.api_version", "CAP-01", "pass"}});
    const auto r = check_negative_control({d.path});
    EXPECT_RUN(r, 1, out,
               "FAIL  guest_memfd_create_test:gmem.size_zero [CREATE-01]: PASSED on a kernel "
               "without guest_memfd");
    EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
}

// 1c: a gmem check that SKIPs, but not for a missing capability: it proves
// nothing about this kernel.
TEST(negative_control_wrong_skip_reason, "HARNESS-01") {
    TempDir d;
    write_ktap(d, "guest_memfd_mmap_test",
               {{"gmem.mbind", "MMAP-09", "skip:needs 2 NUMA nodes, this machine has 1"},
                {"gmem.sigbus", "MMAP-04", "skip:" + no_gmem_reason}});
    const auto r = check_negative_control({d.path});
    EXPECT_RUN(r, 1, out,
               "FAIL  guest_memfd_mmap_test:gmem.mbind [MMAP-09]: SKIP for the wrong reason: "
               "\"needs 2 NUMA nodes, this machine has 1\"");
    EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
}

// 1d: any "not ok" fails the control, gmem check or not, timeouts included.
TEST(negative_control_not_ok, "HARNESS-01") {
    TempDir d;
    write_ktap(d, "capability_test",
               {{"global.api_version", "CAP-01", "fail"},
                {"global.vm_types", "CAP-02", "pass"}});
    write_ktap(d, "guest_memfd_create_test",
               {{"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason},
                {"gmem.hangs", "CREATE-02", "timeout"}});
    const auto r = check_negative_control({d.path});
    EXPECT_RUN(r, 1, out, "FAIL  capability_test:global.api_version [CAP-01]: the check failed");
    EXPECT_TRUE(has_line(r.out, "FAIL  guest_memfd_create_test:gmem.hangs [CREATE-02]: the check "
                                "failed"));
    EXPECT_TRUE(has_line(r.out, "negative control: 1 guest_memfd check(s) SKIPped for a missing "
                                "capability; other checks: 1 passed, 0 skipped"));
    EXPECT_TRUE(has_line(r.out, "negative control: 2 problem(s)"));
}

// 1e: a file that is not KTAP (another first line, or nothing at all: a
// program that died before printing) fails the control, also next to a good one.
TEST(negative_control_not_ktap, "HARNESS-01") {
    {
        TempDir d;
        write_ktap(d, "good",
                   {{"global.api_version", "CAP-01", "pass"},
                    {"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason}});
        ASSERT_TRUE(write_file(d / "tap13.ktap", "TAP version 13\n1..1\nok 1 global.x\n"));
        const auto r = check_negative_control({d.path});
        EXPECT_RUN(r, 1, out, "BAD   tap13: not KTAP (first line: TAP version 13)");
        EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
    }
    {
        TempDir d;
        write_ktap(d, "good",
                   {{"global.api_version", "CAP-01", "pass"},
                    {"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason}});
        ASSERT_TRUE(write_file(d / "silent.ktap", ""));
        const auto r = check_negative_control({d.path});
        EXPECT_RUN(r, 1, out, "BAD   silent: not KTAP (empty file)");
        EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
    }
}

// 1f: bad usage is 2, with nothing checked (no verdict on stdout).
TEST(negative_control_bad_usage, "HARNESS-07") {
    TempDir d;
    const std::string file = d / "not_a_dir.ktap";
    ASSERT_TRUE(write_file(file, "KTAP version 1\n1..0\n"));
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{}, "check-negative-control: no KTAP directory given"},
        {{file}, "'" + file + "' is not one"},
        {{"/nonexistent/ktap"}, "'/nonexistent/ktap' is not one"},
        {{"--frobnicate", d.path}, "check-negative-control: unknown option '--frobnicate'"},
        {{d.path, "--gmem-ids"}, "--gmem-ids needs a regex"},
        {{d.path, d.path}, "one KTAP directory only"},
    };
    for (const auto& c : cases) {
        std::string cmd;
        for (const auto& a : c.args) cmd += " '" + a + "'";
        HARNESS_TRACE("check-negative-control%s", cmd.c_str());
        const auto r = check_negative_control(c.args);
        EXPECT_RUN(r, 2, err, c.message);
        EXPECT_STREQ(r.out, "");
    }
    const auto help = check_negative_control({"--help"});
    EXPECT_RUN(help, 0, out, "Exit 0 the control holds, 1 it does not, 2 bad usage.");
}

// 1g: nothing checked is no control: an empty directory, or KTAP without a
// single guest_memfd check, fails; so does a program whose results fall short
// of its "1..N" plan (it stopped early, and what it did not run proves nothing).
TEST(negative_control_nothing_checked, "HARNESS-01") {
    {
        TempDir d;
        ASSERT_TRUE(write_file(d / "results.txt", "not a .ktap file\n"));
        const auto r = check_negative_control({d.path});
        EXPECT_RUN(r, 1, out,
                   "negative control: no KTAP files in " + d.path +
                       ": nothing was checked, so the control does not hold");
    }
    {
        TempDir d;
        write_ktap(d, "capability_test", {{"global.api_version", "CAP-01", "pass"}});
        const auto r = check_negative_control({d.path});
        EXPECT_RUN(r, 1, out, "BAD   no guest_memfd check ran: the control checked nothing");
        EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
    }
    {
        TempDir d;
        std::string text = ktap({{"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason}});
        const auto plan = text.find("1..1\n");
        ASSERT_NE(plan, std::string::npos);
        text.replace(plan, 5, "1..3\n");
        ASSERT_TRUE(write_file(d / "memslot_test.ktap", text));
        const auto r = check_negative_control({d.path});
        EXPECT_RUN(r, 1, out,
                   "BAD   memslot_test: the plan says 1..3 but 1 result(s) follow (the program "
                   "stopped early)");
        EXPECT_TRUE(has_line(r.out, "negative control: 1 problem(s)"));
    }
}

// The options move the verdict: --gmem-ids makes CAP-01 a guest_memfd check too
// (its PASS then fails the control), --reason accepts another SKIP text.
TEST(negative_control_options, "HARNESS-01") {
    TempDir d;
    write_ktap(d, "p",
               {{"gmem.size_zero", "CREATE-01", "skip:" + no_gmem_reason},
                {"global.api_version", "CAP-01", "pass"},
                {"gmem.mbind", "MMAP-09", "skip:needs 2 NUMA nodes"}});
    const auto def = check_negative_control({d.path});
    EXPECT_RUN(def, 1, out, "FAIL  p:gmem.mbind [MMAP-09]: SKIP for the wrong reason");
    const auto ids = check_negative_control({"--gmem-ids", "^(CREATE-01|CAP-01|MMAP-09)$", d.path});
    EXPECT_RUN(ids, 1, out, "FAIL  p:global.api_version [CAP-01]: PASSED on a kernel without");
    EXPECT_TRUE(has_line(ids.out, "negative control: 2 problem(s)"));
    const auto why = check_negative_control({d.path, "--reason", "KVM_CAP_GUEST_MEMFD|NUMA"});
    EXPECT_RUN(why, 0, out, "ok    p:gmem.mbind [MMAP-09]: SKIP needs 2 NUMA nodes");
    EXPECT_TRUE(has_line(why.out, "negative control: 2 guest_memfd check(s) SKIPped for a missing "
                                  "capability; other checks: 1 passed, 0 skipped"));
}

// A relative directory named like an awk assignment ("run=6.1") must be read
// as files, not taken for a variable assignment (which made awk read stdin
// and pass a failed run).
TEST(negative_control_relative_dir, "HARNESS-01") {
    TempDir d;
    const std::string dir = d / "run=6.1";
    ASSERT_TRUE(fs::create_directory(dir));
    ASSERT_TRUE(write_file(dir + "/p.ktap", ktap({{"gmem.size_zero", "CREATE-01", "fail"}})));
    std::error_code ec;
    const fs::path cwd = fs::current_path(ec);
    ASSERT_FALSE(ec);
    ASSERT_EQ(::chdir(d.path.c_str()), 0);
    const auto r = check_negative_control({"run=6.1"});
    EXPECT_EQ(::chdir(cwd.c_str()), 0);
    EXPECT_RUN(r, 1, out, "FAIL  p:gmem.size_zero [CREATE-01]: the check failed");
}

// The checker on a real harness program's KTAP (GMEM_KTAP_DIR), not a
// hand-written copy: its result lines and SKIP directive are read as meant.
TEST(negative_control_reads_harness_output, "HARNESS-02") {
    TempDir d;
    const auto demo = gmem::util::run_capture({DEMO_PASS}, {"GMEM_KTAP_DIR=" + d.path});
    ASSERT_EQ(demo.exit_code, 0);
    const std::string file = d / (fs::path(DEMO_PASS).filename().string() + ".ktap");
    ASSERT_TRUE(fs::is_regular_file(file));
    const auto r = check_negative_control({d.path});
    // The demo has no guest_memfd check, so the control itself does not hold;
    // what matters here is that both results were read, and neither failed.
    EXPECT_RUN(r, 1, out, "other checks: 1 passed, 1 skipped");
    EXPECT_TRUE(has_line(r.out, "      other skip (1): optional"));
    EXPECT_TRUE(has_line(r.out, "BAD   no guest_memfd check ran: the control checked nothing"));
    EXPECT_FALSE(contains(r.out, "FAIL  "));
}

// ------------------------------------------------------------ run-kernel --
namespace {

// Inputs for bad-usage cases: a bzImage as far as the scripts look
// (vm_image_release: the setup header's "HdrS" at 0x202, kernel_version,
// relative to 0x200, at 0x20e), a file that is not one, and a directory
// that is not a CMake build.
struct BadInputs {
    TempDir dir;
    std::string image = dir / "bzImage";
    std::string not_image = dir / "vmlinuz";
    std::string not_build = dir / "not-a-build";
    bool ok = false;
    BadInputs() {
        std::string header(1024, '\0');
        header.replace(0x202, 4, "HdrS");
        header[0x20e] = 0x00;
        header[0x20f] = 0x01; // 0x100 + 0x200 = 0x300
        header.replace(0x300, 22, "6.99.0-fake (test) #1");
        std::error_code ec;
        ok = write_file(image, header) && write_file(not_image, std::string(1024, 'x')) &&
             fs::create_directory(not_build, ec);
    }
};

struct UsageCase {
    std::vector<std::string> args;
    std::string message;
};

// Each case ends at argument checking with exit 2 and `message` on stderr
// (and, with quiet_stdout, nothing on stdout): no stub is called and no work
// directory is left in TMPDIR.
void expect_bad_usage(const std::string& script, const std::vector<UsageCase>& cases,
                      bool quiet_stdout) {
    const std::string name = fs::path(script).filename();
    for (const auto& c : cases) {
        std::string cmd;
        for (const auto& a : c.args) cmd += " '" + a + "'";
        HARNESS_TRACE("%s%s", name.c_str(), cmd.c_str());
        const TempDir tmp;
        const Stubs stubs;
        auto env = stubs.env();
        env.push_back("TMPDIR=" + tmp.path);
        const auto r = run(script, c.args, env);
        EXPECT_RUN(r, 2, err, c.message);
        if (quiet_stdout) EXPECT_STREQ(r.out, "");
        EXPECT_NO_CALLS(stubs);
        EXPECT_TRUE(fs::is_empty(tmp.path));
    }
}

} // namespace

// Every case ends at argument checking: no stub (dpkg-query, apt-get, ctest,
// qemu-system-x86_64) is called and no work directory is left in TMPDIR.
TEST(run_kernel_bad_usage, "TOOLS-03 HARNESS-07") {
    const BadInputs in;
    ASSERT_TRUE(in.ok);
    const auto& image = in.image;
    expect_bad_usage(run_kernel, {
        {{"--frobnicate"}, "run-kernel: unknown option '--frobnicate'"},
        {{}, "run-kernel: no kernel: give -k IMAGE or --deb PACKAGE"},
        {{"-k", "/nonexistent/bzImage"}, "kernel image /nonexistent/bzImage: no such file"},
        {{"-k", image, "--mem", "abc"}, "--mem needs a number of MiB (got 'abc')"},
        {{"-k", image, "--accel", "foo"}, "--accel must be auto, kvm or tcg (got 'foo')"},
        {{"-k", image, "-b", in.not_build}, "build directory " + in.not_build + " is not a configured CMake build"},
        {{"-k"}, "option -k needs a value"},
        {{"-k", image, "extra"}, "unexpected argument 'extra' (program arguments go after --"},
        {{"-k", in.not_image, "-b", binary_dir},
         "run-kernel: " + in.not_image + " is not an x86 bzImage (no HdrS setup header)"},
    }, false);
}

TEST(run_kernel_help, "TOOLS-03 HARNESS-07") {
    const Stubs stubs;
    const auto r = run(run_kernel, {"--help"}, stubs.env());
    EXPECT_RUN(r, 0, out, "Exit status");
    EXPECT_TRUE(contains(r.out, "  2  bad command line or bad input"));
    EXPECT_STREQ(r.err, "");
    EXPECT_NO_CALLS(stubs);
}

// What the VM sends on its second serial port comes back as files
// (ci/vm/lib.sh vm_collect): text lines ("@@GMEM FILE", each prefixed "|"),
// gzip in base64 ("@@GMEM FILEZ", what /init sends when it has gzip and
// base64), the markers apart, CRs dropped. A FILEZ cut off by a VM that died
// keeps what was decoded so far; nothing of the decoding is left behind.
TEST(run_kernel_collects_files, "TOOLS-03") {
    const TempDir d;
    const std::string raw = d / "results.raw";
    const std::string make_raw =
        "{ printf '@@GMEM READY 6.99.0-fake\\r\\n'; echo '@@GMEM FILEZ ktap/a.ktap';"
        "  printf 'KTAP version 1\\n1..1\\nok 1 global.a\\n' | gzip -c | base64;"
        "  echo '@@GMEM EOF ktap/a.ktap'; echo '@@GMEM FILE log/a.log'; printf '|line one\\r\\n';"
        "  echo '@@GMEM EOF log/a.log'; echo '@@GMEM RC a 0 1'; echo '@@GMEM FILEZ dmesg.txt';"
        "  seq 1 2000 | gzip -c | base64 | head -c 3000; } >\"$1\"";
    const auto mk = run("/bin/bash", {"-c", make_raw, "make-raw", raw}, {});
    ASSERT_EQ(mk.exit_code, 0);
    const auto r = run("/bin/bash",
                       {"-c", "source \"$0\" && vm_collect \"$1\" \"$2\"",
                        source_dir + "/ci/vm/lib.sh", raw, d.path},
                       {});
    EXPECT_RUN(r, 0, err, "");
    EXPECT_STREQ(read_file(d / "ktap/a.ktap"), "KTAP version 1\n1..1\nok 1 global.a\n");
    EXPECT_STREQ(read_file(d / "log/a.log"), "line one\n");
    EXPECT_STREQ(read_file(d / "markers.txt"), "@@GMEM READY 6.99.0-fake\n@@GMEM RC a 0 1\n");
    // 3000 of the 5698 base64 characters of "1\n2\n...2000\n": the start, whole.
    const std::string part = read_file(d / "dmesg.txt");
    EXPECT_TRUE(part.starts_with("1\n2\n3\n"));
    EXPECT_TRUE(contains(part, "\n500\n"));
    EXPECT_FALSE(contains(part, "\n2000\n"));
    for (const auto& e : fs::recursive_directory_iterator(d.path))
        EXPECT_FALSE(e.path().extension() == ".b64");
}

// --------------------------------------------------------- bisect-kernel --
// For `git bisect run`, 125 means "skip this commit" and a status above 127
// stops the bisection: its --help documents 255 for bad usage.
TEST(bisect_kernel_help, "TOOLS-03 HARNESS-07") {
    const Stubs stubs;
    const auto r = run(bisect_kernel, {"--help"}, stubs.env());
    EXPECT_RUN(r, 0, out, "  125  cannot say, skip this commit");
    EXPECT_TRUE(contains(r.out, "  255  bad usage of this script (git bisect run stops)"));
    EXPECT_NO_CALLS(stubs);
}

TEST(bisect_kernel_bad_usage, "TOOLS-03 HARNESS-07") {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{"--frobnicate"}, "bisect-kernel: unknown argument '--frobnicate'"},
        {{}, "bisect-kernel: say which kernel: --local or -k IMAGE"},
        {{"--local", "-k", "/boot/vmlinuz"}, "--local and -k are exclusive"},
        {{"--local"}, "say what to run: -p PROGRAM and/or -r TEST"},
        {{"--local", "-p"}, "option -p needs a value"},
    };
    for (const auto& c : cases) {
        std::string cmd;
        for (const auto& a : c.args) cmd += " '" + a + "'";
        HARNESS_TRACE("bisect-kernel%s", cmd.c_str());
        const Stubs stubs;
        const auto r = run(bisect_kernel, c.args, stubs.env());
        EXPECT_RUN(r, 255, err, c.message);
        EXPECT_NO_CALLS(stubs);
    }
}

// A kernel image that is not there (the kernel build made none) is "cannot
// say" (125), decided before any VM: run-kernel is not started.
TEST(bisect_kernel_missing_image, "TOOLS-03 HARNESS-07") {
    const Stubs stubs;
    const auto r = run(bisect_kernel,
                       {"-k", "/nonexistent/bzImage", "-p", "guest_memfd_create_test", "-b",
                        binary_dir},
                       stubs.env());
    EXPECT_RUN(r, 125, err, "bisect-kernel: no kernel image /nonexistent/bzImage: 125 (skip)");
    EXPECT_NO_CALLS(stubs);
}

// --------------------------------------------------------- kernel-matrix --
// Bad usage is 2, before gmem_ensure_packages (dpkg-query, apt-get) and
// before anything is fetched or built.
TEST(kernel_matrix_bad_usage, "HARNESS-07") {
    const std::vector<UsageCase> cases = {
        {{"--frobnicate"}, "kernel-matrix: unknown argument '--frobnicate'"},
        {{"extra"}, "kernel-matrix: unknown kernel 'extra' (ci/kernels.list has: 6.1 "},
        {{"--all", "--package", "linux-image-6.1.0-1-amd64"}, "kernel-matrix: --package runs one Debian package as the control"},
        {{"--with", "nonsense"}, "kernel-matrix: --with needs NAME=REPORT.json (got 'nonsense')"},
        {{"--list", "/nonexistent/list"}, "kernel-matrix: --list /nonexistent/list: no such file"},
        {{"--accel", "foo"}, "kernel-matrix: --accel must be auto, kvm or tcg (got 'foo')"},
        {{"--package", "not a package"},
         "kernel-matrix: --package 'not a package' is not a linux-image-* package name"},
        {{"--package", "linux-image-6.1.0-1-amd64;rm"}, "is not a linux-image-* package name"},
        {{"--build"}, "kernel-matrix: option --build needs a value"},
        {{"--build", "/nonexistent/build"},
         "kernel-matrix: --build /nonexistent/build is not a configured CMake build directory"},
        {{"--resolve"}, "kernel-matrix: option --resolve needs a value"},
        {{"--resolve", "nosuch"}, "kernel-matrix: unknown kernel 'nosuch' (ci/kernels.list has: 6.1 "},
        {{"--resolve", "6.1", "7.3"}, "kernel-matrix: --resolve takes one kernel name and no other kernels"},
    };
    expect_bad_usage(kernel_matrix, cases, true);
    const Stubs stubs;
    const auto help = run(kernel_matrix, {"--help"}, stubs.env());
    EXPECT_RUN(help, 0, out, "Exit 0 the control holds; 1 a check failed");
    EXPECT_NO_CALLS(stubs);
}

// -------------------------------------------------------------- run-lava --
// Bad input is 2 with a message, decided before any package check
// (dpkg-query), install, initramfs or lava-run; no work directory is left.
TEST(run_lava_bad_usage, "TOOLS-05 HARNESS-07") {
    const BadInputs in;
    ASSERT_TRUE(in.ok);
    const auto& image = in.image;
    const std::string dir = in.dir.path;
    expect_bad_usage(run_lava, {
        {{"--frobnicate"}, "run-lava: unknown option '--frobnicate'"},
        {{}, "run-lava: give one kernel: a ci/kernels.list NAME, -k IMAGE or --deb PACKAGE"},
        {{"lab", "-k", image}, "run-lava: give one kernel"},
        {{"lab", "conv-inplace"}, "run-lava: one kernel name only (got 'lab' and 'conv-inplace')"},
        {{"no-such-kernel"}, "run-lava: unknown kernel 'no-such-kernel' (ci/kernels.list has: 6.1 "},
        {{"-k", "/nonexistent/bzImage"}, "run-lava: kernel image /nonexistent/bzImage: no such file"},
        {{"-k", in.not_image}, "run-lava: " + in.not_image + " is not an x86 bzImage (no HdrS setup header)"},
        {{"-k", image, "--numa", "9"}, "run-lava: --numa needs a node count from 1 to 8 (got '9')"},
        {{"-k", image, "--mem", "0"}, "run-lava: --mem needs a number of MiB (got '0')"},
        {{"-k", image, "--accel", "foo"}, "run-lava: --accel must be auto, kvm or tcg (got 'foo')"},
        {{"-k", image, "--timeout"}, "run-lava: option --timeout needs a value"},
        {{"-k", image, "-b", in.not_build}, "run-lava: build directory " + in.not_build + " is not a configured CMake build"},
        {{"-k", image, "--compare", in.not_build}, "run-lava: --compare " + in.not_build + ": not a ci/run-kernel result directory"},
        {{"-k", image, "--compare", dir, "--no-compare"}, "run-lava: --compare and --no-compare are exclusive"},
        {{"-m", dir, "lab"}, "run-lava: -m/--modules goes with -k IMAGE"},
    }, true);
    const Stubs stubs;
    const auto help = run(run_lava, {"--help"}, stubs.env());
    EXPECT_RUN(help, 0, out, "never from its exit code");
    EXPECT_TRUE(contains(help.out, "  3  host setup or LAVA failed"));
    EXPECT_TRUE(contains(help.out, "  7  no /dev/kvm inside the VM"));
    EXPECT_NO_CALLS(stubs);
}

namespace {

// One line of lava-run's log stream (its stderr): a flow mapping, as LAVA's
// logger writes it.
std::string lava_line(const std::string& lvl, const std::string& msg) {
    return "{\"dt\": \"2026-01-01T00:00:00.000000\", \"lvl\": \"" + lvl + "\", \"msg\": " + msg + "}\n";
}
std::string lava_target(const std::string& text) {
    return lava_line("target", "\"" + text + "\"");
}
std::string lava_case(const std::string& definition, const std::string& set,
                      const std::string& name, const std::string& result) {
    return lava_line("results", "{\"case\": \"" + name + "\", \"definition\": \"" + definition +
                                    "\", " + (set.empty() ? "" : "\"set\": \"" + set + "\", ") +
                                    "\"result\": \"" + result + "\"}");
}

// run-lava past its argument checks with nothing installed or booted: the
// package check finds everything installed, `cmake --install` lays out an
// empty installed tree, lava-run prints the log stream `log` and exits 0
// (as the real one does whatever the test cases say); busybox, cpio, git
// and the log reader (python3 with PyYAML) are the real ones. Returns false
// (after saying why) when one of those is missing here.
bool lava_prerequisites() {
    for (const char* f : {"/bin/busybox", "/usr/bin/python3", "/usr/bin/cpio", "/usr/bin/git"}) {
        if (!fs::exists(f)) {
            TH_LOG("%s is missing", f);
            return false;
        }
    }
    return gmem::util::run_capture({"/usr/bin/python3", "-c", "import yaml"}).exit_code == 0;
}

ProcessResult run_lava_on_log(const TempDir& d, const std::string& log,
                              const std::vector<std::string>& extra) {
    const Stubs stubs;
    stubs.answer("dpkg-query", "echo 'install ok installed'\n");
    // cmake --install BUILD --prefix DIR
    stubs.answer("cmake", "while [ $# -gt 0 ]; do [ \"$1\" = --prefix ] && p=$2; shift; done\n"
                          "mkdir -p \"$p\" && : >\"$p/run_kselftest.sh\" && : >\"$p/kselftest-list.txt\"\n");
    stubs.answer("git", "exec /usr/bin/git \"$@\"\n");
    const std::string logfile = d / "lava.stream";
    EXPECT_TRUE(write_file(logfile, log));
    stubs.answer("lava-run", "cat '" + logfile + "' >&2\nexit 0\n");
    const BadInputs in;
    EXPECT_TRUE(in.ok);
    std::vector<std::string> args = {"-k", in.image, "-b", binary_dir, "-o", d / "out"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto env = stubs.env();
    env.push_back("TMPDIR=" + d.path);
    return run(run_lava, args, env);
}

// What the job prints when it ran: /init's markers, one program's KTAP
// framed by lava-results.sh, and the definition's end.
std::string ran_one_program(const std::string& program_result, const std::string& id_result) {
    return lava_target("@@GMEM READY 6.99.0-fake") + lava_target("@@GMEM KVM ok cpu virtualization: amd") +
           lava_target("@@GMEM FILE ktap/demo.ktap") + lava_target("|KTAP version 1") +
           lava_target("|1..1") + lava_target("|ok 1 global.demo") + lava_target("@@GMEM EOF ktap/demo.ktap") +
           lava_case("0_gmem-selftests", "programs", "demo.demo", program_result) +
           lava_case("0_gmem-selftests", "behaviours", "CAP-01", id_result) +
           lava_case("lava", "", "0_gmem-selftests", "pass") + lava_case("lava", "", "job", "pass");
}

} // namespace

// The verdict comes from the test cases in the log stream: lava-run exits 0
// and the job passes, yet a failed program case is a failure (1), named.
TEST(run_lava_verdict_from_the_log, "TOOLS-05") {
    if (!lava_prerequisites()) SKIP("needs busybox-static, cpio, git and python3-yaml (ci/test lava installs them)");
    TempDir d;
    const auto r = run_lava_on_log(d, ran_one_program("fail", "pass"), {"--no-compare"});
    EXPECT_RUN(r, 1, out, "FAILED in LAVA: demo.demo");
    EXPECT_TRUE(contains(r.out, "lava-run: exit 0, job pass"));
    EXPECT_TRUE(has_line(r.out, "fail   demo.demo"));
    // The KTAP the job printed is back as a file.
    EXPECT_STREQ(read_file(d / "out/ktap/demo.ktap"), "KTAP version 1\n1..1\nok 1 global.demo\n");
    // The job that LAVA ran: the test definition from a git repository, the
    // kernel and the initramfs as file:// URLs in tmpfs, LAVA's overlay in it.
    const std::string job = read_file(d / "out/job.yaml");
    EXPECT_TRUE(contains(job, "    - from: git\n"));
    EXPECT_TRUE(contains(job, "      path: ci/lava/gmem-selftests.yaml\n"));
    EXPECT_TRUE(contains(job, "        overlays: {lava: true}\n"));
    EXPECT_TRUE(contains(job, "        url: file://"));
    EXPECT_TRUE(contains(job, "/bzImage\n        image_arg: '-kernel {kernel} -append \""));
    EXPECT_TRUE(contains(read_file(d / "out/device.yaml"), "          command: qemu-system-x86_64\n"));
}

// A job that never reached the test definition (no shell, a refused job) is
// a host/LAVA failure (3), not a pass: lava-run's exit 0 says nothing.
TEST(run_lava_job_did_not_run, "TOOLS-05") {
    if (!lava_prerequisites()) SKIP("needs busybox-static, cpio, git and python3-yaml (ci/test lava installs them)");
    TempDir d;
    const std::string log =
        lava_line("error", "\"JobError: Your job cannot terminate cleanly.\"") +
        lava_line("results", "{\"case\": \"job\", \"definition\": \"lava\", \"error_msg\": "
                             "\"login-action timed out after 300 seconds\", \"result\": \"fail\"}");
    const auto r = run_lava_on_log(d, log, {"--no-compare"});
    EXPECT_RUN(r, 3, out, "LAVA JOB DID NOT RUN THE CORPUS: job fail, lava-run exit 0");
    EXPECT_TRUE(contains(r.out, "JobError: Your job cannot terminate cleanly."));
}

// No /dev/kvm in the VM (/init's marker) is 7, as with ci/run-kernel.
TEST(run_lava_no_kvm, "TOOLS-05") {
    if (!lava_prerequisites()) SKIP("needs busybox-static, cpio, git and python3-yaml (ci/test lava installs them)");
    TempDir d;
    const std::string log = lava_target("@@GMEM READY 6.99.0-fake") +
                            lava_target("@@GMEM KVM MISSING no /dev/kvm (cpu virtualization flag: none)") +
                            lava_case("lava", "", "job", "fail");
    const auto r = run_lava_on_log(d, log, {"--no-compare"});
    EXPECT_RUN(r, 7, out, "NO /dev/kvm IN THE VM: no /dev/kvm (cpu virtualization flag: none)");
}

// A verdict that differs from ci/run-kernel's is printed and fails (1), even
// when LAVA's own cases all pass.
TEST(run_lava_difference_from_run_kernel, "TOOLS-05") {
    if (!lava_prerequisites()) SKIP("needs busybox-static, cpio, git and python3-yaml (ci/test lava installs them)");
    TempDir d;
    const std::string rk = d / "run-kernel";
    ASSERT_TRUE(fs::create_directory(rk));
    // run-kernel's runner stream: the program failed there.
    ASSERT_TRUE(write_file(rk + "/kselftest.ktap",
                           "TAP version 13\n1..1\n# selftests: demo: demo\nnot ok 1 selftests: demo: demo # exit=1\n"));
    const auto r = run_lava_on_log(d, ran_one_program("pass", "pass"), {"--compare", rk});
    EXPECT_RUN(r, 1, out, "DIFFERENT from ci/run-kernel (" + rk + ")");
    EXPECT_TRUE(has_line(r.out, "  programs  demo.demo  LAVA pass, run-kernel fail"));
    // run-kernel has no report: LAVA's ID has nothing to equal.
    EXPECT_TRUE(has_line(r.out, "  behaviours  CAP-01  LAVA pass, run-kernel: none"));
}

// --------------------------------------------------------- conformance --
// TOOLS-06's entry point: which kernel is checked before anything is
// installed, built or booted; bad input is a message and exit 2.
TEST(conformance_bad_usage, "TOOLS-06") {
    const std::string conformance = source_dir + "/ci/conformance";
    const std::vector<UsageCase> cases = {
        {{"--kernel"}, "ci/conformance: --kernel needs a value"},
        {{"--deb"}, "ci/conformance: --deb needs a value"},
        {{"--kernel", "nosuch"},
         "ci/conformance: --kernel 'nosuch' is neither a ci/kernels.list name (6.1 6.12 6.18 7.2 7.3 lab "},
        {{"--kernel", "7.3", "--deb", "x.deb"}, "ci/conformance: give --kernel or --deb, not both"},
        {{"--kernel", "7.3", "-R", "memslot"}, "ci/conformance: with --kernel/--deb the whole corpus runs"},
        {{"--deb", "/nonexistent/linux.deb"}, "ci/conformance: --deb /nonexistent/linux.deb: no such file"},
        {{"--append", "x=1"}, "ci/conformance: --append is for a kernel booted in a VM (--kernel or --deb)"},
        {{"--kernel", "7.3", "--numa"}, "ci/conformance: --numa needs a value"},
    };
    expect_bad_usage(conformance, cases, true);
    const Stubs stubs;
    const auto help = run(conformance, {"--help"}, stubs.env());
    EXPECT_RUN(help, 0, out, "4  NOT TESTED: nothing failed, but KVM could not be used");
    EXPECT_NO_CALLS(stubs);
}

// ---------------------------------------------------------- build-kernel --
namespace {

// Whatever would fetch, install, configure or build: logging stubs.
const std::initializer_list<const char*> build_fetchers = {
    "apt-get", "apt-cache", "apt", "dpkg", "dpkg-deb", "make", "curl", "wget", "sudo",
    "qemu-system-x86_64"};

// build-kernel past its argument checks, with nothing fetched or built: the
// package check (dpkg-query) finds every package installed, gcc --version
// (part of the cache key) answers a fixed line, git is the real one (git
// apply applies the series); apt, dpkg, make, ... are logging stubs.
struct BuildStubs : Stubs {
    BuildStubs() : Stubs(build_fetchers) {
        answer("dpkg-query", "echo 'install ok installed'\n");
        answer("gcc", "echo 'gcc (stub) 12.2.0'\n");
    }
};

// What build-kernel's tree check asks for (a Makefile, arch/x86/,
// scripts/kconfig/merge_config.sh) and nothing more: no kernel can be built
// from it, and nothing tries (make is a stub).
struct FakeTree {
    TempDir dir{"gmem-fake-linux"};
    std::string path = dir / "linux";
    bool ok = false;
    FakeTree() {
        std::error_code ec;
        fs::create_directories(path + "/arch/x86", ec);
        fs::create_directories(path + "/scripts/kconfig", ec);
        ok = !ec && write_file(path + "/Makefile", "VERSION = 6\nPATCHLEVEL = 99\n") &&
             write_file(path + "/arch/x86/Kconfig", "config X86\n\tdef_bool y\n") &&
             write_file(path + "/scripts/kconfig/merge_config.sh", "#!/bin/sh\nexit 99\n");
    }
};

// `script` with `args` stops at its argument checks: exit 2 with `message` on
// stderr, nothing on stdout, none of the stubs `names` called, and no cache
// or work directory made.
void expect_bad_usage(const std::string& script, const std::vector<std::string>& args,
                      const std::string& message, std::initializer_list<const char*> names) {
    std::string cmd;
    for (const auto& a : args) cmd += " '" + a + "'";
    HARNESS_TRACE("%s%s", fs::path(script).filename().c_str(), cmd.c_str());
    const TempDir tmp;
    const Stubs stubs(names);
    auto env = stubs.env();
    env.push_back("TMPDIR=" + tmp.path);
    env.push_back("GMEM_KERNEL_CACHE=" + tmp / "cache");
    const auto r = run(script, args, env);
    EXPECT_RUN(r, 2, err, message);
    EXPECT_STREQ(r.out, "");
    EXPECT_NO_CALLS(stubs);
    EXPECT_TRUE(fs::is_empty(tmp.path)); // no cache, no work directory
}

// One format-patch file changing `file` from `before` to `after` (one line each,
// the line before them as context).
std::string patch_text(const std::string& subject, const std::string& file,
                       const std::string& context, const std::string& before,
                       const std::string& after) {
    return "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
           "From: Test <test@example.com>\nSubject: [PATCH] " +
           subject + "\n\n---\ndiff --git a/" + file + " b/" + file + "\n--- a/" + file +
           "\n+++ b/" + file + "\n@@ -1,2 +1,2 @@\n " + context + "\n-" + before + "\n+" + after +
           "\n-- \n2.39.5\n";
}

const std::string makefile_patch =
    patch_text("Makefile: 6.100", "Makefile", "VERSION = 6", "PATCHLEVEL = 99", "PATCHLEVEL = 100");
// Its context does not match the fake tree's arch/x86/Kconfig.
const std::string kconfig_patch =
    patch_text("x86: no", "arch/x86/Kconfig", "config X86", "\tdef_bool n", "\tdef_bool m");
// A file the tree does not have.
const std::string missing_file_patch =
    patch_text("driver", "drivers/nothere.c", "int a;", "int b;", "int c;");

// `ci/build-kernel --print-key` with `args`: the key (20 hex digits), or ""
// after reporting what went wrong.
std::string print_key(const std::vector<std::string>& args) {
    const BuildStubs stubs;
    std::vector<std::string> all = {"--print-key"};
    all.insert(all.end(), args.begin(), args.end());
    const auto r = run(build_kernel, all, stubs.env());
    std::string key = chomp(r.out);
    const bool hex20 = key.size() == 20 &&
                       key.find_first_not_of("0123456789abcdef") == std::string::npos;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(hex20);
    EXPECT_NO_CALLS(stubs);
    if (r.exit_code != 0 || !hex20) {
        TH_LOG("stdout:\n%s\nstderr:\n%s", chomp(r.out).c_str(), chomp(r.err).c_str());
        return "";
    }
    return key;
}

} // namespace

// Bad input is 2 with a message, decided before anything is installed,
// fetched or built: not even dpkg-query (the package check), gcc or git runs.
TEST(build_kernel_bad_usage, "TOOLS-04 HARNESS-07") {
    const FakeTree tree;
    ASSERT_TRUE(tree.ok);
    TempDir d;
    const std::string empty = d / "empty";
    ASSERT_TRUE(fs::create_directory(empty));
    struct Frag {
        const char* name;
        const char* text;
    };
    for (const Frag f : {Frag{"no-config.config", "# nothing\n"},
                         Frag{"bad-line.config", "CONFIG_KVM=y\nKVM=y\n"},
                         Frag{"bad-base.config", "# gmem-base: bogus\nCONFIG_KVM=y\n"},
                         Frag{"good.config", "CONFIG_KVM=y\n"}})
        ASSERT_TRUE(write_file(d / f.name, f.text));
    ASSERT_TRUE(write_file(d / "not-mbox", "just text\n"));
    ASSERT_TRUE(write_file(d / "mbox-no-diff", "From 123 Mon Sep 17 00:00:00 2001\nSubject: x\n\nno diff here\n"));
    const std::string good = d / "good.config";
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{"--frobnicate"}, "build-kernel: unknown option '--frobnicate' (see --help)"},
        {{"extra"}, "build-kernel: unexpected argument 'extra' (see --help)"},
        {{"-c"}, "build-kernel: option -c needs a value (see --help)"},
        {{"--tree", ""}, "build-kernel: option --tree needs a value (see --help)"},
        {{"--jobs", "0"}, "build-kernel: --jobs needs a positive number (got '0')"},
        {{"--modules"}, "build-kernel: option --modules needs a value (see --help)"},
        {{"--debian", "7.3", "--tree", tree.path}, "build-kernel: --debian and --tree are exclusive"},
        {{"--debian", "seven"},
         "build-kernel: --debian 'seven' is not a kernel series like 7.3 (package linux-source-<series>)"},
        {{"--debian", "7.3=not a version"},
         "build-kernel: --debian 7.3=not a version: 'not a version' is not a Debian package version"},
        {{"--tree", "/nonexistent/linux"}, "build-kernel: --tree /nonexistent/linux: no such directory"},
        {{"--tree", empty},
         "build-kernel: --tree " + empty +
             " is not a Linux source tree (no Makefile, arch/x86 or scripts/kconfig/merge_config.sh)"},
        {{"--tree", tree.path, "-c", "nosuch"},
         "build-kernel: config fragment 'nosuch': neither a name in ci/kernel-configs/"},
        {{"--tree", tree.path, "-c", d / "no-config.config"},
         "build-kernel: config fragment " + d / "no-config.config" + " has no CONFIG_ line"},
        {{"--tree", tree.path, "-c", d / "bad-line.config"},
         "build-kernel: config fragment " + d / "bad-line.config" +
             ": line 2 is not a CONFIG_ line or a comment: KVM=y"},
        {{"--tree", tree.path, "-c", d / "bad-base.config"},
         "build-kernel: " + d / "bad-base.config" + ": gmem-base target 'bogus' is not tinyconfig"},
        {{"--tree", tree.path, "-c", good, "-s", empty},
         "build-kernel: --series " + empty + ": a directory without *.patch files"},
        {{"--tree", tree.path, "-c", good, "-s", d / "not-mbox"},
         "build-kernel: --series " + d / "not-mbox" + ": not an mbox (does not start with 'From ')"},
        {{"--tree", tree.path, "-c", good, "-s", d / "mbox-no-diff"},
         "build-kernel: --series " + d / "mbox-no-diff" + ": an mbox without a diff"},
        {{"--tree", tree.path, "-c", good, "-s", "/nonexistent/series"},
         "build-kernel: --series /nonexistent/series: no such file or directory"},
    };
    for (const auto& c : cases)
        expect_bad_usage(build_kernel, c.args, c.message,
                         {"apt-get", "apt-cache", "apt", "dpkg", "dpkg-query", "dpkg-deb", "make",
                          "gcc", "git", "curl", "wget", "sudo"});
    const Stubs stubs;
    const auto help = run(build_kernel, {"--help"}, stubs.env());
    EXPECT_RUN(help, 0, out, "  4  a patch of the series did not apply (named, with the file)");
    EXPECT_NO_CALLS(stubs);
}

// --tree keeps the objects, and configures only when the configuration's
// inputs changed: a second call on a tree whose Kconfig files and fragments
// are the same builds without re-running make tinyconfig / olddefconfig (they
// rewrite .config and made a one-line rebuild recompile most of a kernel);
// a changed Kconfig file configures again. make is a stub that logs its
// targets and makes what each leaves behind.
TEST_TIMEOUT(build_kernel_tree_configures_once, 90, "TOOLS-04") {
    const FakeTree tree;
    ASSERT_TRUE(tree.ok);
    ASSERT_TRUE(write_file(tree.path + "/scripts/kconfig/merge_config.sh", "#!/bin/sh\nexit 0\n"));
    fs::permissions(tree.path + "/scripts/kconfig/merge_config.sh", fs::perms::owner_all,
                    fs::perm_options::replace);
    TempDir d;
    const std::string frag = d / "one.config";
    ASSERT_TRUE(write_file(frag, "CONFIG_KVM=y\n"));
    const std::string targets = d / "make-targets.log";
    BuildStubs stubs;
    stubs.answer("make",
                 "obj=''; last=''\n"
                 "for a; do case \"$a\" in O=*) obj=${a#O=} ;; esac; last=$a; done\n"
                 "echo \"$last\" >>'" + targets + "'\n"
                 "case \"$last\" in\n"
                 "tinyconfig) echo CONFIG_KVM=y >\"$obj/.config\" ;;\n"
                 "kernelrelease) echo 6.99.0-fake ;;\n"
                 "bzImage) mkdir -p \"$obj/arch/x86/boot\" && echo image >\"$obj/arch/x86/boot/bzImage\" ;;\n"
                 "esac\n");
    const std::vector<std::string> args = {"--tree", tree.path, "-c", frag, "--cache", d / "cache", "-j", "1"};
    auto build = [&](const char* what) {
        HARNESS_TRACE("%s", what);
        std::remove(targets.c_str());
        const auto r = run(build_kernel, args, stubs.env());
        EXPECT_EQ(r.exit_code, 0);
        if (r.exit_code != 0) TH_LOG("stderr:\n%s", chomp(r.err).c_str());
        return r;
    };
    auto first = build("first build: configures");
    EXPECT_TRUE(contains(first.err, "configuring: tinyconfig"));
    EXPECT_STREQ(read_file(targets), "tinyconfig\nolddefconfig\nkernelrelease\nbzImage\n");
    ASSERT_TRUE(write_file(tree.path + "/Makefile", "VERSION = 6\nPATCHLEVEL = 99\n# a one-line change\n"));
    auto second = build("a change outside Kconfig: not configured again");
    EXPECT_TRUE(contains(second.err, "configuration unchanged: not re-run"));
    EXPECT_STREQ(read_file(targets), "kernelrelease\nbzImage\n");
    ASSERT_TRUE(write_file(tree.path + "/arch/x86/Kconfig", "config X86\n\tdef_bool y\n# changed\n"));
    auto third = build("a changed Kconfig file: configured again");
    EXPECT_TRUE(contains(third.err, "configuring: tinyconfig"));
    EXPECT_STREQ(read_file(targets), "tinyconfig\nolddefconfig\nkernelrelease\nbzImage\n");
}

// mutate-kernel: bad usage and bad mutant files are 2 with a message naming
// the file and what is wrong, decided before any package, tree or kernel is
// touched (no stub runs, no cache is made).
TEST_TIMEOUT(mutate_kernel_bad_usage, 90, "TOOLS-03 HARNESS-07") {
    TempDir d;
    struct Mutant {
        const char* name;
        const char* text;
    };
    for (const Mutant m :
         {Mutant{"no-bug.mutant", "area: creation\nmode: legacy\nexpect: CREATE-01\n"},
          Mutant{"bad-mode.mutant", "bug: x\narea: creation\nmode: sideways\nexpect: CREATE-01\n"},
          Mutant{"bad-area.mutant", "bug: x\narea: elsewhere\nmode: legacy\nexpect: CREATE-01\n"},
          Mutant{"no-expect.mutant", "bug: x\narea: creation\nmode: legacy\n"},
          Mutant{"no-edit.mutant", "bug: x\narea: creation\nmode: legacy\nexpect: CREATE-01\n"},
          Mutant{"both-edits.mutant", "bug: x\narea: creation\nmode: inplace\nexpect: CREATE-01\n"
                                      "file: f\nreplace: a\nwith: b\npatch:\n--- a/f\n+++ b/f\n"}})
        ASSERT_TRUE(write_file(d / m.name, m.text));
    ASSERT_TRUE(write_file(d / "list", "# a list naming a mutant that does not exist\nno-such-mutant\n"));
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{"--frobnicate"}, "mutate-kernel: unknown option '--frobnicate' (see --help)"},
        {{"--jobs", "0"}, "mutate-kernel: --jobs needs a positive number (got '0')"},
        {{"--vms", "0"}, "mutate-kernel: --vms needs a positive number (got '0')"},
        {{"--vms"}, "mutate-kernel: option --vms needs a value (see --help)"},
        {{"-o"}, "mutate-kernel: option -o needs a value (see --help)"},
        {{"--list", "/nonexistent/list"}, "mutate-kernel: --list /nonexistent/list: no such file"},
        {{"--list", d / "list"}, "mutate-kernel: mutant 'no-such-mutant': neither "},
        {{d / "no-bug.mutant"}, d / "no-bug.mutant" + ": no 'bug:' line (the bug in words)"},
        {{d / "bad-mode.mutant"}, d / "bad-mode.mutant" + ": mode 'sideways' (inplace, legacy or both)"},
        {{d / "bad-area.mutant"}, d / "bad-area.mutant" + ": area 'elsewhere' (creation, "},
        {{d / "no-expect.mutant"},
         d / "no-expect.mutant" + ": no 'expect:' IDs and not marked 'equivalent:'"},
        {{d / "no-edit.mutant"},
         d / "no-edit.mutant" + ": needs file:, replace: and with: (or a patch: section)"},
        {{d / "both-edits.mutant"}, d / "both-edits.mutant" + ": both 'replace:' and 'patch:'"},
    };
    for (const auto& c : cases) expect_bad_usage(mutate_kernel, c.args, c.message, all_stubs);
    const Stubs stubs;
    const auto help = run(mutate_kernel, {"--help"}, stubs.env());
    EXPECT_RUN(help, 0, out, "Exit status: 0 every non-equivalent mutant killed");
    EXPECT_NO_CALLS(stubs);
}

// The cache key is the recipe: the same call gives the same key; what is not
// part of the recipe (how a fragment is named, -j, -q, --rebuild) leaves it;
// a fragment's content, another fragment or a series changes it.
TEST_TIMEOUT(build_kernel_key_is_the_recipe, 90, "TOOLS-04") {
    const FakeTree tree;
    ASSERT_TRUE(tree.ok);
    TempDir d;
    const std::string cache = d / "cache";
    const std::string frag = d / "one.config";
    ASSERT_TRUE(write_file(frag, "CONFIG_KVM=y\n"));
    const std::string series = d / "series";
    ASSERT_TRUE(fs::create_directory(series));
    ASSERT_TRUE(write_file(series + "/0001-makefile.patch", makefile_patch));
    const std::vector<std::string> base = {"--tree", tree.path, "--cache", cache};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> a = base;
        a.insert(a.end(), more.begin(), more.end());
        return print_key(a);
    };
    const std::string k = with({"-c", frag});
    ASSERT_NE(k, "");
    EXPECT_STREQ(with({"-c", frag}), k);
    EXPECT_STREQ(with({"-c", frag, "-j", "3", "-q", "--rebuild"}), k);
    const std::string lean = with({"-c", "lab-lean"});
    EXPECT_STREQ(with({"-c", source_dir + "/ci/kernel-configs/lab-lean.config"}), lean);
    EXPECT_STREQ(with({}), lean); // lab-lean is the default
    EXPECT_NE(lean, k);

    ASSERT_TRUE(write_file(frag, "CONFIG_KVM=y\nCONFIG_NUMA=y\n"));
    const std::string k_changed = with({"-c", frag});
    EXPECT_NE(k_changed, k);
    ASSERT_TRUE(write_file(frag, "CONFIG_KVM=y\n"));
    EXPECT_STREQ(with({"-c", frag}), k); // the content, not the file's time

    EXPECT_NE(with({"-c", frag, "-c", "conversion"}), k);
    const std::string k_series = with({"-c", frag, "-s", series});
    EXPECT_NE(k_series, k);
    ASSERT_TRUE(write_file(series + "/0001-makefile.patch",
                           patch_text("Makefile: 6.101", "Makefile", "VERSION = 6",
                                      "PATCHLEVEL = 99", "PATCHLEVEL = 101")));
    EXPECT_NE(with({"-c", frag, "-s", series}), k_series);
    EXPECT_FALSE(fs::exists(cache + "/images")); // --print-key makes no entry
}

// The same recipe gives the same cached image, at once and without building
// (a git tree: keyed by HEAD and its uncommitted changes); another recipe, or
// a change to the tree, is not that image (--cached-only: exit 1).
TEST_TIMEOUT(build_kernel_same_recipe_same_image, 90, "TOOLS-04") {
    const FakeTree tree;
    ASSERT_TRUE(tree.ok);
    const std::vector<std::string> git_env = {"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
                                              "GIT_COMMITTER_NAME=t",
                                              "GIT_COMMITTER_EMAIL=t@example.com"};
    for (const std::vector<std::string>& g :
         {std::vector<std::string>{"init", "-q"}, std::vector<std::string>{"add", "-A"},
          std::vector<std::string>{"commit", "-q", "-m", "fake"}}) {
        std::vector<std::string> argv = {"/bin/sh", "-c", "exec git -C \"$0\" \"$@\"", tree.path};
        argv.insert(argv.end(), g.begin(), g.end());
        const auto r = gmem::util::run_capture(argv, git_env);
        if (r.exit_code != 0)
            SKIP("cannot make a git tree (git %s): exit %d %s", g[0].c_str(), r.exit_code,
                 chomp(r.err).c_str());
    }
    TempDir d;
    const std::string cache = d / "cache";
    const std::string frag = d / "one.config";
    ASSERT_TRUE(write_file(frag, "CONFIG_KVM=y\n"));
    const std::vector<std::string> recipe = {"--tree", tree.path, "-c", frag, "--cache", cache};
    const std::string key = print_key(recipe);
    ASSERT_NE(key, "");
    // What a finished build leaves (build-kernel: the image and its recipe.txt).
    const std::string entry = cache + "/images/" + key;
    ASSERT_TRUE(fs::create_directories(entry));
    ASSERT_TRUE(write_file(entry + "/bzImage", "fake image\n"));
    ASSERT_TRUE(write_file(entry + "/recipe.txt", "release 6.99.0-fake\nbuilt 2026-01-01\n"));
    {
        const BuildStubs stubs;
        std::vector<std::string> args = recipe;
        args.insert(args.end(), {"-o", d / "copy"});
        const auto r = run(build_kernel, args, stubs.env());
        EXPECT_RUN(r, 0, err, "build-kernel: cached: 6.99.0-fake (" + key + ", built 2026-01-01)");
        EXPECT_STREQ(r.out, entry + "/bzImage\n");
        EXPECT_STREQ(read_file(d / "copy"), "fake image\n");
        EXPECT_NO_CALLS(stubs);
    }
    {
        const BuildStubs stubs;
        std::vector<std::string> args = recipe;
        args.push_back("--cached-only");
        const auto r = run(build_kernel, args, stubs.env());
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_STREQ(r.out, entry + "/bzImage\n");
        EXPECT_NO_CALLS(stubs);
    }
    // Another recipe, then the same one on a changed tree: not cached.
    ASSERT_TRUE(write_file(d / "two.config", "CONFIG_KVM=y\nCONFIG_NUMA=y\n"));
    struct Case {
        std::vector<std::string> args;
        bool change_tree;
    };
    for (const Case& c : {Case{{"--tree", tree.path, "-c", d / "two.config"}, false},
                          Case{{"--tree", tree.path, "-c", frag}, true}}) {
        HARNESS_TRACE("%s", c.change_tree ? "tree changed" : "another fragment");
        if (c.change_tree)
            ASSERT_TRUE(write_file(tree.path + "/Makefile", "VERSION = 6\nPATCHLEVEL = 100\n"));
        std::vector<std::string> args = c.args;
        args.insert(args.end(), {"--cache", cache});
        const std::string other = print_key(args);
        EXPECT_NE(other, key);
        args.push_back("--cached-only");
        const BuildStubs stubs;
        const auto r = run(build_kernel, args, stubs.env());
        EXPECT_RUN(r, 1, err, "build-kernel: not cached: " + other);
        EXPECT_STREQ(r.out, "");
        EXPECT_NO_CALLS(stubs);
    }
}

// A series whose patch does not apply stops with 4, naming the patch (its
// place in the series) and the file, before anything is configured or built;
// the user's tree is not touched (build-kernel applies to a copy) and its
// work directory is gone.
TEST_TIMEOUT(build_kernel_patch_does_not_apply, 90, "TOOLS-04") {
    struct Case {
        std::vector<std::pair<std::string, std::string>> patches; // name, text
        std::string message;
    };
    const Case cases[] = {
        {{{"0001-makefile.patch", makefile_patch}, {"0002-kconfig.patch", kconfig_patch}},
         "build-kernel: patch 2/2 0002-kconfig.patch does not apply to: arch/x86/Kconfig"},
        {{{"0001-driver.patch", missing_file_patch}},
         "build-kernel: patch 1/1 0001-driver.patch does not apply to: drivers/nothere.c"},
    };
    for (const Case& c : cases) {
        HARNESS_TRACE("%s", c.message.c_str());
        const FakeTree tree;
        ASSERT_TRUE(tree.ok);
        TempDir d;
        const std::string series = d / "series";
        ASSERT_TRUE(fs::create_directory(series));
        for (const auto& [name, text] : c.patches)
            ASSERT_TRUE(write_file(series + "/" + name, text));
        ASSERT_TRUE(write_file(d / "one.config", "CONFIG_KVM=y\n"));
        const std::string tmp = d / "tmp";
        ASSERT_TRUE(fs::create_directory(tmp));
        const BuildStubs stubs;
        auto env = stubs.env();
        env.push_back("TMPDIR=" + tmp);
        const auto r = run(build_kernel,
                           {"--tree", tree.path, "-c", d / "one.config", "-s", series, "--cache",
                            d / "cache"},
                           env);
        EXPECT_RUN(r, 4, err, c.message);
        EXPECT_STREQ(r.out, "");
        EXPECT_NO_CALLS(stubs); // make was not reached
        EXPECT_STREQ(read_file(tree.path + "/Makefile"), "VERSION = 6\nPATCHLEVEL = 99\n");
        EXPECT_TRUE(fs::is_empty(tmp));
    }
}

TEST_HARNESS_MAIN
