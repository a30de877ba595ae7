/* echo(a0 .. a5): SYNCs {a0, a1, a2, a3}, then {a4, a5}, and returns their
 * sum: shows that all six register arguments arrive. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(a0, a1, a2, a3, a4, a5) {
    GUEST_SYNC4(a0, a1, a2, a3);
    GUEST_SYNC2(a4, a5);
    return a0 + a1 + a2 + a3 + a4 + a5;
}
