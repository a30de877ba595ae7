/* The guest-side mini library every payload links with: ucalls to the host
 * (SYNC with values, DONE, ASSERT with expression, file, line and values) and
 * the exception reporting behind the stubs of crt0.S. No libc, no host
 * headers: the only shared definitions are in gmem/guest/abi.h.
 *
 * A payload is one function of its (up to six) register arguments:
 *
 *   GMEM_PAYLOAD_MAIN(gpa, len, seed, a3, a4, a5) {
 *       GUEST_ASSERT_EQ(len % 8, 0);
 *       ...
 *       return len;          // reaches the host as DONE with this value
 *   }
 */
#ifndef GMEM_GUEST_H
#define GMEM_GUEST_H

#include "gmem/guest/abi.h"

#include <stddef.h>
#include <stdint.h>

#define GMEM_UNUSED __attribute__((unused))
#define GMEM_PAYLOAD_MAIN(a0, a1, a2, a3, a4, a5)                                                  \
    uint64_t payload_main(GMEM_UNUSED uint64_t a0, GMEM_UNUSED uint64_t a1,                        \
                          GMEM_UNUSED uint64_t a2, GMEM_UNUSED uint64_t a3,                        \
                          GMEM_UNUSED uint64_t a4, GMEM_UNUSED uint64_t a5)

uint64_t payload_main(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                      uint64_t a5);

/* SYNC: report up to GMEM_UCALL_MAX_VALUES values; the host looks (and may
 * change memory), then resumes the guest after the OUT instruction. */
void gmem_sync(uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3, unsigned n);
#define GUEST_SYNC1(a) gmem_sync((uint64_t)(a), 0, 0, 0, 1)
#define GUEST_SYNC2(a, b) gmem_sync((uint64_t)(a), (uint64_t)(b), 0, 0, 2)
#define GUEST_SYNC4(a, b, c, d) gmem_sync((uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), 4)

__attribute__((noreturn)) void gmem_guest_done(uint64_t ret);
__attribute__((noreturn)) void gmem_guest_assert_fail(const char* file, unsigned line,
                                                      const char* text, unsigned text_len,
                                                      unsigned n, uint64_t v0, uint64_t v1,
                                                      uint64_t v2);
__attribute__((noreturn)) void gmem_guest_exception(uint64_t vector, uint64_t error_code,
                                                    uint64_t rip, uint64_t cr2);

/* The text travels as "expression\0name0\0name1...", so the host can print
 * each value with its name. __FILE_NAME__ keeps build paths out of it. */
#define GUEST_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            gmem_guest_assert_fail(__FILE_NAME__, __LINE__, #cond, sizeof(#cond), 0, 0, 0, 0);     \
    } while (0)

#define GUEST_ASSERT_EQ(a, b)                                                                      \
    do {                                                                                           \
        const uint64_t gmem_a_ = (uint64_t)(a), gmem_b_ = (uint64_t)(b);                           \
        if (gmem_a_ != gmem_b_)                                                                    \
            gmem_guest_assert_fail(__FILE_NAME__, __LINE__, #a " == " #b "\0" #a "\0" #b,          \
                                   sizeof(#a " == " #b "\0" #a "\0" #b), 2, gmem_a_, gmem_b_, 0);  \
    } while (0)

/* As GUEST_ASSERT_EQ, with a third value (e.g. the address) for context. */
#define GUEST_ASSERT_EQ_AT(a, b, at)                                                               \
    do {                                                                                           \
        const uint64_t gmem_a_ = (uint64_t)(a), gmem_b_ = (uint64_t)(b);                           \
        if (gmem_a_ != gmem_b_)                                                                    \
            gmem_guest_assert_fail(__FILE_NAME__, __LINE__,                                        \
                                   #a " == " #b "\0" #a "\0" #b "\0" #at,                          \
                                   sizeof(#a " == " #b "\0" #a "\0" #b "\0" #at), 3, gmem_a_,      \
                                   gmem_b_, (uint64_t)(at));                                       \
    } while (0)

/* Accesses the compiler may not fold or drop (guest memory is shared with
 * the host, which changes it between SYNCs). */
static inline uint64_t gmem_read64(uint64_t gpa) { return *(volatile uint64_t*)(uintptr_t)gpa; }
static inline void gmem_write64(uint64_t gpa, uint64_t v) { *(volatile uint64_t*)(uintptr_t)gpa = v; }
static inline uint8_t gmem_read8(uint64_t gpa) { return *(volatile uint8_t*)(uintptr_t)gpa; }

static inline void gmem_outl(uint16_t port, uint32_t v) {
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);

#endif /* GMEM_GUEST_H */
