// Our own KVM UAPI for guest_memfd testing (x86_64). The build machine's kernel
// headers (6.1) predate guest_memfd, so every number and layout the corpus uses
// lives here, checked by static_assert against ../shared/spec/UAPI.md and the
// upstream <linux/kvm.h>. Nothing else in the tree spells an ioctl number.
//
// Names are the kernel's, lower-cased and namespaced, so that this header can
// be included next to <linux/kvm.h> without colliding with its macros:
//   struct kvm_create_guest_memfd   -> gmem::uapi::kvm_create_guest_memfd
//   KVM_CREATE_GUEST_MEMFD          -> gmem::uapi::ioctl::create_guest_memfd
//   KVM_CAP_GUEST_MEMFD_FLAGS       -> gmem::uapi::cap::guest_memfd_flags
#pragma once

#include <cstddef>
#include <cstdint>

namespace gmem::uapi {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

// ---- ioctl number encoding (asm-generic/ioctl.h, as used on x86) ----
namespace ioc {
inline constexpr unsigned long none = 0U;
inline constexpr unsigned long write = 1U;
inline constexpr unsigned long read = 2U;
constexpr unsigned long make(unsigned long dir, unsigned long type, unsigned long nr,
                             unsigned long size) {
    return (dir << 30) | (size << 16) | (type << 8) | nr;
}
} // namespace ioc

inline constexpr unsigned long kvmio = 0xAE;

// ---- structs ----
struct kvm_userspace_memory_region {
    u32 slot;
    u32 flags;
    u64 guest_phys_addr;
    u64 memory_size;
    u64 userspace_addr;
};

struct kvm_userspace_memory_region2 {
    u32 slot;
    u32 flags;
    u64 guest_phys_addr;
    u64 memory_size;
    u64 userspace_addr;
    u64 guest_memfd_offset;
    u32 guest_memfd;
    u32 pad1;
    u64 pad2[14];
};

struct kvm_create_guest_memfd {
    u64 size;
    u64 flags;
    u64 reserved[6];
};

// Legacy per-VM attributes (KVM_SET_MEMORY_ATTRIBUTES on the VM fd).
struct kvm_memory_attributes {
    u64 address;
    u64 size;
    u64 attributes;
    u64 flags;
};

// In-place conversion series (v7/v8): issued on the guest_memfd fd.
struct kvm_memory_attributes2 {
    union {
        u64 address;
        u64 offset;
    };
    u64 size;
    u64 attributes;
    u64 flags;
    u64 error_offset;
    u64 reserved[11];
};

// KVM_PRE_FAULT_MEMORY (vCPU ioctl, KVM_CAP_PRE_FAULT_MEMORY): in/out. On
// return gpa and size describe what is left of the range.
struct kvm_pre_fault_memory {
    u64 gpa;
    u64 size;
    u64 flags; // must be 0
    u64 padding[5];
};

// Binary statistics (KVM_GET_STATS_FD): the header at offset 0 of the stats
// fd, then num_desc descriptors of sizeof(kvm_stats_desc) + name_size bytes
// each (the name follows the fixed part), then the data.
struct kvm_stats_header {
    u32 flags;
    u32 name_size;
    u32 num_desc;
    u32 id_offset;
    u32 desc_offset;
    u32 data_offset;
};
struct kvm_stats_desc {
    u32 flags;
    std::int16_t exponent;
    u16 size;   // number of u64 values
    u32 offset; // from the header's data_offset
    u32 bucket_size;
    // char name[kvm_stats_header::name_size] follows
};

struct kvm_regs {
    u64 rax, rbx, rcx, rdx;
    u64 rsi, rdi, rsp, rbp;
    u64 r8, r9, r10, r11;
    u64 r12, r13, r14, r15;
    u64 rip, rflags;
};

struct kvm_segment {
    u64 base;
    u32 limit;
    u16 selector;
    u8 type;
    u8 present, dpl, db, s, l, g, avl;
    u8 unusable;
    u8 padding;
};

struct kvm_dtable {
    u64 base;
    u16 limit;
    u16 padding[3];
};

struct kvm_sregs {
    kvm_segment cs, ds, es, fs, gs, ss;
    kvm_segment tr, ldt;
    kvm_dtable gdt, idt;
    u64 cr0, cr2, cr3, cr4, cr8;
    u64 efer;
    u64 apic_base;
    u64 interrupt_bitmap[4];
};

struct kvm_cpuid_entry2 {
    u32 function;
    u32 index;
    u32 flags;
    u32 eax, ebx, ecx, edx;
    u32 padding[3];
};

// Header of the variable-length struct kvm_cpuid2; entries follow it.
struct kvm_cpuid2 {
    u32 nent;
    u32 padding;
};

// The shared vCPU page. Only the parts the corpus reads are spelled out; the
// exit union is padded to its UAPI size so every later field keeps its offset.
struct kvm_run {
    u8 request_interrupt_window;
    u8 immediate_exit;
    u8 padding1[6];
    u32 exit_reason;
    u8 ready_for_interrupt_injection;
    u8 if_flag;
    u16 flags;
    u64 cr8;
    u64 apic_base;
    union {
        struct {
            u64 hardware_exit_reason;
        } hw;
        struct {
            u64 hardware_entry_failure_reason;
            u32 cpu;
        } fail_entry;
        struct {
            u8 direction;
            u8 size;
            u16 port;
            u32 count;
            u64 data_offset;
        } io;
        struct {
            u64 phys_addr;
            u8 data[8];
            u32 len;
            u8 is_write;
        } mmio;
        struct {
            u64 nr;
            u64 args[6];
            u64 ret;
            u32 longmode;
            u32 pad;
        } hypercall;
        struct {
            u32 suberror;
            u32 ndata;
            u64 data[16];
        } internal;
        struct {
            u64 flags;
            u64 gpa;
            u64 size;
        } memory_fault;
        char padding[256];
    };
};

// ---- ioctls ----
namespace ioctl {
using ioc::make;
inline constexpr unsigned long get_api_version = make(ioc::none, kvmio, 0x00, 0);
inline constexpr unsigned long create_vm = make(ioc::none, kvmio, 0x01, 0);
inline constexpr unsigned long get_msr_index_list = make(ioc::read | ioc::write, kvmio, 0x02, 4);
inline constexpr unsigned long check_extension = make(ioc::none, kvmio, 0x03, 0);
inline constexpr unsigned long get_vcpu_mmap_size = make(ioc::none, kvmio, 0x04, 0);
inline constexpr unsigned long get_supported_cpuid =
    make(ioc::read | ioc::write, kvmio, 0x05, sizeof(kvm_cpuid2));
inline constexpr unsigned long create_vcpu = make(ioc::none, kvmio, 0x41, 0);
inline constexpr unsigned long set_user_memory_region =
    make(ioc::write, kvmio, 0x46, sizeof(kvm_userspace_memory_region));
inline constexpr unsigned long set_user_memory_region2 =
    make(ioc::write, kvmio, 0x49, sizeof(kvm_userspace_memory_region2));
inline constexpr unsigned long run = make(ioc::none, kvmio, 0x80, 0);
inline constexpr unsigned long get_regs = make(ioc::read, kvmio, 0x81, sizeof(kvm_regs));
inline constexpr unsigned long set_regs = make(ioc::write, kvmio, 0x82, sizeof(kvm_regs));
inline constexpr unsigned long get_sregs = make(ioc::read, kvmio, 0x83, sizeof(kvm_sregs));
inline constexpr unsigned long set_sregs = make(ioc::write, kvmio, 0x84, sizeof(kvm_sregs));
inline constexpr unsigned long set_cpuid2 = make(ioc::write, kvmio, 0x90, sizeof(kvm_cpuid2));
inline constexpr unsigned long set_memory_attributes =
    make(ioc::write, kvmio, 0xd2, sizeof(kvm_memory_attributes));
inline constexpr unsigned long set_memory_attributes2 =
    make(ioc::read | ioc::write, kvmio, 0xd2, sizeof(kvm_memory_attributes2));
inline constexpr unsigned long create_guest_memfd =
    make(ioc::read | ioc::write, kvmio, 0xd4, sizeof(kvm_create_guest_memfd));
inline constexpr unsigned long pre_fault_memory =
    make(ioc::read | ioc::write, kvmio, 0xd5, sizeof(kvm_pre_fault_memory));
inline constexpr unsigned long get_stats_fd = make(ioc::none, kvmio, 0xce, 0);
} // namespace ioctl

// ---- capabilities (KVM_CHECK_EXTENSION arguments) ----
namespace cap {
inline constexpr long user_memory2 = 231;
inline constexpr long memory_fault_info = 232;
inline constexpr long memory_attributes = 233;
inline constexpr long guest_memfd = 234;
inline constexpr long vm_types = 235;
inline constexpr long pre_fault_memory = 236;
inline constexpr long guest_memfd_flags = 244;
// Per VM on x86: kvm_arch_has_readonly_mem(), false for VM types with
// protected state (SEV-ES, SNP, TDX); the system answer is 1 (x86.c
// kvm_vm_ioctl_check_extension). check_memory_region_flags() offers
// KVM_MEM_READONLY exactly where it is 1.
inline constexpr long readonly_mem = 81;
// KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES is not stable across versions of the
// in-place conversion series. The build may pin it (GMEM_CAP_GMEM_ATTRS_NR);
// the probe also honours a run-time override (see Features).
inline constexpr long guest_memfd_memory_attributes_v7 = 249;
inline constexpr long guest_memfd_memory_attributes_v8 = 250;
#ifdef GMEM_CAP_GMEM_ATTRS_NR
inline constexpr long guest_memfd_memory_attributes_default = GMEM_CAP_GMEM_ATTRS_NR;
#else
inline constexpr long guest_memfd_memory_attributes_default = guest_memfd_memory_attributes_v8;
#endif
} // namespace cap

// ---- flags and constants ----
inline constexpr int kvm_api_version = 12;

inline constexpr u32 kvm_mem_log_dirty_pages = 1U << 0;
inline constexpr u32 kvm_mem_readonly = 1U << 1;
inline constexpr u32 kvm_mem_guest_memfd = 1U << 2;

inline constexpr u64 guest_memfd_flag_mmap = 1ULL << 0;
inline constexpr u64 guest_memfd_flag_init_shared = 1ULL << 1;

inline constexpr u64 kvm_memory_attribute_private = 1ULL << 3;
inline constexpr u64 kvm_memory_exit_flag_private = 1ULL << 3;

inline constexpr long guest_memfd_magic = 0x474d454d; // "GMEM"

inline constexpr unsigned long kvm_x86_default_vm = 0;
inline constexpr unsigned long kvm_x86_sw_protected_vm = 1;
inline constexpr unsigned long kvm_x86_sev_vm = 2;
inline constexpr unsigned long kvm_x86_sev_es_vm = 3;
inline constexpr unsigned long kvm_x86_snp_vm = 4;
inline constexpr unsigned long kvm_x86_tdx_vm = 5;

// Exit reasons.
inline constexpr u32 kvm_exit_unknown = 0;
inline constexpr u32 kvm_exit_exception = 1;
inline constexpr u32 kvm_exit_io = 2;
inline constexpr u32 kvm_exit_hypercall = 3;
inline constexpr u32 kvm_exit_debug = 4;
inline constexpr u32 kvm_exit_hlt = 5;
inline constexpr u32 kvm_exit_mmio = 6;
inline constexpr u32 kvm_exit_shutdown = 8;
inline constexpr u32 kvm_exit_fail_entry = 9;
inline constexpr u32 kvm_exit_intr = 10;
inline constexpr u32 kvm_exit_internal_error = 17;
inline constexpr u32 kvm_exit_system_event = 24;
inline constexpr u32 kvm_exit_memory_fault = 39;

inline constexpr u8 kvm_exit_io_in = 0;
inline constexpr u8 kvm_exit_io_out = 1;

// ---- layout checks: sizes and offsets from UAPI.md / <linux/kvm.h> ----
static_assert(sizeof(kvm_userspace_memory_region) == 32);
static_assert(offsetof(kvm_userspace_memory_region, guest_phys_addr) == 8);
static_assert(offsetof(kvm_userspace_memory_region, memory_size) == 16);
static_assert(offsetof(kvm_userspace_memory_region, userspace_addr) == 24);

static_assert(sizeof(kvm_userspace_memory_region2) == 160);
static_assert(offsetof(kvm_userspace_memory_region2, slot) == 0);
static_assert(offsetof(kvm_userspace_memory_region2, flags) == 4);
static_assert(offsetof(kvm_userspace_memory_region2, guest_phys_addr) == 8);
static_assert(offsetof(kvm_userspace_memory_region2, memory_size) == 16);
static_assert(offsetof(kvm_userspace_memory_region2, userspace_addr) == 24);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd_offset) == 32);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd) == 40);
static_assert(offsetof(kvm_userspace_memory_region2, pad1) == 44);
static_assert(offsetof(kvm_userspace_memory_region2, pad2) == 48);

