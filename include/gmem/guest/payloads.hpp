// The payloads of guest-code/payloads/, embedded in every program that links
// gmem::guest. Arguments in order (see each payload's source for details):
#pragma once

#include "gmem/guest/guest.hpp"

namespace gmem::guest::payload {

extern const Payload fill_pattern;  // (gpa, len, seed, pos) -> len; writes the pattern
extern const Payload check_pattern; // (gpa, len, seed, pos) -> len; asserts every byte
extern const Payload rmw_loop;      // (gpa, len, steps, delta) -> steps; SYNC {step, first, last}
extern const Payload echo;          // (a0..a5) -> sum; SYNC {a0..a3}, SYNC {a4, a5}
extern const Payload peek;          // (gpa, write, value) -> the word read (write = 0)
extern const Payload read_loop;     // (gpa): reads the word at gpa forever
extern const Payload convert_stages; // (base, size, mode): CONV-12, MAP_GPA_RANGE + SYNCs
extern const Payload rmw_byte;      // (gpa, expected, value) -> the byte; asserts it was expected
extern const Payload touch_pages;   // (gpa, len, stride, rounds, mode): gmem-bench's access loop
// Deliberately failing ones, for the framework's own checks (GUEST-04):
extern const Payload assert_fail;   // (mode, left, right): 0 = ASSERT_EQ, 1 = ASSERT(<)
extern const Payload fault;         // (kind, addr): 0 #UD, 1 read addr, 2 #DE, 3 #BP, 4 #GP
extern const Payload spin;          // never returns
extern const Payload raw_ucall;     // (value): OUT value to the ucall port

} // namespace gmem::guest::payload
