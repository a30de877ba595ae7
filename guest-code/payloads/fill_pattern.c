/* fill_pattern(gpa, len, seed, pos): writes the shared pattern of `seed`
 * (gmem/guest/abi.h) over [gpa, gpa + len), byte i being pattern position
 * pos + i. Returns len. All three must be multiples of 8. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, len, seed, pos, a4, a5) {
    GUEST_ASSERT_EQ(gpa % 8, 0);
    GUEST_ASSERT_EQ(len % 8, 0);
    GUEST_ASSERT_EQ(pos % 8, 0);
    for (uint64_t off = 0; off < len; off += 8)
        gmem_write64(gpa + off, gmem_pattern_word(seed, (pos + off) / 8));
    return len;
}