static_assert(sizeof(kvm_create_guest_memfd) == 64);
static_assert(offsetof(kvm_create_guest_memfd, flags) == 8);
static_assert(offsetof(kvm_create_guest_memfd, reserved) == 16);

static_assert(sizeof(kvm_memory_attributes) == 32);
static_assert(offsetof(kvm_memory_attributes, size) == 8);
static_assert(offsetof(kvm_memory_attributes, attributes) == 16);
static_assert(offsetof(kvm_memory_attributes, flags) == 24);

static_assert(sizeof(kvm_memory_attributes2) == 128);
static_assert(offsetof(kvm_memory_attributes2, offset) == 0);
static_assert(offsetof(kvm_memory_attributes2, size) == 8);
static_assert(offsetof(kvm_memory_attributes2, attributes) == 16);
static_assert(offsetof(kvm_memory_attributes2, flags) == 24);
static_assert(offsetof(kvm_memory_attributes2, error_offset) == 32);
static_assert(offsetof(kvm_memory_attributes2, reserved) == 40);

static_assert(sizeof(kvm_pre_fault_memory) == 64);
static_assert(offsetof(kvm_pre_fault_memory, size) == 8);
static_assert(offsetof(kvm_pre_fault_memory, flags) == 16);
static_assert(offsetof(kvm_pre_fault_memory, padding) == 24);

