/* Sends a malformed ucall (GUEST-04): an OUT to the ucall port whose value
 * (a0) is not the GPA of a valid record. The host must reject it as a bad
 * ucall instead of trusting it. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(value, a1, a2, a3, a4, a5) {
    gmem_outl(GMEM_UCALL_PORT, (uint32_t)value);
    return 0;
}
