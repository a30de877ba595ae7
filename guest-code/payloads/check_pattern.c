/* check_pattern(gpa, len, seed, pos): reads every byte of [gpa, gpa + len)
 * and asserts it is pattern position pos + i of `seed` (seed 0: all zeros).
 * The first wrong byte fails with its value, the expected one and its GPA.
 * Returns len. gpa, len and pos must be multiples of 8. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, len, seed, pos, a4, a5) {
    GUEST_ASSERT_EQ(gpa % 8, 0);
    GUEST_ASSERT_EQ(len % 8, 0);
    GUEST_ASSERT_EQ(pos % 8, 0);
    for (uint64_t off = 0; off < len; off += 8) {
        const uint64_t word = gmem_read64(gpa + off);
        if (word == gmem_pattern_word(seed, (pos + off) / 8)) continue;
        for (uint64_t i = 0; i < 8; ++i) {
            const uint8_t got = (uint8_t)(word >> (i * 8));
            const uint8_t want = gmem_pattern_byte(seed, pos + off + i);
            GUEST_ASSERT_EQ_AT(got, want, gpa + off + i);
        }
    }
    return len;
}