static_assert(sizeof(kvm_stats_header) == 24);
static_assert(offsetof(kvm_stats_header, name_size) == 4);
static_assert(offsetof(kvm_stats_header, num_desc) == 8);
static_assert(offsetof(kvm_stats_header, id_offset) == 12);
static_assert(offsetof(kvm_stats_header, desc_offset) == 16);
static_assert(offsetof(kvm_stats_header, data_offset) == 20);
static_assert(sizeof(kvm_stats_desc) == 16);
static_assert(offsetof(kvm_stats_desc, exponent) == 4);
static_assert(offsetof(kvm_stats_desc, size) == 6);
static_assert(offsetof(kvm_stats_desc, offset) == 8);
static_assert(offsetof(kvm_stats_desc, bucket_size) == 12);

static_assert(sizeof(kvm_regs) == 144);
static_assert(offsetof(kvm_regs, rip) == 128);
static_assert(sizeof(kvm_segment) == 24);
static_assert(sizeof(kvm_dtable) == 16);
static_assert(sizeof(kvm_sregs) == 312);
static_assert(offsetof(kvm_sregs, gdt) == 192);
static_assert(offsetof(kvm_sregs, cr0) == 224);
static_assert(offsetof(kvm_sregs, efer) == 264);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_cpuid2) == 8);

