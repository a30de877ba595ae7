// x86-64 architectural constants the guest loader needs to put a vCPU in
// 64-bit long mode: control-register and EFER bits, page-table entry bits,
// segment descriptor types. Not KVM UAPI, but kept in one place, with the
// values checked against the SDM's bit positions.
#pragma once

#include <cstdint>

namespace gmem::uapi::x86 {

// CR0 (SDM vol. 3, 2.5)
inline constexpr std::uint64_t cr0_pe = 1ULL << 0;
inline constexpr std::uint64_t cr0_mp = 1ULL << 1;
inline constexpr std::uint64_t cr0_et = 1ULL << 4;
inline constexpr std::uint64_t cr0_ne = 1ULL << 5;
inline constexpr std::uint64_t cr0_wp = 1ULL << 16;
inline constexpr std::uint64_t cr0_am = 1ULL << 18;
inline constexpr std::uint64_t cr0_pg = 1ULL << 31;

// CR4
inline constexpr std::uint64_t cr4_pae = 1ULL << 5;
inline constexpr std::uint64_t cr4_pge = 1ULL << 7;
inline constexpr std::uint64_t cr4_osfxsr = 1ULL << 9;
inline constexpr std::uint64_t cr4_osxmmexcpt = 1ULL << 10;

// IA32_EFER (MSR 0xC0000080)
inline constexpr std::uint64_t efer_sce = 1ULL << 0;
inline constexpr std::uint64_t efer_lme = 1ULL << 8;
inline constexpr std::uint64_t efer_lma = 1ULL << 10;
inline constexpr std::uint64_t efer_nxe = 1ULL << 11;

// Page-table entries (4-level paging)
inline constexpr std::uint64_t pte_present = 1ULL << 0;
inline constexpr std::uint64_t pte_writable = 1ULL << 1;
inline constexpr std::uint64_t pte_user = 1ULL << 2;
inline constexpr std::uint64_t pte_accessed = 1ULL << 5;
inline constexpr std::uint64_t pte_dirty = 1ULL << 6;
inline constexpr std::uint64_t pte_large = 1ULL << 7; // PS: 2 MiB in a PDE, 1 GiB in a PDPTE
inline constexpr std::uint64_t pte_addr_mask = 0x000ffffffffff000ULL;
inline constexpr std::uint64_t page_size_4k = 1ULL << 12;
inline constexpr std::uint64_t page_size_2m = 1ULL << 21;
inline constexpr std::uint64_t page_size_1g = 1ULL << 30;
inline constexpr unsigned pt_entries = 512;

// Segment descriptor types (S = 1: code/data; S = 0: system)
inline constexpr std::uint8_t seg_type_data_rw_accessed = 0x3;
inline constexpr std::uint8_t seg_type_code_xr_accessed = 0xb;
inline constexpr std::uint8_t seg_type_tss64_available = 0x9;
inline constexpr std::uint8_t seg_type_tss64_busy = 0xb;
inline constexpr std::uint8_t gate_type_interrupt64 = 0xe;

// Exception vectors (SDM vol. 3, table 6-1)
inline constexpr unsigned vec_de = 0, vec_db = 1, vec_nmi = 2, vec_bp = 3, vec_of = 4,
                          vec_br = 5, vec_ud = 6, vec_nm = 7, vec_df = 8, vec_ts = 10,
                          vec_np = 11, vec_ss = 12, vec_gp = 13, vec_pf = 14, vec_mf = 16,
                          vec_ac = 17, vec_mc = 18, vec_xm = 19, vec_ve = 20, vec_cp = 21;
inline constexpr unsigned exception_vectors = 32;
// "#UD", "#PF", ...; "" for reserved vectors.
constexpr const char* exception_mnemonic(unsigned vector) {
    constexpr const char* names[exception_vectors] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "",    "#TS",
        "#NP", "#SS", "#GP", "#PF", "",    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
        "",    "",    "",    "",    "",    "",    "#HV", "#VC", "#SX", ""};
    return vector < exception_vectors ? names[vector] : "";
}
static_assert(exception_mnemonic(vec_ud)[1] == 'U' && exception_mnemonic(vec_pf)[1] == 'P');

// A 64-bit descriptor (GDT code/data) as the CPU reads it.
constexpr std::uint64_t segment_descriptor(std::uint32_t base, std::uint32_t limit,
                                           std::uint8_t type, bool s, unsigned dpl, bool present,
                                           bool l, bool db, bool g) {
    return (limit & 0xffffULL) | ((base & 0xffffffULL) << 16) | (std::uint64_t{type} << 40) |
           (std::uint64_t{s} << 44) | (std::uint64_t{dpl & 3U} << 45) |
           (std::uint64_t{present} << 47) | (((limit >> 16) & 0xfULL) << 48) |
           (std::uint64_t{l} << 53) | (std::uint64_t{db} << 54) | (std::uint64_t{g} << 55) |
           (((base >> 24) & 0xffULL) << 56);
}

// The flat 64-bit code and data segments every long-mode guest uses.
static_assert(segment_descriptor(0, 0xfffff, seg_type_code_xr_accessed, true, 0, true, true,
                                 false, true) == 0x00af9b000000ffffULL);
static_assert(segment_descriptor(0, 0xfffff, seg_type_data_rw_accessed, true, 0, true, false,
                                 true, true) == 0x00cf93000000ffffULL);
static_assert(cr0_pg == 0x80000000ULL && cr4_pae == 0x20 && efer_lme == 0x100 &&
              efer_lma == 0x400);
static_assert(pte_large == 0x80 && pt_entries * page_size_4k == page_size_2m);

} // namespace gmem::uapi::x86
