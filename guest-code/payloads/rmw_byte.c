/* rmw_byte(gpa, expected, value): asserts that the byte at gpa is
 * `expected`, writes `value` there and returns the byte read. The guest side
 * of one read-modify-write step of the conversion checks (the series' own
 * test does the same on the first byte of a page). */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, expected, value, a3, a4, a5) {
    volatile uint8_t* p = (volatile uint8_t*)(uintptr_t)gpa;
    const uint8_t got = *p;
    GUEST_ASSERT_EQ_AT(got, (uint8_t)expected, gpa);
    *p = (uint8_t)value;
    return got;
}