static_assert(offsetof(kvm_run, exit_reason) == 8);
static_assert(offsetof(kvm_run, cr8) == 16);
static_assert(offsetof(kvm_run, io) == 32);
static_assert(offsetof(kvm_run, io.data_offset) == 40);
static_assert(offsetof(kvm_run, mmio.len) == 48);
static_assert(offsetof(kvm_run, internal.data) == 40);
static_assert(offsetof(kvm_run, memory_fault.gpa) == 40);
static_assert(sizeof(kvm_run) == 288);

// Ioctl numbers exactly as UAPI.md gives them.
static_assert(ioctl::get_api_version == 0xAE00);
static_assert(ioctl::create_vm == 0xAE01);
static_assert(ioctl::check_extension == 0xAE03);
static_assert(ioctl::get_vcpu_mmap_size == 0xAE04);
static_assert(ioctl::create_vcpu == 0xAE41);
static_assert(ioctl::set_user_memory_region == 0x4020AE46);
static_assert(ioctl::set_user_memory_region2 == 0x40A0AE49);
static_assert(ioctl::run == 0xAE80);
static_assert(ioctl::set_memory_attributes == 0x4020AED2);
static_assert(ioctl::set_memory_attributes2 == 0xC080AED2);
static_assert(ioctl::create_guest_memfd == 0xC040AED4);
static_assert(ioctl::pre_fault_memory == 0xC040AED5);
static_assert(ioctl::get_stats_fd == 0xAECE);
static_assert(ioctl::get_regs == 0x8090AE81);
static_assert(ioctl::set_regs == 0x4090AE82);
static_assert(ioctl::get_sregs == 0x8138AE83);
static_assert(ioctl::set_sregs == 0x4138AE84);
static_assert(ioctl::set_cpuid2 == 0x4008AE90);
static_assert(ioctl::get_supported_cpuid == 0xC008AE05);

// Capability numbers from <linux/kvm.h> that UAPI.md does not list.
static_assert(cap::readonly_mem == 81); // KVM_CAP_READONLY_MEM

} // namespace gmem::uapi
