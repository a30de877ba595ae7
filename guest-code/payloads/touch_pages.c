/* touch_pages(gpa, len, stride, rounds, mode): `rounds` passes over
 * [gpa, gpa + len), one 64-bit access every `stride` bytes (stride 4096:
 * one word per page; 8: every word). mode 0 reads; 1 writes the word's
 * offset; 2 reads, then writes (the first read of each word is summed);
 * 3 touches no memory: the same number of iterations of a register-only
 * loop, the guest's own speed. Returns the sum of the words read (modes 0
 * and 2), else the number of iterations. gmem-bench times whole runs and
 * subtracts a run with rounds = 0. */
#include "gmem_guest.h"

GMEM_PAYLOAD_MAIN(gpa, len, stride, rounds, mode, a5) {
    GUEST_ASSERT_EQ(gpa % 8, 0);
    GUEST_ASSERT(stride >= 8 && stride % 8 == 0);
    GUEST_ASSERT(mode <= 3);
    uint64_t sum = 0, iterations = 0;
    for (uint64_t r = 0; r < rounds; ++r) {
        for (uint64_t off = 0; off + 8 <= len; off += stride) {
            switch (mode) {
            case 0:
                sum += gmem_read64(gpa + off);
                break;
            case 1:
                gmem_write64(gpa + off, off);
                break;
            case 2:
                sum += gmem_read64(gpa + off);
                gmem_write64(gpa + off, off);
                break;
            default:
                sum = sum * 6364136223846793005ULL + off;
                __asm__ volatile("" : "+r"(sum));
                break;
            }
            ++iterations;
        }
    }
    return mode == 0 || mode == 2 ? sum : iterations;
}
