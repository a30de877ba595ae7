/* Deliberately faulting payload (GUEST-04): fault(kind, addr).
 * kind 0: ud2 (#UD, vector 6); 1: read addr (#PF, vector 14, when addr is
 * not mapped by the guest page tables); 2: divide by zero (#DE, vector 0);
 * 3: int3 (#BP, vector 3); 4: read a non-canonical address (#GP, vector 13). */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(kind, addr, a2, a3, a4, a5) {
    switch (kind) {
    case 0:
        __asm__ volatile("ud2");
        break;
    case 1:
        return gmem_read64(addr);
    case 2: {
        volatile uint64_t zero = 0;
        return addr / zero;
    }
    case 3:
        __asm__ volatile("int3");
        break;
    case 4:
        return gmem_read64(0x8000000000000000ULL);
    }
    return kind;
}
