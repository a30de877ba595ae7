// Turns a guest RunResult into harness failures: the message carries the
// guest's own story (file:line, expression and values of a failed
// GUEST_ASSERT, the vector of an exception, a timeout) after the host's line.
//
//   auto r = g.run(payload::check_pattern, {gpa, len, seed});
//   ASSERT_GUEST_DONE(r);
//   EXPECT_GUEST_RETURNS(r, len);
#pragma once

#include "gmem/guest/guest.hpp"
#include "harness/harness.hpp"

namespace gmem::guest {

inline void expect_done(const char* file, int line, const RunResult& r, bool fatal) {
    if (!r.ok()) ::harness::fail_here(file, line, "guest " + r.payload + ": " + r.describe(), fatal);
}

inline void expect_returns(const char* file, int line, const RunResult& r, std::uint64_t want,
                           const char* want_text, bool fatal) {
    if (!r.ok()) return expect_done(file, line, r, fatal);
    if (r.ret != want)
        ::harness::fail_here(file, line,
                             "guest " + r.payload + " returned " + ::harness::show(r.ret) +
                                 ", expected " + want_text + " (" + ::harness::show(want) + ")",
                             fatal);
}

} // namespace gmem::guest

#define EXPECT_GUEST_DONE(r) ::gmem::guest::expect_done(__FILE__, __LINE__, (r), false)
#define ASSERT_GUEST_DONE(r) ::gmem::guest::expect_done(__FILE__, __LINE__, (r), true)
#define EXPECT_GUEST_RETURNS(r, v)                                                                 \
    ::gmem::guest::expect_returns(__FILE__, __LINE__, (r), (v), #v, false)
#define ASSERT_GUEST_RETURNS(r, v)                                                                 \
    ::gmem::guest::expect_returns(__FILE__, __LINE__, (r), (v), #v, true)
