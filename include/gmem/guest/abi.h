/* The contract between guest payloads (guest-code/, freestanding C) and the
 * host loader (lib/guest): the fixed guest-physical layout, the payload image
 * header, and the bounded, versioned ucall record a payload sends to the host
 * by port I/O. Plain C so that both sides compile the very same definitions;
 * it includes nothing but <stdint.h>, which a freestanding compiler provides.
 */
#ifndef GMEM_GUEST_ABI_H
#define GMEM_GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* ---- guest-physical layout (identity-mapped: GVA == GPA) ----
 * The core slot (ordinary anonymous memory) spans [CORE_GPA, CORE_END).
 * GPA 0 .. 1 MiB and 4 MiB .. 4 GiB have no memslot: an access there exits
 * to the host as MMIO. guest_memfd slots go at 4 GiB and above, as upstream.
 */
#define GMEM_GUEST_CORE_GPA 0x100000ULL         /* 1 MiB */
#define GMEM_GUEST_GDT_GPA 0x100000ULL
#define GMEM_GUEST_IDT_GPA 0x101000ULL
#define GMEM_GUEST_TSS_GPA 0x102000ULL
#define GMEM_GUEST_PT_GPA 0x104000ULL           /* PML4; tables are allocated upwards */
#define GMEM_GUEST_PT_END 0x1e0000ULL
#define GMEM_GUEST_EXC_STACK_TOP 0x200000ULL    /* IST1 stack for exceptions */
#define GMEM_GUEST_CODE_GPA 0x200000ULL         /* payloads are linked here */
#define GMEM_GUEST_CODE_MAX 0x100000ULL         /* image + bss at most 1 MiB */
#define GMEM_GUEST_STACK_TOP 0x400000ULL
#define GMEM_GUEST_CORE_END 0x400000ULL
#define GMEM_GUEST_IDENTITY_MAPPED 0x200000000ULL /* 8 GiB mapped at construction */
#define GMEM_GUEST_GMEM_GPA 0x100000000ULL      /* where gmem slots conventionally go */

/* GDT selectors the host installs. */
#define GMEM_GUEST_SEL_CODE 0x08
#define GMEM_GUEST_SEL_DATA 0x10
#define GMEM_GUEST_SEL_TSS 0x18

/* ---- ucall: guest -> host ----
 * The guest fills a struct gmem_ucall and writes its GPA (below 4 GiB) as a
 * 32-bit OUT to GMEM_UCALL_PORT. The host validates magic, version, size and
 * that the record lies in the core slot before reading any field.
 */
#define GMEM_UCALL_PORT 0x0510
#define GMEM_UCALL_MAGIC 0x4c435547 /* "GUCL" */
#define GMEM_UCALL_VERSION 1
#define GMEM_UCALL_MAX_VALUES 4
#define GMEM_UCALL_FILE_MAX 64
#define GMEM_UCALL_TEXT_MAX 192

#ifndef __ASSEMBLER__
enum gmem_ucall_kind {
    GMEM_UCALL_SYNC = 1,      /* values[0..nvalues): the host may look, then resumes */
    GMEM_UCALL_DONE = 2,      /* values[0] = the payload's return value */
    GMEM_UCALL_ASSERT = 3,    /* file, line, text = expression \0 name0 \0 name1 ..., values */
    GMEM_UCALL_EXCEPTION = 4, /* values = {vector, error code, rip, cr2} */
};

struct gmem_ucall {
    uint32_t magic;
    uint16_t version;
    uint16_t size; /* sizeof(struct gmem_ucall) */
    uint32_t kind;
    uint32_t line;
    uint32_t nvalues;
    uint32_t text_len; /* bytes used in text, NULs included */
    uint64_t values[GMEM_UCALL_MAX_VALUES];
    char file[GMEM_UCALL_FILE_MAX];
    char text[GMEM_UCALL_TEXT_MAX];
};

/* ---- payload image header: the first bytes of every flat payload ---- */
#endif /* !__ASSEMBLER__ */

#define GMEM_PAYLOAD_MAGIC 0x44504d47 /* "GMPD" */
#define GMEM_PAYLOAD_VERSION 1

#ifndef __ASSEMBLER__
struct gmem_payload_header {
    uint32_t magic;
    uint16_t version;
    uint16_t header_size;
    uint64_t load_addr;       /* must be GMEM_GUEST_CODE_GPA */
    uint64_t entry;           /* _start */
    uint64_t exception_stubs; /* address of 32 u64 handler addresses, one per vector */
    uint64_t image_end;       /* end of .bss: load_addr + everything the payload uses */
};

/* ---- the data pattern guest and host agree on ----
 * Byte at pattern position pos for a seed: seed 0 is all zeros; any other
 * seed gives splitmix64(seed + pos / 8), little-endian within the word.
 */
static inline uint64_t gmem_pattern_word(uint64_t seed, uint64_t word_index) {
    if (seed == 0) return 0;
    uint64_t z = seed + word_index * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint8_t gmem_pattern_byte(uint64_t seed, uint64_t pos) {
    return (uint8_t)(gmem_pattern_word(seed, pos / 8) >> ((pos % 8) * 8));
}

#ifdef __cplusplus
static_assert(sizeof(struct gmem_ucall) == 312, "ucall record layout");
static_assert(sizeof(struct gmem_payload_header) == 40, "payload header layout");
#else
_Static_assert(sizeof(struct gmem_ucall) == 312, "ucall record layout");
_Static_assert(sizeof(struct gmem_payload_header) == 40, "payload header layout");
#endif

#endif /* !__ASSEMBLER__ */

#endif /* GMEM_GUEST_ABI_H */
