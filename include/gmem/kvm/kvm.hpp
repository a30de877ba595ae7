// Thin RAII types over KVM's file descriptors: /dev/kvm, a VM, a vCPU with its
// kvm_run page, a guest_memfd. Every call comes in two flavours, as in the
// kernel selftests: try_foo() returns the kernel's raw answer (value or errno)
// for checks that expect failure; foo() must succeed and throws gmem::Error
// naming the call, the errno and the caller's line otherwise.
#pragma once

#include "gmem/errno.hpp"
#include "gmem/kvm/error.hpp"
#include "gmem/kvm/fd.hpp"
#include "gmem/uapi/kvm.hpp"

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace gmem::kvm {

using SrcLoc = std::source_location;

class Vm;
class Vcpu;
class GuestMemfd;

// "KVM_X86_DEFAULT_VM (0)", "KVM_X86_SW_PROTECTED_VM (1)", ...
std::string vm_type_name(unsigned long type);
// "MMAP|INIT_SHARED", "0", "bit 5"
std::string gmem_flags_name(std::uint64_t flags);

class Kvm {
  public:
    static constexpr const char* default_path = "/dev/kvm";
    static Result<Kvm> try_open(const char* path = default_path);
    static Kvm open(const char* path = default_path, SrcLoc loc = SrcLoc::current());

    int fd() const { return fd_.get(); }
    Result<long> try_check_extension(long cap) const;
    long check_extension(long cap, SrcLoc loc = SrcLoc::current()) const;
    Result<long> try_api_version() const;
    Result<long> try_vcpu_mmap_size() const;

    Result<Vm> try_create_vm(unsigned long type = uapi::kvm_x86_default_vm) const;
    Vm create_vm(unsigned long type = uapi::kvm_x86_default_vm,
                 SrcLoc loc = SrcLoc::current()) const;

  private:
    explicit Kvm(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

// A guest_memfd file: the fd plus what it was created with.
class GuestMemfd {
  public:
    GuestMemfd() = default;
    GuestMemfd(Fd fd, std::uint64_t size, std::uint64_t flags)
        : fd_(std::move(fd)), size_(size), flags_(flags) {}

    int fd() const { return fd_.get(); }
    std::uint64_t size() const { return size_; }
    std::uint64_t flags() const { return flags_; }
    Fd& file() { return fd_; }
    int release() { return fd_.release(); }

    // mmap(len, prot, MAP_SHARED/PRIVATE, offset); defaults: the whole file, RW, shared.
    Result<Mapping> try_mmap(std::size_t len, int prot, int map_flags, off_t offset = 0) const;
    Mapping mmap(std::size_t len = 0, int prot = PROT_READ | PROT_WRITE,
                 int map_flags = MAP_SHARED, off_t offset = 0,
                 SrcLoc loc = SrcLoc::current()) const;

    Result<void> try_fallocate(int mode, off_t offset, off_t len) const;
    void allocate(off_t offset, off_t len, SrcLoc loc = SrcLoc::current()) const;   // KEEP_SIZE
    void punch_hole(off_t offset, off_t len, SrcLoc loc = SrcLoc::current()) const; // |PUNCH_HOLE

    Result<struct stat> try_fstat() const;
    Result<struct statfs> try_fstatfs() const;

    // KVM_SET_MEMORY_ATTRIBUTES2 (in-place conversion series) on this file.
    // `out` (optional) receives the struct after the call, for error_offset.
    Result<void> try_set_attributes(std::uint64_t offset, std::uint64_t size,
                                    std::uint64_t attributes,
                                    uapi::kvm_memory_attributes2* out = nullptr) const;
    Result<void> try_set_attributes_raw(uapi::kvm_memory_attributes2& arg) const;

  private:
    Fd fd_;
    std::uint64_t size_ = 0;
    std::uint64_t flags_ = 0;
};

// A memory slot as the kernel takes it (region2); a plain description, set
// and deleted through Vm. Deleting all slots is implied by closing the VM.
struct Memslot {
    std::uint32_t slot = 0;
    std::uint32_t flags = 0;
    std::uint64_t gpa = 0;
    std::uint64_t size = 0;
    std::uint64_t userspace_addr = 0;
    int gmem_fd = -1; // with flags |= KVM_MEM_GUEST_MEMFD
    std::uint64_t gmem_offset = 0;

    // A KVM_MEM_GUEST_MEMFD slot binding [offset, offset + size) of gmem_fd
    // at gpa; userspace_addr 0 means no host address at all.
    static Memslot for_gmem(std::uint32_t slot, std::uint64_t gpa, std::uint64_t size,
                            int gmem_fd, std::uint64_t offset = 0,
                            std::uint64_t userspace_addr = 0) {
        return {slot, uapi::kvm_mem_guest_memfd, gpa, size, userspace_addr, gmem_fd, offset};
    }

    uapi::kvm_userspace_memory_region2 region2() const;
};

class Vm {
  public:
    Vm() = default;
    int fd() const { return fd_.get(); }
    unsigned long type() const { return type_; }
    std::size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
    Fd& file() { return fd_; }

    Result<long> try_check_extension(long cap) const;
    long check_extension(long cap, SrcLoc loc = SrcLoc::current()) const;

    // Another handle on the same VM (dup of its fd): for a second owner such
    // as a backend accelerator that must create guest_memfds in this VM.
    Result<Vm> try_dup() const;
    // Takes over a VM fd that arrived from elsewhere (e.g. a CPR transfer).
    static Vm adopt(Fd fd, unsigned long type, std::size_t vcpu_mmap_size) {
        return Vm(std::move(fd), type, vcpu_mmap_size);
    }

    Result<GuestMemfd> try_create_guest_memfd(std::uint64_t size, std::uint64_t flags) const;
    // With every field under the caller's control (reserved words included).
    Result<GuestMemfd> try_create_guest_memfd_raw(const uapi::kvm_create_guest_memfd& arg) const;
    GuestMemfd create_guest_memfd(std::uint64_t size, std::uint64_t flags,
                                  SrcLoc loc = SrcLoc::current()) const;

    Result<void> try_set_memslot(const Memslot& s) const;
    Result<void> try_set_region2(const uapi::kvm_userspace_memory_region2& r) const;
    Result<void> try_set_region_v1(const uapi::kvm_userspace_memory_region& r) const;
    void set_memslot(const Memslot& s, SrcLoc loc = SrcLoc::current()) const;
    Result<void> try_delete_memslot(std::uint32_t slot) const;
    void delete_memslot(std::uint32_t slot, SrcLoc loc = SrcLoc::current()) const;

    // KVM_ENABLE_CAP on the VM with args[0] = arg0 (e.g. KVM_CAP_EXIT_HYPERCALL).
    Result<void> try_enable_cap(std::uint32_t cap, std::uint64_t arg0) const;

    // Legacy per-VM attributes (KVM_SET_MEMORY_ATTRIBUTES on the VM fd).
    Result<void> try_set_memory_attributes(std::uint64_t gpa, std::uint64_t size,
                                           std::uint64_t attributes) const;
    // The same with every field as given (flags included), for argument checks.
    Result<void> try_set_memory_attributes_raw(const uapi::kvm_memory_attributes& a) const;

    Result<Vcpu> try_create_vcpu(unsigned id = 0) const;
    Vcpu create_vcpu(unsigned id = 0, SrcLoc loc = SrcLoc::current()) const;

    // One statistic of the VM's binary stats (KVM_GET_STATS_FD, api.rst), by
    // name, e.g. "pages_4k": its first u64 value. ENOENT: no such statistic.
    Result<std::uint64_t> try_read_stat(std::string_view name) const;

  private:
    friend class Kvm;
    Vm(Fd fd, unsigned long type, std::size_t mmap_size)
        : fd_(std::move(fd)), type_(type), vcpu_mmap_size_(mmap_size) {}
    Fd fd_;
    unsigned long type_ = 0;
    std::size_t vcpu_mmap_size_ = 0;
};

class Vcpu {
  public:
    Vcpu() = default;
    int fd() const { return fd_.get(); }
    uapi::kvm_run* run_page() const { return static_cast<uapi::kvm_run*>(run_.get()); }

    Result<void> try_run() const;
    Result<uapi::kvm_regs> try_get_regs() const;
    Result<void> try_set_regs(const uapi::kvm_regs& r) const;
    Result<uapi::kvm_sregs> try_get_sregs() const;
    Result<void> try_set_sregs(const uapi::kvm_sregs& s) const;
    // arg points at a kvm_cpuid2 header followed by its entries.
    Result<void> try_set_cpuid2(const void* arg) const;

    // KVM_PRE_FAULT_MEMORY (needs KVM_CAP_PRE_FAULT_MEMORY). `range` is in/out
    // as in the kernel: on return, success or not, it holds what is left of
    // the range (gpa advanced and size shrunk by what was mapped).
    Result<void> try_pre_fault_memory(uapi::kvm_pre_fault_memory& range) const;

  private:
    friend class Vm;
    Vcpu(Fd fd, Mapping run) : fd_(std::move(fd)), run_(std::move(run)) {}
    Fd fd_;
    Mapping run_;
};

} // namespace gmem::kvm
