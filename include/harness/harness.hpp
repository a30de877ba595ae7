// A C++ counterpart of the kernel's kselftest_harness.h: TEST / FIXTURE /
// FIXTURE_VARIANT declarations, a forked process per test with a timeout, KTAP
// output, kselftest exit codes and command line. Differences from the C harness:
// teardown always runs (also after a failed ASSERT), and every test names the
// behaviour IDs of spec/BEHAVIORS.md that it covers.
//
//   FIXTURE(gmem) { int fd = -1; };
//   FIXTURE_VARIANT(gmem) { std::uint64_t flags; };
//   FIXTURE_VARIANT_ADD(gmem, mmap) { .flags = 1 };
//   FIXTURE_SETUP(gmem) { self->fd = ...; }
//   FIXTURE_TEARDOWN(gmem) { ... }
//   TEST_F(gmem, size_zero, "CREATE-01") { EXPECT_ERRNO(create(0), EINVAL); }
//
// ASSERT_* stops the test (teardown still runs); EXPECT_* records and goes on.
#pragma once

#include "gmem/errno.hpp"

#include <csignal>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace harness {

inline constexpr int exit_pass = 0;
inline constexpr int exit_fail = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_skip = 4;
inline constexpr unsigned default_timeout_s = 30;
// Timeouts are kept in milliseconds: TEST_TIMEOUT gives whole seconds (what
// real tests use), TEST_TIMEOUT_MS a finer bound (the harness's own checks of
// HARNESS-04 use it, so that they do not wait a whole second for a hang).
inline constexpr unsigned ms_per_s = 1000;

// ---- registry ----
using TestThunk = void (*)(const void* variant);

struct TestInfo {
    const char* name;
    const char* ids; // space-separated behaviour IDs, e.g. "CAP-01 CAP-02"
    unsigned timeout_ms;
    TestThunk thunk;
};

struct VariantInfo {
    const char* name;
    const void* data;
};

struct XfailInfo {
    const char* variant; // nullptr when the fixture has no variants
    const char* test;
    const char* reason;
};

// A fixture's variant gate (FIXTURE_VARIANT_GATE): a reason to SKIP every
// test of the variant, or none.
using VariantGate = std::optional<std::string> (*)(const void* variant);

struct FixtureInfo {
    explicit FixtureInfo(const char* fixture_name);
    const char* name;
    std::vector<VariantInfo> variants;
    std::vector<TestInfo> tests;
    std::vector<XfailInfo> xfails;
    VariantGate gate = nullptr;
};

FixtureInfo& global_fixture();

struct VariantRegistrar {
    VariantRegistrar(FixtureInfo& f, const char* name, const void* data) {
        f.variants.push_back({name, data});
    }
};
struct TestRegistrar {
    TestRegistrar(FixtureInfo& f, const char* name, const char* ids, unsigned timeout_ms,
                  TestThunk thunk) {
        f.tests.push_back({name, ids, timeout_ms, thunk});
    }
};
struct GateRegistrar {
    GateRegistrar(FixtureInfo& f, VariantGate g) { f.gate = g; }
};
struct XfailRegistrar {
    XfailRegistrar(FixtureInfo& f, const char* variant, const char* test, const char* reason) {
        f.xfails.push_back({variant, test, reason});
    }
};

// Runs the selected tests and returns the kselftest exit code.
int main(int argc, char** argv);

// ---- inside a running test ----
// Thrown by a failed ASSERT and by SKIP: unwinds the test body (running
// destructors), after which teardown runs. Not derived from std::exception so
// that test code catching std::exception does not swallow it.
struct AbortTest {};

void fail_here(const char* file, int line, const std::string& message, bool fatal);
[[noreturn]] void skip_here(const char* file, int line, const std::string& reason);
void diag(const std::string& text);           // "# text", each line
void observe(const std::string& text);        // "# observe: text"; labels the test
bool test_failed();                           // any failure so far in this test
void run_phases(const std::function<void()>& setup, const std::function<void()>& body,
                const std::function<void()>& teardown);

// printf-style formatting into std::string.
[[gnu::format(printf, 1, 2)]] std::string strf(const char* fmt, ...);

// Context printed with any failure while it is alive (like gtest's SCOPED_TRACE).
class Trace {
  public:
    explicit Trace(std::string text);
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;
};

