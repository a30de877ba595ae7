// The harness runner: selection, one forked process per test, timeouts, KTAP.
#include "harness/harness.hpp"
#include "gmem/util/locate.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csetjmp>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fstream>
#include <deque>
#include <mutex>
#include <csignal>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace harness {

// ---------------------------------------------------------------- registry --
namespace {
std::vector<FixtureInfo*>& fixtures() {
    static std::vector<FixtureInfo*> all;
    return all;
}
} // namespace

FixtureInfo::FixtureInfo(const char* fixture_name) : name(fixture_name) {
    fixtures().push_back(this);
}

FixtureInfo& global_fixture() {
    static FixtureInfo global{"global"};
    return global;
}

namespace {
const char* const known_ids[] = {
#include "behaviour_ids.inc"
};
} // namespace

bool known_behaviour_id(std::string_view id) {
    return std::any_of(std::begin(known_ids), std::end(known_ids),
                       [&](const char* k) { return id == k; });
}

// ------------------------------------------------------------------ output --
namespace {
FILE* g_tee = nullptr; // copy of everything we print, for $GMEM_KTAP_DIR

void emit_line(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (g_tee) {
        std::fputs(line.c_str(), g_tee);
        std::fputc('\n', g_tee);
        std::fflush(g_tee);
    }
}
} // namespace

std::string strf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    const int n = std::vsnprintf(nullptr, 0, fmt, ap);
    va_end(ap);
    std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
    if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, ap2);
    va_end(ap2);
    return out;
}

void diag(const std::string& text) {
    size_t start = 0;
    while (true) {
        const size_t nl = text.find('\n', start);
        emit_line("# " + text.substr(start, nl == std::string::npos ? nl : nl - start));
        if (nl == std::string::npos || nl + 1 == text.size()) break;
        start = nl + 1;
    }
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    std::string n = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
    return n + " (" + ::strsignal(sig) + ")";
}

// ------------------------------------------------------ state of one test --
// Lives in the forked test process. The parent learns the outcome through a
// shared anonymous page, so a crash after the last write loses nothing.
namespace {
enum class Status : int { pass = 0, fail, skip, xfail, xpass, timeout, crash };

struct SharedResult {
    int completed; // the test process reached its end
    int failed;
    int skipped;
    int observed;
    char reason[2048];
};

struct TestState {
    bool failed = false;
    bool skipped = false;
    bool observed = false;
    std::string skip_reason;
    std::vector<std::string> traces;
    pid_t test_pid = 0;
};
TestState g_state;

void copy_reason(SharedResult* r, const std::string& s) {
    const size_t n = std::min(s.size(), sizeof(r->reason) - 1);
    std::memcpy(r->reason, s.data(), n);
    r->reason[n] = '\0';
}
} // namespace

Trace::Trace(std::string text) { g_state.traces.push_back(std::move(text)); }
Trace::~Trace() { g_state.traces.pop_back(); }

void fail_here(const char* file, int line, const std::string& message, bool fatal) {
    if (file) {
        const char* base = std::strrchr(file, '/');
        diag(strf("%s:%d:%s", base ? base + 1 : file, line, message.c_str()));
    } else {
        diag(message);
    }
    for (auto it = g_state.traces.rbegin(); it != g_state.traces.rend(); ++it)
        diag("  with " + *it);
    g_state.failed = true;
    if (fatal) throw AbortTest{};
}

void skip_here(const char* file, int line, const std::string& reason) {
    (void)file;
    (void)line;
    g_state.skipped = true;
    g_state.skip_reason = reason;
    throw AbortTest{};
}

void observe(const std::string& text) {
    g_state.observed = true;
    diag("observe: " + text);
}

bool test_failed() { return g_state.failed; }

void run_phases(const std::function<void()>& setup, const std::function<void()>& body,
                const std::function<void()>& teardown) {
    auto guarded = [](const std::function<void()>& fn, const char* phase) {
        try {
            fn();
            return true;
        } catch (const AbortTest&) {
        } catch (const std::exception& e) {
            fail_here(nullptr, 0, std::string("uncaught exception in ") + phase + ": " + e.what(),
                      false);
        } catch (...) {
            fail_here(nullptr, 0, std::string("uncaught exception of unknown type in ") + phase,
                      false);
        }
        return false;
    };
    // Teardown runs whatever happened before it: fixture members start
    // value-initialised, so it may look at what setup got done.
    if (guarded(setup, "setup") && !g_state.skipped) guarded(body, "test");
    guarded(teardown, "teardown");
}

