// Shared by the guest_memfd file, mapping, fallocate and memslot programs: the
// sweep over VM types x creation flags (as upstream's guest_memfd_test.c sweeps
// them), a fixture setup that gates on the sweep point, and byte-pattern
// helpers that are safe to run inside EXPECT_SIGNAL (no destructors).
#pragma once

#include "gmem/test.hpp"

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <linux/falloc.h>
#include <optional>
#include <string>

namespace gmem_test {

using gmem::kvm::GuestMemfd;
using gmem::kvm::Kvm;
using gmem::kvm::Need;
using gmem::kvm::Vm;

inline constexpr std::uint64_t flag_mmap = gmem::uapi::guest_memfd_flag_mmap;
inline constexpr std::uint64_t flag_shared =
    gmem::uapi::guest_memfd_flag_mmap | gmem::uapi::guest_memfd_flag_init_shared;

inline std::size_t page() {
    return gmem::page_size();
}
inline off_t opage() {
    return static_cast<off_t>(gmem::page_size());
}

// The creation flag sets a VM type may offer: none, MMAP, MMAP|INIT_SHARED
// (INIT_SHARED is never offered without MMAP, CAP-03).
inline bool has_mmap(std::uint64_t flags) {
    return (flags & flag_mmap) != 0;
}
inline bool has_shared(std::uint64_t flags) {
    return (flags & flag_shared) == flag_shared;
}

// "no flags", "MMAP", "MMAP|INIT_SHARED" for SKIP reasons and messages.
inline std::string flags_text(std::uint64_t flags) {
    return flags == 0 ? std::string("no flags") : gmem::kvm::gmem_flags_name(flags);
}

// What a (VM type, flags) variant needs: the type, guest_memfd (CAP-02) and
// the flags offered. GMEM_SETUP_VM and GMEM_FLAG_VARIANTS' gate both ask this.
inline ::gmem_test::Need variant_need(unsigned long vm_type, std::uint64_t flags) {
    return ::gmem_test::Need().gmem_flags(vm_type, flags);
}

// Opens /dev/kvm and creates a VM of the variant's type, after SKIPping with
// the probe's reason when variant_need() is not met. Call from FIXTURE_SETUP.
#define GMEM_SETUP_VM(self, variant)                                                               \
    do {                                                                                           \
        REQUIRE(::gmem_test::variant_need((variant)->vm_type, (variant)->flags));                  \
        (self)->kvm.emplace(::gmem_test::Kvm::open());                                             \
        (self)->vm = (self)->kvm->create_vm((variant)->vm_type);                                   \
    } while (0)

// One static variant per (x86 VM type, creation flags); names are stable, the
// setup SKIPs those the running kernel does not offer.
#define GMEM_VARIANTS_FOR_TYPE_(fx, tname, tnum)                                                   \
    FIXTURE_VARIANT_ADD(fx, tname##_none){.vm_type = (tnum), .flags = 0};                          \
    FIXTURE_VARIANT_ADD(fx, tname##_mmap){.vm_type = (tnum), .flags = ::gmem_test::flag_mmap};     \
    FIXTURE_VARIANT_ADD(fx, tname##_shared) {                                                      \
        .vm_type = (tnum), .flags = ::gmem_test::flag_shared                                       \
    }

// The variants' gate is GMEM_SETUP_VM's REQUIRE, asked in the runner before
// it forks (FIXTURE_VARIANT_GATE): a VM type or flags the kernel does not
// offer SKIP every test of the variant with the same reason, without a process
// each. The fixture's setup must start with GMEM_SETUP_VM.
#define GMEM_FLAG_VARIANTS(fx)                                                                     \
    FIXTURE_VARIANT_GATE(fx) {                                                                     \
        return ::gmem_test::variant_need(variant->vm_type, variant->flags).missing();              \
    }                                                                                              \
    GMEM_VARIANTS_FOR_TYPE_(fx, default_vm, ::gmem::uapi::kvm_x86_default_vm);                     \
    GMEM_VARIANTS_FOR_TYPE_(fx, sw_protected_vm, ::gmem::uapi::kvm_x86_sw_protected_vm);           \
    GMEM_VARIANTS_FOR_TYPE_(fx, sev_vm, ::gmem::uapi::kvm_x86_sev_vm);                             \
    GMEM_VARIANTS_FOR_TYPE_(fx, sev_es_vm, ::gmem::uapi::kvm_x86_sev_es_vm);                       \
    GMEM_VARIANTS_FOR_TYPE_(fx, snp_vm, ::gmem::uapi::kvm_x86_snp_vm);                             \
    GMEM_VARIANTS_FOR_TYPE_(fx, tdx_vm, ::gmem::uapi::kvm_x86_tdx_vm)

// The running kernel's release as the probe read it from uname(2), e.g.
// "6.18.44-fc-v669" -> {6, 18, 44}; nullopt when it does not start with
// "<major>.<minor>". For checks whose expected answer changed in a release
// (they name that release and accept only the running kernel's side).
struct KernelVersion {
    int major = 0, minor = 0, sublevel = 0;
};
inline std::optional<KernelVersion> kernel_version() {
    KernelVersion v;
    const int n = std::sscanf(gmem::kvm::features().kernel_release.c_str(), "%d.%d.%d", &v.major,
                              &v.minor, &v.sublevel);
    if (n < 2) return std::nullopt;
    if (n == 2) v.sublevel = 0;
    return v;
}
// True when the running kernel is major.minor.sublevel or newer; an unreadable
// release counts as new (the newest known answer is expected).
inline bool kernel_at_least(int major, int minor, int sublevel = 0) {
    const auto v = kernel_version();
    if (!v) return true;
    if (v->major != major) return v->major > major;
    if (v->minor != minor) return v->minor > minor;
    return v->sublevel >= sublevel;
}

// SKIPs a check that is about another flag set than this variant's, naming
// which variant covers the case instead.
#define GMEM_ONLY_FOR(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) SKIP(__VA_ARGS__);                                                            \
    } while (0)

// ---- byte patterns (plain loops: usable inside EXPECT_(NO_)SIGNAL) ----
// Differs from byte to byte and from page to page, so a misplaced page shows.
inline std::uint8_t pattern_at(std::size_t i, std::uint8_t seed) {
    return static_cast<std::uint8_t>(seed + i * 7U + (i >> 12) * 13U);
}
inline void fill_pattern(std::uint8_t* p, std::size_t n, std::uint8_t seed, std::size_t base = 0) {
    auto* v = static_cast<volatile std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = pattern_at(base + i, seed);
}
// Index of the first byte that differs from the pattern, n when none does.
inline std::size_t pattern_mismatch(const std::uint8_t* p, std::size_t n, std::uint8_t seed,
                                    std::size_t base = 0) {
    const auto* v = static_cast<const volatile std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i)
        if (v[i] != pattern_at(base + i, seed)) return i;
    return n;
}
// Index of the first non-zero byte, n when all are zero.
inline std::size_t nonzero_at(const std::uint8_t* p, std::size_t n) {
    const auto* v = static_cast<const volatile std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i)
        if (v[i] != 0) return i;
    return n;
}

} // namespace gmem_test