// Runs fn with a handler for sig installed. Returns the siginfo when the
// signal was raised inside fn (fn is left by siglongjmp: it must not own
// objects with destructors), std::nullopt when fn returned normally.
std::optional<siginfo_t> catch_signal(int sig, void (*fn)(void*), void* arg);
template <class F> std::optional<siginfo_t> catch_signal(int sig, F&& f) {
    auto thunk = [](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); };
    return catch_signal(sig, +thunk, &f);
}
std::string signal_name(int sig); // "SIGBUS (Bus error)"

// ---- value display for failure messages ----
template <class T> std::string show(const T& v) {
    using U = std::remove_cvref_t<T>;
    std::ostringstream os;
    if constexpr (std::is_same_v<U, bool>) {
        os << (v ? "true" : "false");
    } else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> ||
                         std::is_same_v<U, unsigned char>) {
        os << static_cast<int>(v);
    } else if constexpr (std::is_enum_v<U>) {
        os << static_cast<long long>(static_cast<std::underlying_type_t<U>>(v));
    } else if constexpr (std::is_integral_v<U>) {
        os << +v;
        if constexpr (std::is_unsigned_v<U>) {
            if (v > 9) os << " (0x" << std::hex << +v << ")";
        }
    } else if constexpr (std::is_same_v<U, gmem::Errno>) {
        os << v.describe();
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
        os << '"' << std::string_view(v) << '"';
    } else if constexpr (std::is_pointer_v<U> || std::is_null_pointer_v<U>) {
        os << static_cast<const void*>(v);
    } else if constexpr (requires { os << v; }) {
        os << v;
    } else {
        os << "<" << sizeof(U) << "-byte object>";
    }
    return os.str();
}

namespace cmp {
template <class A, class B> constexpr bool int_pair() {
    using X = std::remove_cvref_t<A>;
    using Y = std::remove_cvref_t<B>;
    return std::is_integral_v<X> && std::is_integral_v<Y> && !std::is_same_v<X, bool> &&
           !std::is_same_v<Y, bool>;
}
// Integer comparisons are value-exact across signedness (std::cmp_*).
template <class A, class B> bool eq(const A& a, const B& b) {
    if constexpr (int_pair<A, B>()) return std::cmp_equal(a, b);
    else return a == b;
}
template <class A, class B> bool lt(const A& a, const B& b) {
    if constexpr (int_pair<A, B>()) return std::cmp_less(a, b);
    else return a < b;
}
template <class A, class B> bool ne(const A& a, const B& b) { return !eq(a, b); }
template <class A, class B> bool le(const A& a, const B& b) { return !lt(b, a); }
template <class A, class B> bool gt(const A& a, const B& b) { return lt(b, a); }
template <class A, class B> bool ge(const A& a, const B& b) { return !lt(a, b); }
} // namespace cmp

// ---- system call results ----
// Normalises what a call returned: an int/long (-1 = failure, errno), a
// pointer (MAP_FAILED = failure), or a gmem::Result / std::expected.
struct CallOutcome {
    bool ok;
    int err;           // errno on failure
    std::string value; // what came back, for messages
};
template <class T> CallOutcome outcome_of(const T& r, int saved_errno) {
    using U = std::remove_cvref_t<T>;
    if constexpr (requires { r.has_value(); r.error(); }) {
        if (r.has_value()) {
            if constexpr (std::is_void_v<typename U::value_type>) return {true, 0, "success"};
            else return {true, 0, "success: " + show(*r)};
        }
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(r.error())>, gmem::Errno>)
            return {false, r.error().code, ""};
        else return {false, static_cast<int>(r.error()), ""};
    } else if constexpr (std::is_pointer_v<U>) {
        const bool failed = reinterpret_cast<std::intptr_t>(r) == -1;
        return {!failed, failed ? saved_errno : 0, failed ? "" : "success: " + show(r)};
    } else {
        static_assert(std::is_integral_v<U>, "ASSERT_OK/ASSERT_ERRNO need an integer, a "
                                             "pointer or a Result");
        const bool failed = std::cmp_equal(r, -1);
        return {!failed, failed ? saved_errno : 0, failed ? "" : "success: " + show(r)};
    }
}
void check_ok(const char* file, int line, const char* expr, const CallOutcome& o, bool fatal);
void check_errno(const char* file, int line, const char* expr, const CallOutcome& o,
                 int expected, const char* expected_text, bool fatal);
