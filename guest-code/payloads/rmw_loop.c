/* rmw_loop(gpa, len, steps, delta): `steps` times, adds delta to every
 * 64-bit word of [gpa, gpa + len) (read, modify, write) and then SYNCs
 * {step, first word, last word}, so the host can look at (or change, or
 * convert) the memory between steps. Returns steps. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, len, steps, delta, a4, a5) {
    GUEST_ASSERT_EQ(gpa % 8, 0);
    GUEST_ASSERT_EQ(len % 8, 0);
    GUEST_ASSERT(len >= 8);
    for (uint64_t step = 1; step <= steps; ++step) {
        for (uint64_t off = 0; off < len; off += 8)
            gmem_write64(gpa + off, gmem_read64(gpa + off) + delta);
        gmem_sync(step, gmem_read64(gpa), gmem_read64(gpa + len - 8), 0, 3);
    }
    return steps;
}