bool run_in_child(const std::function<void()>& fn) {
    std::fflush(stdout);
    if (g_tee) std::fflush(g_tee);
    // A SKIP in the child (a gate it met) skips the test: its reason comes
    // back through this pipe, with exit status 4 (KSFT_SKIP).
    int reason_pipe[2];
    if (::pipe2(reason_pipe, O_CLOEXEC) < 0) {
        fail_here(nullptr, 0, "run_in_child: pipe2: " + gmem::Errno::last().describe(), false);
        return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        fail_here(nullptr, 0, "run_in_child: fork: " + gmem::Errno::last().describe(), false);
        ::close(reason_pipe[0]);
        ::close(reason_pipe[1]);
        return false;
    }
    if (pid == 0) {
        ::close(reason_pipe[0]);
        g_state.test_pid = 0; // never report a test result from here
        try {
            fn();
        } catch (const AbortTest&) {
        } catch (const std::exception& e) {
            fail_here(nullptr, 0, std::string("uncaught exception in child: ") + e.what(), false);
        }
        std::fflush(stdout);
        if (g_tee) std::fflush(g_tee);
        if (g_state.skipped && !g_state.failed) {
            const std::string& r = g_state.skip_reason;
            for (size_t off = 0; off < r.size();) {
                const ssize_t n = ::write(reason_pipe[1], r.data() + off, r.size() - off);
                if (n <= 0) break;
                off += static_cast<size_t>(n);
            }
            ::_exit(exit_skip);
        }
        ::_exit(g_state.failed ? 1 : 0);
    }
    ::close(reason_pipe[1]);
    std::string reason;
    char buf[256];
    for (;;) {
        const ssize_t n = ::read(reason_pipe[0], buf, sizeof(buf));
        if (n > 0) reason.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    ::close(reason_pipe[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        diag("child process terminated by " + signal_name(WTERMSIG(status)));
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == exit_skip)
        skip_here(nullptr, 0, reason.empty() ? "skipped in a child process" : reason);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ------------------------------------------------------------ assertions --
void check_ok(const char* file, int line, const char* expr, const CallOutcome& o, bool fatal) {
    if (o.ok) return;
    fail_here(file, line,
              strf("%s failed: %s", expr, gmem::Errno{o.err}.describe().c_str()), fatal);
}

void check_errno(const char* file, int line, const char* expr, const CallOutcome& o,
                 int expected, const char* expected_text, bool fatal) {
    std::string want = gmem::Errno{expected}.describe();
    if (gmem::Errno{expected}.name() != expected_text) want += std::string(" from ") + expected_text;
    if (o.ok) {
        fail_here(file, line,
                  strf("Expected %s to fail with %s, got %s", expr, want.c_str(), o.value.c_str()),
                  fatal);
    } else if (o.err != expected) {
        fail_here(file, line,
                  strf("Expected %s to fail with %s, got %s", expr, want.c_str(),
                       gmem::Errno{o.err}.describe().c_str()),
                  fatal);
    }
}

void check_signal(const char* file, int line, const char* stmt, int sig,
                  const std::optional<siginfo_t>& got, bool expect_raised, bool fatal) {
    if (expect_raised && !got) {
        fail_here(file, line,
                  strf("Expected %s to raise %s, it completed without one", stmt,
                       signal_name(sig).c_str()),
                  fatal);
    } else if (!expect_raised && got) {
        fail_here(file, line,
                  strf("Expected %s to complete, it raised %s at address %p (si_code %d)", stmt,
                       signal_name(sig).c_str(), got->si_addr, got->si_code),
                  fatal);
    }
}

namespace {
thread_local sigjmp_buf* g_jmp = nullptr;
thread_local siginfo_t g_siginfo;

// Several threads may catch the same signal at once (e.g. SIGBUS checks in
// the vCPU threads of one test): the trampoline is installed by the first
// and the previous action restored by the last, under a lock. A signal that
// reaches a thread not inside catch_signal gets the previous action.
std::mutex g_sig_lock;
int g_sig_users[NSIG] = {};
struct sigaction g_sig_saved[NSIG];

void signal_trampoline(int sig, siginfo_t* si, void*) {
    if (g_jmp == nullptr) { // not ours: what was there before
        ::sigaction(sig, &g_sig_saved[sig], nullptr);
        ::raise(sig);
        return;
    }
    g_siginfo = *si;
    siglongjmp(*g_jmp, 1);
}
} // namespace

std::optional<siginfo_t> catch_signal(int sig, void (*fn)(void*), void* arg) {
    {
        std::lock_guard<std::mutex> lock(g_sig_lock);
        if (g_sig_users[sig]++ == 0) {
            struct sigaction sa{};
            sa.sa_sigaction = signal_trampoline;
            sa.sa_flags = SA_SIGINFO;
            sigemptyset(&sa.sa_mask);
            ::sigaction(sig, &sa, &g_sig_saved[sig]);
        }
    }
    sigjmp_buf buf;
    sigjmp_buf* const prev = g_jmp;
    g_jmp = &buf;
    std::optional<siginfo_t> got;
    if (sigsetjmp(buf, 1) == 0) {
        fn(arg);
    } else {
        got = g_siginfo;
    }
    g_jmp = prev;
    {
        std::lock_guard<std::mutex> lock(g_sig_lock);
        if (--g_sig_users[sig] == 0) ::sigaction(sig, &g_sig_saved[sig], nullptr);
    }
    return got;
}

// ------------------------------------------------------- known failures --
// ci/known-kernel-failures, read at run time: the tests a kernel the project
// knows fails, each shown as XFAIL with the reason (XPASS when it passes:
// the entry is stale). One entry a line:
//   <kernel release glob> <what> <reason...>
// <what>: a behaviour ID (every test naming it), or PROGRAM:TEST with TEST a
// glob over fixture[.variant].test. The file: $GMEM_KNOWN_FAILURES (empty:
// none), else known-kernel-failures at the root of an installed tree, else the
// source tree's ci/known-kernel-failures.
namespace {

struct KnownFailure {
    std::string glob, program, test, id, reason, where;
};

struct KnownFailures {
    std::vector<KnownFailure> entries;
    std::string path;
    std::string error; // a line that is not an entry, or an unreadable file
};

bool looks_like_id(const std::string& s) {
    const size_t dash = s.find('-');
    if (dash == std::string::npos || dash == 0 || s.size() != dash + 3) return false;
    for (size_t i = 0; i < dash; ++i)
        if (s[i] < 'A' || s[i] > 'Z') return false;
    return std::isdigit(static_cast<unsigned char>(s[dash + 1])) &&
           std::isdigit(static_cast<unsigned char>(s[dash + 2]));
}

KnownFailures load_known_failures(const std::string& release) {
    KnownFailures k;
    if (const char* env = std::getenv("GMEM_KNOWN_FAILURES")) {
        if (!*env) return k;
        k.path = env;
    } else {
        k.path = gmem::util::helper_path("../known-kernel-failures", GMEM_KNOWN_FAILURES_PATH);
    }
    std::ifstream in(k.path);
    if (!in) {
        // The compiled-in path of a tree that is not there (a copied build):
        // nothing is known. A file named on purpose must be readable.
        if (std::getenv("GMEM_KNOWN_FAILURES"))
            k.error = k.path + ": cannot read: " + std::strerror(errno);
        return k;
    }
    std::string line;
    for (unsigned n = 1; std::getline(in, line); ++n) {
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        std::istringstream is(line);
        KnownFailure e;
        std::string what;
        is >> e.glob >> what;
        std::getline(is >> std::ws, e.reason);
        e.where = k.path + ":" + std::to_string(n);
        if (what.empty() || e.reason.empty()) {
            k.error = e.where + ": not '<kernel glob> <ID or PROGRAM:TEST> <reason>'";
            return k;
        }
        if (looks_like_id(what)) {
            if (!known_behaviour_id(what)) {
                k.error = e.where + ": " + what + " is not a behaviour ID of spec/BEHAVIORS.md";
                return k;
            }
            e.id = what;
        } else if (const size_t colon = what.find(':'); colon != std::string::npos && colon > 0 &&
                                                         colon + 1 < what.size()) {
            e.program = what.substr(0, colon);
            e.test = what.substr(colon + 1);
        } else {
            k.error = e.where + ": '" + what +
                      "' is neither a behaviour ID nor PROGRAM:TEST (whole programs are not listed: "
                      "name the failing tests)";
            return k;
        }
        if (::fnmatch(e.glob.c_str(), release.c_str(), 0) == 0) k.entries.push_back(std::move(e));
    }
    return k;
}

bool names_id(const char* ids, const std::string& id) {
    std::istringstream is(ids ? ids : "");
    std::string one;
    while (is >> one)
        if (one == id) return true;
    return false;
}

} // namespace

// ------------------------------------------------------------------ runner --
namespace {

struct Selected {
    FixtureInfo* fixture;
    const VariantInfo* variant; // nullptr: fixture without variants
    const TestInfo* test;
    std::string name;
    std::string bad_ids; // IDs not in spec/BEHAVIORS.md
    const XfailInfo* xfail = nullptr;
};

struct Filter {
    char kind; // t T v V f F r
    std::string value;
};

void usage(FILE* out, const char* prog) {
    std::fprintf(out,
                 "Usage: %s [-h|-l] [-t|-T|-v|-V|-f|-F|-r name]\n"
                 "\t-h       print help\n"
                 "\t-l       list all tests with the behaviour IDs they cover\n"
                 "\n"
                 "\t-t name  include test\n"
                 "\t-T name  exclude test\n"
                 "\t-v name  include variant\n"
                 "\t-V name  exclude variant\n"
                 "\t-f name  include fixture\n"
                 "\t-F name  exclude fixture\n"
                 "\t-r name  run specified test (fixture[.variant].test)\n"
                 "\n"
                 "Test filter options can be specified multiple times. The filtering stops\n"
                 "at the first match. For example to include all tests from variant 'bla'\n"
                 "but not test 'foo' specify '-T foo -v bla'.\n"
                 "\n"
                 "Output is KTAP version 1. Exit codes: 0 nothing failed (skips allowed),\n"
                 "1 a test failed, 2 usage error, 4 every selected test was skipped.\n"
                 "GMEM_KTAP_DIR=dir also writes the output to dir/<program>.ktap.\n"
                 "Known failures of the running kernel (ci/known-kernel-failures; another\n"
                 "file: GMEM_KNOWN_FAILURES=path, none: GMEM_KNOWN_FAILURES=) report XFAIL,\n"
                 "or XPASS (a failure: the entry is stale) when they pass.\n",
                 prog);
}

bool selected_by(const std::vector<Filter>& filters, const Selected& s) {
    bool any_include = false;
    for (const auto& f : filters) {
        const char lower = static_cast<char>(f.kind | 0x20);
        const bool include = f.kind == lower;
        if (include) any_include = true;
        bool match = false;
        switch (lower) {
        case 't': match = f.value == s.test->name; break;
        case 'v': match = s.variant && f.value == s.variant->name; break;
        case 'f': match = f.value == s.fixture->name; break;
        case 'r': {
            // fixture.test for fixtures without variants, fixture.variant.test otherwise
            match = f.value == s.name;
            break;
        }
        default: break;
        }
        if (match) return include;
    }
    return !any_include;
}

std::string check_ids(const char* ids) {
    std::string bad;
    std::string_view rest(ids ? ids : "");
    while (!rest.empty()) {
        const size_t sp = rest.find(' ');
        const std::string_view id = rest.substr(0, sp);
        if (!id.empty() && !known_behaviour_id(id)) bad += (bad.empty() ? "" : " ") + std::string(id);
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return bad;
}

std::vector<Selected> all_tests() {
    std::vector<Selected> out;
    // The global fixture (TEST()) comes first, as in kselftest.
    std::vector<FixtureInfo*> order = fixtures();
    std::stable_partition(order.begin(), order.end(),
                          [](FixtureInfo* f) { return f == &global_fixture(); });
    for (FixtureInfo* f : order) {
        std::vector<const VariantInfo*> variants;
        for (const auto& v : f->variants) variants.push_back(&v);
        if (variants.empty()) variants.push_back(nullptr);
        for (const VariantInfo* v : variants) {
            for (const auto& t : f->tests) {
                Selected s{f, v, &t, "", check_ids(t.ids)};
                s.name = std::string(f->name) + "." + (v ? std::string(v->name) + "." : "") +
                         t.name;
                for (const auto& x : f->xfails) {
                    const bool vmatch = v ? std::strcmp(x.variant, v->name) == 0
                                          : std::strcmp(x.variant, "none") == 0;
                    if (vmatch && std::strcmp(x.test, t.name) == 0) s.xfail = &x;
                }
                out.push_back(std::move(s));
            }
        }
    }
    return out;
}

// The fds this process has open, with what they point at.
std::vector<std::pair<int, std::string>> open_fds() {
    std::vector<std::pair<int, std::string>> fds;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return fds;
    const int self = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const int fd = std::atoi(e->d_name);
        if (fd == self) continue;
        char target[512] = {};
        const std::string link = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
        fds.emplace_back(fd, n > 0 ? std::string(target, static_cast<size_t>(n)) : "?");
    }
    ::closedir(d);
    return fds;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

double now_s() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Waits for the test process; false if the deadline passed first.
bool wait_with_timeout(pid_t pid, unsigned timeout_ms, int* status) {
    const double deadline = now_s() + timeout_ms / 1000.0;
    const int pfd = pidfd_open(pid);
    while (true) {
        const pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid) {
            if (pfd >= 0) ::close(pfd);
            return true;
        }
        const double left = deadline - now_s();
        if (left <= 0) {
            if (pfd >= 0) ::close(pfd);
            return false;
        }
        if (pfd >= 0) {
            pollfd p{pfd, POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
        } else {
            ::usleep(2000); // kernel without pidfd_open: poll the child
        }
    }
}

// "30 seconds" for whole seconds (as the KTAP of every TEST_TIMEOUT has it),
// else the seconds with as many decimals as needed: "0.2 seconds".
std::string timeout_text(unsigned timeout_ms) {
    if (timeout_ms % ms_per_s == 0) return strf("%u seconds", timeout_ms / ms_per_s);
    std::string frac = strf("%03u", timeout_ms % ms_per_s);
    while (frac.back() == '0') frac.pop_back();
    return strf("%u.%s seconds", timeout_ms / ms_per_s, frac.c_str());
}

struct Outcome {
    Status status;
    std::string reason;
    bool observed;
};

Outcome run_one(const Selected& s, SharedResult* shared) {
    std::memset(shared, 0, sizeof(*shared));
    std::fflush(stdout);
    if (g_tee) std::fflush(g_tee);
    const pid_t pid = ::fork();
    if (pid < 0) return {Status::fail, "fork: " + gmem::Errno::last().describe(), false};
    if (pid == 0) {
        ::setpgid(0, 0);
        g_state = TestState{};
        g_state.test_pid = ::getpid();
        const auto fds_before = open_fds();
        s.test->thunk(s.variant ? s.variant->data : nullptr);
        if (::getpid() == g_state.test_pid) {
            // Tests must leave no fd open: RAII owns every fd, mapping, VM and vCPU.
            for (const auto& [fd, target] : open_fds()) {
                bool known = false;
                for (const auto& b : fds_before) known |= b.first == fd;
                if (!known)
                    fail_here(nullptr, 0,
                              strf("test left fd %d open (%s)", fd, target.c_str()), false);
            }
            shared->failed = g_state.failed;
            shared->skipped = g_state.skipped && !g_state.failed;
            shared->observed = g_state.observed;
            copy_reason(shared, g_state.skip_reason);
            shared->completed = 1;
        }
        std::fflush(stdout);
        std::exit(0);
    }
    ::setpgid(pid, pid);
    int status = 0;
    const bool finished = wait_with_timeout(pid, s.test->timeout_ms, &status);
    // Whatever the test left behind (forked helpers, a hung child) goes too.
    ::kill(-pid, SIGKILL);
    if (!finished) {
        ::waitpid(pid, &status, 0);
        diag(s.name + ": Test terminated by timeout");
        return {Status::timeout, timeout_text(s.test->timeout_ms), false};
    }
    if (WIFSIGNALED(status)) {
        diag(s.name + ": Test terminated unexpectedly by " + signal_name(WTERMSIG(status)));
        return {Status::crash, "", false};
    }
    if (!shared->completed) {
        diag(strf("%s: Test exited with status %d before reporting a result", s.name.c_str(),
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1));
        return {Status::crash, "", false};
    }
    if (shared->failed) return {Status::fail, "", shared->observed != 0};
    if (shared->skipped) return {Status::skip, shared->reason, shared->observed != 0};
    return {Status::pass, "", shared->observed != 0};
}

// The variant gate's reason to skip the test without forking it, if any.
std::optional<std::string> gate_reason(const Selected& s) {
    if (!s.fixture->gate || !s.variant) return std::nullopt;
    try {
        return s.fixture->gate(s.variant->data);
    } catch (...) {
        return std::nullopt;
    }
}

} // namespace

int main(int argc, char** argv) {
    const char* prog = argc > 0 ? argv[0] : "test";
    std::vector<Filter> filters;
    bool list = false;
    ::opterr = 0;
    int opt;
    while ((opt = ::getopt(argc, argv, ":hlt:T:v:V:f:F:r:")) != -1) {
        switch (opt) {
        case 'h': usage(stdout, prog); return exit_pass;
        case 'l': list = true; break;
        case 't':
        case 'T':
        case 'v':
        case 'V':
        case 'f':
        case 'F':
        case 'r':
            if (!::optarg || !*::optarg) {
                std::fprintf(stderr, "%s: -%c needs a non-empty name\n", prog, opt);
                usage(stderr, prog);
                return exit_usage;
            }
            filters.push_back({static_cast<char>(opt), ::optarg});
            break;
        case ':':
            std::fprintf(stderr, "%s: option -%c needs a value\n", prog, ::optopt);
            usage(stderr, prog);
            return exit_usage;
        default:
            std::fprintf(stderr, "%s: unknown option -%c\n", prog, ::optopt);
            usage(stderr, prog);
            return exit_usage;
        }
    }
    if (::optind < argc) {
        std::fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[::optind]);
        usage(stderr, prog);
        return exit_usage;
    }

    std::vector<Selected> tests = all_tests();
    for (size_t i = 0; i < tests.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (tests[i].name == tests[j].name) {
                std::fprintf(stderr, "%s: duplicate test name %s\n", prog, tests[i].name.c_str());
                return exit_fail;
            }

    if (list) {
        for (const auto& t : tests)
            std::printf("%s\t%s\n", t.name.c_str(), t.test->ids ? t.test->ids : "");
        return exit_pass;
    }

    // Known failures of this kernel (the compiled-in XFAIL_ADD ones win).
    utsname uts{};
    const std::string release = ::uname(&uts) == 0 ? uts.release : "";
    const KnownFailures known = load_known_failures(release);
    if (!known.error.empty()) {
        std::fprintf(stderr, "%s: known failures: %s\n", prog, known.error.c_str());
        return exit_usage;
    }
    const char* base_name = std::strrchr(prog, '/');
    const std::string program = base_name ? base_name + 1 : prog;
    std::deque<XfailInfo> runtime_xfails; // stable addresses for Selected::xfail
    std::deque<std::string> runtime_reasons;
    for (auto& t : tests) {
        if (t.xfail) continue;
        for (const auto& e : known.entries) {
            const bool hit = e.id.empty() ? e.program == program &&
                                                ::fnmatch(e.test.c_str(), t.name.c_str(), 0) == 0
                                          : names_id(t.test->ids, e.id);
            if (!hit) continue;
            runtime_reasons.push_back(e.reason + " [known failure on " + release + ": " + e.where + "]");
            runtime_xfails.push_back({t.variant ? t.variant->name : "none", t.test->name,
                                      runtime_reasons.back().c_str()});
            t.xfail = &runtime_xfails.back();
            break;
        }
    }

    std::vector<const Selected*> run;
    for (const auto& t : tests)
        if (selected_by(filters, t)) run.push_back(&t);
    if (run.empty() && !filters.empty()) {
        std::fprintf(stderr, "%s: no test matches the given filters (see -l)\n", prog);
        return exit_usage;
    }

    if (const char* dir = std::getenv("GMEM_KTAP_DIR"); dir && *dir) {
        const char* base = std::strrchr(prog, '/');
        const std::string path = std::string(dir) + "/" + (base ? base + 1 : prog) + ".ktap";
        g_tee = std::fopen(path.c_str(), "we");
        if (!g_tee)
            std::fprintf(stderr, "%s: cannot write %s: %s\n", prog, path.c_str(),
                         std::strerror(errno));
    }

    void* page = ::mmap(nullptr, sizeof(SharedResult), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        std::fprintf(stderr, "%s: mmap of the result page failed: %s\n", prog,
                     std::strerror(errno));
        return exit_fail;
    }
    auto* shared = static_cast<SharedResult*>(page);

    emit_line("KTAP version 1");
    emit_line(strf("1..%zu", run.size()));
    unsigned pass = 0, fail = 0, skip = 0, xfail = 0, xpass = 0, timeout = 0;
    unsigned n = 0;
    for (const Selected* s : run) {
        ++n;
        emit_line("#  RUN           " + s->name + " ...");
        if (s->test->ids && *s->test->ids) diag(std::string("ids: ") + s->test->ids);
        Outcome o;
        if (!s->bad_ids.empty()) {
            diag(s->name + ": unknown behaviour ID(s) " + s->bad_ids +
                 " (not in spec/BEHAVIORS.md)");
            o = {Status::fail, "", false};
        } else if (auto why = gate_reason(*s)) {
            o = {Status::skip, *why, false};
        } else {
            o = run_one(*s, shared);
        }
        if (s->xfail) {
            if (o.status == Status::fail || o.status == Status::crash ||
                o.status == Status::timeout)
                o = {Status::xfail, s->xfail->reason, o.observed};
            else if (o.status == Status::pass)
                o = {Status::xpass, s->xfail->reason, o.observed};
        }
        std::string line;
        switch (o.status) {
        case Status::pass:
            ++pass;
            emit_line("#            OK  " + s->name);
            line = strf("ok %u %s", n, s->name.c_str());
            break;
        case Status::skip:
            ++skip;
            emit_line("#      SKIP      " + o.reason);
            line = strf("ok %u %s # SKIP %s", n, s->name.c_str(), o.reason.c_str());
            break;
        case Status::xfail:
            ++xfail;
            emit_line("#      XFAIL     " + o.reason);
            line = strf("ok %u %s # XFAIL %s", n, s->name.c_str(), o.reason.c_str());
            break;
        case Status::xpass:
            ++xpass;
            diag(s->name + ": passed but was expected to fail: " + o.reason);
            line = strf("not ok %u %s # XPASS %s", n, s->name.c_str(), o.reason.c_str());
            break;
        case Status::timeout:
            ++timeout;
            emit_line("#     FAIL       " + s->name);
            line = strf("not ok %u %s # TIMEOUT %s", n, s->name.c_str(), o.reason.c_str());
            break;
        case Status::fail:
        case Status::crash:
            ++fail;
            emit_line("#     FAIL       " + s->name);
            line = strf("not ok %u %s", n, s->name.c_str());
            break;
        }
        emit_line(line);
    }
    const unsigned failed = fail + xpass + timeout;
    emit_line(strf("# %s: %u / %zu tests passed.", failed ? "FAILED" : "PASSED", pass,
                   run.size()));
    emit_line(strf("# Totals: pass:%u fail:%u xfail:%u xpass:%u skip:%u error:%u", pass,
                   fail + timeout, xfail, xpass, skip, 0U));
    ::munmap(page, sizeof(SharedResult));
    if (g_tee) std::fclose(g_tee);
    if (failed) return exit_fail;
    if (!run.empty() && skip == run.size()) return exit_skip;
    if (run.empty()) return exit_skip;
    return exit_pass;
}

} // namespace harness