void check_signal(const char* file, int line, const char* stmt, int sig,
                  const std::optional<siginfo_t>& got, bool expect_raised, bool fatal);

// Validates behaviour IDs against spec/BEHAVIORS.md (compiled in).
bool known_behaviour_id(std::string_view id);

// Runs fn in a forked child (e.g. a second process mapping the same file) and
// waits. Failed EXPECT/ASSERTs in the child are printed there and make this
// return false, as does a crash (reported with its signal). A SKIP in the
// child (and no failure) skips the calling test with the child's reason.
bool run_in_child(const std::function<void()>& fn);

// Volatile single-byte accesses: a plain load whose value is unused may be
// optimised away, and then an expected SIGBUS would never be raised.
inline std::uint8_t peek(const void* p) { return *static_cast<const volatile std::uint8_t*>(p); }
inline void poke(void* p, std::uint8_t v) { *static_cast<volatile std::uint8_t*>(p) = v; }

} // namespace harness

// ---- declaration macros ----
#define HARNESS_CAT_(a, b) a##b
#define HARNESS_CAT(a, b) HARNESS_CAT_(a, b)

#define FIXTURE(fx)                                                                                \
    struct fx##_variant_t_;                                                                        \
    struct fx##_fixture_t_;                                                                        \
    static ::harness::FixtureInfo fx##_info_{#fx};                                                 \
    struct fx##_fixture_t_

#define FIXTURE_VARIANT(fx) struct fx##_variant_t_

#define FIXTURE_VARIANT_ADD(fx, vname)                                                             \
    extern const fx##_variant_t_ fx##_v_##vname##_;                                                \
    static ::harness::VariantRegistrar fx##_v_##vname##_reg_{fx##_info_, #vname,                   \
                                                             &fx##_v_##vname##_};                  \
    const fx##_variant_t_ fx##_v_##vname##_ =

