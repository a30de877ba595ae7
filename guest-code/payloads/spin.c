/* A guest that never returns (GUEST-04): the host watchdog must stop it. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(a0, a1, a2, a3, a4, a5) {
    for (;;) __asm__ volatile("pause");
}
