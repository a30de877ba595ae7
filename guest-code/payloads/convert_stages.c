/* convert_stages(base, size, mode): conversions under load, the guest side
 * of CONV-12 (after upstream private_mem_conversions_test). The guest owns
 * [base, base + size) (size = 2 MiB + 4 KiB or more, page aligned) and asks
 * the host to convert parts of it with the KVM_HC_MAP_GPA_RANGE hypercall
 * (the host enabled KVM_CAP_EXIT_HYPERCALL for it); between steps it SYNCs
 * so the host can look at its view of the memory.
 *
 * mode bit 0 (IN_PLACE): per-gmem attributes, one set of pages: data
 *   survives conversion in both directions, the host may not touch private
 *   pages. Clear (legacy): separate shared and private backings; the host
 *   discards the backing not in use on each conversion, so a range reads 0
 *   after it changes side, and the guest's private bytes never reach the
 *   shared backing.
 * mode bit 1 (PREALLOC): the host allocates the private backing at
 *   to-private (fallocate) instead of letting guest faults allocate it.
 *
 * Words carry their own GPA through the shared pattern (abi.h), so data in
 * the wrong place is caught. SYNCs (values):
 *   {1, gpa, len, seed}          SHARED: host checks [gpa, +len) holds seed's
 *                                pattern, then writes seed + 1's pattern
 *   {2, gpa, len, 0}             PRIVATE: host checks it may not see it
 *                                (in place: SIGBUS; legacy: reads 0)
 * Returns the number of stages run. */
#include "gmem_guest.h"

#define PAGE 4096ULL
#define MB2 (2ULL << 20)
#define IN_PLACE 1ULL
#define PREALLOC 2ULL
/* Attribute flags of the hypercall: arbitrary values, KVM passes them on. */
#define MAP_PRIVATE_ATTR 1ULL
#define MAP_PREALLOC 2ULL

#define SEED_INIT 0x1417ULL
#define SEED_PRIV 0x7219ULL
#define SEED_SHARED 0x5a4eULL

static int vendor_amd = -1;

static uint64_t map_gpa_range(uint64_t gpa, uint64_t len, uint64_t attrs) {
    uint64_t ret;
    if (vendor_amd < 0) {
        uint32_t a = 0, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        vendor_amd = b == 0x68747541; /* "Auth"enticAMD */
    }
    if (vendor_amd)
        __asm__ volatile("vmmcall" : "=a"(ret) : "a"(12ULL), "b"(gpa), "c"(len / PAGE), "d"(attrs) : "memory");
    else
        __asm__ volatile("vmcall" : "=a"(ret) : "a"(12ULL), "b"(gpa), "c"(len / PAGE), "d"(attrs) : "memory");
    return ret;
}

static void fill(uint64_t gpa, uint64_t len, uint64_t seed) {
    for (uint64_t a = gpa; a < gpa + len; a += 8) gmem_write64(a, gmem_pattern_word(seed, a / 8));
}
static void check(uint64_t gpa, uint64_t len, uint64_t seed) {
    for (uint64_t a = gpa; a < gpa + len; a += 8)
        GUEST_ASSERT_EQ_AT(gmem_read64(a), gmem_pattern_word(seed, a / 8), a);
}
/* The part of [base, base + size) outside [gpa, gpa + len): the first and
 * last word of every page (conversion works on whole pages). */
static void check_rest(uint64_t base, uint64_t size, uint64_t gpa, uint64_t len, uint64_t seed) {
    for (uint64_t p = base; p < base + size; p += PAGE) {
        if (p >= gpa && p < gpa + len) continue;
        GUEST_ASSERT_EQ_AT(gmem_read64(p), gmem_pattern_word(seed, p / 8), p);
        GUEST_ASSERT_EQ_AT(gmem_read64(p + PAGE - 8), gmem_pattern_word(seed, (p + PAGE - 8) / 8),
                           p + PAGE - 8);
    }
}

GMEM_PAYLOAD_MAIN(base, size, mode, a3, a4, a5) {
    const uint64_t stages[][2] = {
        {0, PAGE}, {0, MB2}, {PAGE, PAGE}, {PAGE, MB2}, {MB2, PAGE},
    };
    const int in_place = (mode & IN_PLACE) != 0;
    const uint64_t prealloc = (mode & PREALLOC) ? MAP_PREALLOC : 0;
    GUEST_ASSERT_EQ(base % PAGE, 0);
    GUEST_ASSERT_EQ(size % PAGE, 0);
    GUEST_ASSERT(size >= MB2 + PAGE);

    uint64_t n = 0;
    for (unsigned i = 0; i < sizeof(stages) / sizeof(stages[0]); ++i) {
        const uint64_t gpa = base + stages[i][0], len = stages[i][1];
        /* The whole range shared with the initial pattern; the host agrees. */
        fill(base, size, SEED_INIT);
        gmem_sync(1, base, size, SEED_INIT, 4);
        check(base, size, SEED_INIT + 1);
        fill(base, size, SEED_INIT);

        /* To private. */
        GUEST_ASSERT_EQ(map_gpa_range(gpa, len, MAP_PRIVATE_ATTR | prealloc), 0);
        if (in_place)
            check(gpa, len, SEED_INIT); /* one set of pages: the data stayed */
        else
            check(gpa, len, 0);         /* the private backing starts empty */
        fill(gpa, len, SEED_PRIV);
        check(gpa, len, SEED_PRIV);
        gmem_sync(2, gpa, len, 0, 4);
        check_rest(base, size, gpa, len, SEED_INIT);

        /* Back to shared. */
        GUEST_ASSERT_EQ(map_gpa_range(gpa, len, 0), 0);
        if (in_place)
            check(gpa, len, SEED_PRIV); /* the private data is now shared */
        else
            check(gpa, len, 0);         /* the shared backing was discarded */
        fill(gpa, len, SEED_SHARED);
        gmem_sync(1, gpa, len, SEED_SHARED, 4);
        check(gpa, len, SEED_SHARED + 1);
        check_rest(base, size, gpa, len, SEED_INIT);
        ++n;
    }
    return n;
}