// The variant's gate, asked by the runner before it forks a test of the
// variant: a reason reports the test SKIP with it, and no process is made
// (under TCG a fork costs the test programs about 8 ms a test, and a variant
// of a VM type the kernel does not offer skips every test). Only for what
// cannot change between the tests of one run (the probe's answers), and
// FIXTURE_SETUP must still check the same thing first: the gate saves the
// fork, it never decides differently. The gate runs in the runner: an
// exception from it means no gate (the test runs and decides for itself).
#define FIXTURE_VARIANT_GATE(fx)                                                                   \
    static std::optional<std::string> fx##_gate_(const fx##_variant_t_* variant);                  \
    static ::harness::GateRegistrar fx##_gate_reg_{                                                \
        fx##_info_,                                                                                \
        [](const void* vp) { return fx##_gate_(static_cast<const fx##_variant_t_*>(vp)); }};       \
    static std::optional<std::string> fx##_gate_([[maybe_unused]] const fx##_variant_t_* variant)

#define FIXTURE_SETUP(fx)                                                                          \
    static void fx##_setup_([[maybe_unused]] fx##_fixture_t_* self,                                \
                            [[maybe_unused]] const fx##_variant_t_* variant)

#define FIXTURE_TEARDOWN(fx)                                                                       \
    static void fx##_teardown_([[maybe_unused]] fx##_fixture_t_* self,                             \
                               [[maybe_unused]] const fx##_variant_t_* variant)

#define TEST_F_TIMEOUT_MS(fx, tname, timeout_ms, ids)                                              \
    static void fx##_##tname##_body_(fx##_fixture_t_* self, const fx##_variant_t_* variant);       \
    static ::harness::TestRegistrar fx##_##tname##_reg_{                                           \
        fx##_info_, #tname, ids, timeout_ms, [](const void* vp) {                                  \
            auto* v = static_cast<const fx##_variant_t_*>(vp);                                     \
            fx##_fixture_t_ f{};                                                                   \
            ::harness::run_phases([&] { fx##_setup_(&f, v); }, [&] { fx##_##tname##_body_(&f, v); }, \
                                  [&] { fx##_teardown_(&f, v); });                                 \
        }};                                                                                        \
    static void fx##_##tname##_body_([[maybe_unused]] fx##_fixture_t_* self,                       \
                                     [[maybe_unused]] const fx##_variant_t_* variant)

#define TEST_F_TIMEOUT(fx, tname, timeout_s, ids)                                                  \
    TEST_F_TIMEOUT_MS(fx, tname, (timeout_s) * ::harness::ms_per_s, ids)
#define TEST_F(fx, tname, ids) TEST_F_TIMEOUT(fx, tname, ::harness::default_timeout_s, ids)

#define TEST_TIMEOUT_MS(tname, timeout_ms, ids)                                                    \
    static void tname##_body_();                                                                   \
    static ::harness::TestRegistrar tname##_reg_{                                                  \
        ::harness::global_fixture(), #tname, ids, timeout_ms, [](const void*) {                    \
            ::harness::run_phases([] {}, [] { tname##_body_(); }, [] {});                          \
        }};                                                                                        \
    static void tname##_body_()

#define TEST_TIMEOUT(tname, timeout_s, ids)                                                        \
    TEST_TIMEOUT_MS(tname, (timeout_s) * ::harness::ms_per_s, ids)
#define TEST(tname, ids) TEST_TIMEOUT(tname, ::harness::default_timeout_s, ids)

// The test is expected to fail for this variant (the variant's name, or `none`
// for a fixture without variants; TEST()s belong to fixture `global`): a
// failure reports XFAIL, a pass reports XPASS, which counts as a failure
// because the expectation is out of date.
[[maybe_unused]] static ::harness::FixtureInfo& global_info_ = ::harness::global_fixture();
#define XFAIL_ADD(fx, vname, tname, reason)                                                        \
    static ::harness::XfailRegistrar HARNESS_CAT(fx##_xfail_, __LINE__){fx##_info_, #vname,        \
                                                                         #tname, reason}

#define TEST_HARNESS_MAIN                                                                          \
    int main(int argc, char** argv) { return ::harness::main(argc, argv); }

// ---- in-test macros ----
#define SKIP(...) ::harness::skip_here(__FILE__, __LINE__, ::harness::strf(__VA_ARGS__))
#define TH_LOG(...) ::harness::diag(::harness::strf(__VA_ARGS__))
#define OBSERVE(...) ::harness::observe(::harness::strf(__VA_ARGS__))
#define HARNESS_TRACE(...) ::harness::Trace HARNESS_CAT(harness_trace_, __LINE__)(::harness::strf(__VA_ARGS__))

// Operand texts are stringified by the outer macros, before macro expansion,
// so that EINVAL prints as "EINVAL" and not as "22".
#define HARNESS_CMP_(fn, op, a, b, atext, btext, fatal)                                            \
    do {                                                                                           \
        const auto& harness_a_ = (a);                                                              \
        const auto& harness_b_ = (b);                                                              \
        if (!::harness::cmp::fn(harness_a_, harness_b_))                                           \
            ::harness::fail_here(__FILE__, __LINE__,                                               \
                                 std::string("Expected ") + atext + " (" +                         \
                                     ::harness::show(harness_a_) + ") " op " " + btext + " (" +    \
                                     ::harness::show(harness_b_) + ")",                            \
                                 fatal);                                                           \
    } while (0)

#define ASSERT_EQ(a, b) HARNESS_CMP_(eq, "==", a, b, #a, #b, true)
#define ASSERT_NE(a, b) HARNESS_CMP_(ne, "!=", a, b, #a, #b, true)
#define ASSERT_LT(a, b) HARNESS_CMP_(lt, "<", a, b, #a, #b, true)
#define ASSERT_LE(a, b) HARNESS_CMP_(le, "<=", a, b, #a, #b, true)
#define ASSERT_GT(a, b) HARNESS_CMP_(gt, ">", a, b, #a, #b, true)
#define ASSERT_GE(a, b) HARNESS_CMP_(ge, ">=", a, b, #a, #b, true)
#define EXPECT_EQ(a, b) HARNESS_CMP_(eq, "==", a, b, #a, #b, false)
#define EXPECT_NE(a, b) HARNESS_CMP_(ne, "!=", a, b, #a, #b, false)
#define EXPECT_LT(a, b) HARNESS_CMP_(lt, "<", a, b, #a, #b, false)
#define EXPECT_LE(a, b) HARNESS_CMP_(le, "<=", a, b, #a, #b, false)
#define EXPECT_GT(a, b) HARNESS_CMP_(gt, ">", a, b, #a, #b, false)
#define EXPECT_GE(a, b) HARNESS_CMP_(ge, ">=", a, b, #a, #b, false)

#define HARNESS_BOOL_(cond, ctext, want, fatal)                                                    \
    do {                                                                                           \
        if (static_cast<bool>(cond) != (want))                                                     \
            ::harness::fail_here(__FILE__, __LINE__,                                               \
                                 std::string("Expected ") + ctext + " to be " #want, fatal);       \
    } while (0)
#define ASSERT_TRUE(c) HARNESS_BOOL_(c, #c, true, true)
#define ASSERT_FALSE(c) HARNESS_BOOL_(c, #c, false, true)
#define EXPECT_TRUE(c) HARNESS_BOOL_(c, #c, true, false)
#define EXPECT_FALSE(c) HARNESS_BOOL_(c, #c, false, false)

#define HARNESS_STR_(a, b, atext, btext, fatal)                                                    \
    do {                                                                                           \
        const std::string harness_a_{a};                                                           \
        const std::string harness_b_{b};                                                           \
        if (harness_a_ != harness_b_)                                                              \
            ::harness::fail_here(__FILE__, __LINE__,                                               \
                                 std::string("Expected ") + atext + " (" +                         \
                                     ::harness::show(harness_a_) + ") == " + btext + " (" +        \
                                     ::harness::show(harness_b_) + ")",                            \
                                 fatal);                                                           \
    } while (0)
#define ASSERT_STREQ(a, b) HARNESS_STR_(a, b, #a, #b, true)
#define EXPECT_STREQ(a, b) HARNESS_STR_(a, b, #a, #b, false)

// A system call (or Result-returning call) must succeed.
#define HARNESS_OK_(expr, etext, fatal)                                                            \
    do {                                                                                           \
        errno = 0;                                                                                 \
        const auto& harness_r_ = (expr);                                                           \
        const int harness_e_ = errno;                                                              \
        ::harness::check_ok(__FILE__, __LINE__, etext,                                             \
                            ::harness::outcome_of(harness_r_, harness_e_), fatal);                 \
    } while (0)
#define ASSERT_OK(expr) HARNESS_OK_(expr, #expr, true)
#define EXPECT_OK(expr) HARNESS_OK_(expr, #expr, false)

// A system call (or Result-returning call) must fail with exactly this errno.
#define HARNESS_ERRNO_(expr, err, etext, errtext, fatal)                                           \
    do {                                                                                           \
        errno = 0;                                                                                 \
        const auto& harness_r_ = (expr);                                                           \
        const int harness_e_ = errno;                                                              \
        ::harness::check_errno(__FILE__, __LINE__, etext,                                          \
                               ::harness::outcome_of(harness_r_, harness_e_), (err), errtext,      \
                               fatal);                                                             \
    } while (0)
#define ASSERT_ERRNO(expr, err) HARNESS_ERRNO_(expr, err, #expr, #err, true)
#define EXPECT_ERRNO(expr, err) HARNESS_ERRNO_(expr, err, #expr, #err, false)

// The statement must raise signal sig (e.g. SIGBUS). Keep it to plain memory
// accesses: it is left by siglongjmp.
#define HARNESS_SIGNAL_(sig, stmt, stext, raised, fatal)                                           \
    do {                                                                                           \
        auto harness_got_ = ::harness::catch_signal(sig, [&] { stmt; });                           \
        ::harness::check_signal(__FILE__, __LINE__, stext, sig, harness_got_, raised, fatal);      \
    } while (0)
#define ASSERT_SIGNAL(sig, stmt) HARNESS_SIGNAL_(sig, stmt, #stmt, true, true)
#define EXPECT_SIGNAL(sig, stmt) HARNESS_SIGNAL_(sig, stmt, #stmt, true, false)
#define ASSERT_NO_SIGNAL(sig, stmt) HARNESS_SIGNAL_(sig, stmt, #stmt, false, true)
#define EXPECT_NO_SIGNAL(sig, stmt) HARNESS_SIGNAL_(sig, stmt, #stmt, false, false)
