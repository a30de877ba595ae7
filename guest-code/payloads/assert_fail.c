/* Deliberately failing payload for the framework's own checks (GUEST-04):
 * assert_fail(mode, left, right). mode 0: GUEST_ASSERT_EQ(left, right);
 * mode 1: GUEST_ASSERT(left < right). Passes (returns 0) when the
 * assertion holds. The checker finds the lines by the marker comments. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(mode, left, right, a3, a4, a5) {
    if (mode == 0) {
        GUEST_ASSERT_EQ(left, right); /* marker: assert_eq */
    } else {
        GUEST_ASSERT(left < right); /* marker: assert_lt */
    }
    return 0;
}
