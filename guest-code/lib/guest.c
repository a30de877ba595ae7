/* ucall and exception reporting for payloads (see gmem_guest.h). Each
 * record lives on the sending vCPU's own stack (vCPUs of one VM may run at
 * once); the host copies it out during the exit, before the guest can touch
 * it again. */
#include "gmem_guest.h"

/* Eight bytes at a time where it can: every ucall clears a 312-byte record,
 * and on a KVM that emulates guest instructions (the development machine's
 * PVM module) each store is an emulated instruction. */
void* memset(void* d, int c, size_t n) {
    volatile unsigned char* p = d;
    if (((uintptr_t)p & 7) == 0) {
        const uint64_t w = (uint64_t)(unsigned char)c * 0x0101010101010101ULL;
        for (; n >= 8; n -= 8, p += 8) *(volatile uint64_t*)p = w;
    }
    while (n--) *p++ = (unsigned char)c;
    return d;
}

void* memcpy(void* d, const void* s, size_t n) {
    volatile unsigned char* p = d;
    const unsigned char* q = s;
    while (n--) *p++ = *q++;
    return d;
}

static struct gmem_ucall* begin(struct gmem_ucall* u, uint32_t kind) {
    memset(u, 0, sizeof(*u));
    u->magic = GMEM_UCALL_MAGIC;
    u->version = GMEM_UCALL_VERSION;
    u->size = sizeof(*u);
    u->kind = kind;
    return u;
}

static void send(const struct gmem_ucall* u) {
    gmem_outl(GMEM_UCALL_PORT, (uint32_t)(uintptr_t)u);
}

/* Copies at most cap - 1 bytes so the record always ends in a NUL. */
static unsigned copy_bounded(char* dst, unsigned cap, const char* src, unsigned len) {
    if (len > cap - 1) len = cap - 1;
    memcpy(dst, src, len);
    return len;
}

static unsigned c_strlen(const char* s) {
    unsigned n = 0;
    while (s[n]) ++n;
    return n;
}

__attribute__((noreturn)) static void halt_forever(void) {
    for (;;) __asm__ volatile("hlt");
}

void gmem_sync(uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3, unsigned n) {
    struct gmem_ucall rec;
    struct gmem_ucall* u = begin(&rec, GMEM_UCALL_SYNC);
    u->nvalues = n > GMEM_UCALL_MAX_VALUES ? GMEM_UCALL_MAX_VALUES : n;
    u->values[0] = v0;
    u->values[1] = v1;
    u->values[2] = v2;
    u->values[3] = v3;
    send(u);
}

void gmem_guest_done(uint64_t ret) {
    struct gmem_ucall rec;
    struct gmem_ucall* u = begin(&rec, GMEM_UCALL_DONE);
    u->nvalues = 1;
    u->values[0] = ret;
    send(u);
    halt_forever();
}

void gmem_guest_assert_fail(const char* file, unsigned line, const char* text, unsigned text_len,
                            unsigned n, uint64_t v0, uint64_t v1, uint64_t v2) {
    struct gmem_ucall rec;
    struct gmem_ucall* u = begin(&rec, GMEM_UCALL_ASSERT);
    u->line = line;
    copy_bounded(u->file, sizeof(u->file), file, c_strlen(file));
    u->text_len = copy_bounded(u->text, sizeof(u->text), text, text_len);
    u->nvalues = n;
    u->values[0] = v0;
    u->values[1] = v1;
    u->values[2] = v2;
    send(u);
    halt_forever();
}

void gmem_guest_exception(uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2) {
    struct gmem_ucall rec;
    struct gmem_ucall* u = begin(&rec, GMEM_UCALL_EXCEPTION);
    u->nvalues = 4;
    u->values[0] = vector;
    u->values[1] = error_code;
    u->values[2] = rip;
    u->values[3] = cr2;
    send(u);
    halt_forever();
}
