/* read_loop(gpa): reads the 64-bit word at gpa forever. The run ends only
 * by an exit the host sees (the GPA loses its backing: MMIO or a memory
 * fault) or the watchdog. The guest side of the series'
 * private_mem_kvm_exits_test. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, a1, a2, a3, a4, a5) {
    for (;;) (void)gmem_read64(gpa);
    return 0;
}
