/* peek(gpa, write, value): reads (write = 0) the 64-bit word at gpa and
 * returns it, or writes value there (write = 1) and returns 0. Touching a
 * GPA without a memslot exits to the host as MMIO. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, write, value, a3, a4, a5) {
    if (write) {
        gmem_write64(gpa, value);
        return 0;
    }
    return gmem_read64(gpa);
}
