#include "gmem/kvm/kvm.hpp"
#include "gmem/uapi/kvm_x86_extra.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sstream>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

namespace gmem::kvm {
namespace {

Result<long> xioctl(int fd, unsigned long req, unsigned long arg) {
    const long r = ::ioctl(fd, req, arg);
    if (r < 0) return std::unexpected(Errno::last());
    return r;
}
Result<long> xioctl(int fd, unsigned long req, const void* arg) {
    const long r = ::ioctl(fd, req, arg);
    if (r < 0) return std::unexpected(Errno::last());
    return r;
}
Result<void> as_void(Result<long> r) {
    if (!r) return std::unexpected(r.error());
    return {};
}
std::string hex(std::uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}

} // namespace

std::string vm_type_name(unsigned long type) {
    static const char* const names[] = {"KVM_X86_DEFAULT_VM", "KVM_X86_SW_PROTECTED_VM",
                                        "KVM_X86_SEV_VM",     "KVM_X86_SEV_ES_VM",
                                        "KVM_X86_SNP_VM",     "KVM_X86_TDX_VM"};
    const std::string n = type < std::size(names) ? names[type] : "VM type";
    return n + " (" + std::to_string(type) + ")";
}

std::string gmem_flags_name(std::uint64_t flags) {
    if (flags == 0) return "0";
    std::string out;
    for (unsigned bit = 0; bit < 64; ++bit) {
        const std::uint64_t b = 1ULL << bit;
        if (!(flags & b)) continue;
        if (!out.empty()) out += "|";
        if (b == uapi::guest_memfd_flag_mmap) out += "MMAP";
        else if (b == uapi::guest_memfd_flag_init_shared) out += "INIT_SHARED";
        else out += "bit " + std::to_string(bit);
    }
    return out;
}

// ---------------------------------------------------------------------- Kvm --
Result<Kvm> Kvm::try_open(const char* path) {
    const int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return std::unexpected(Errno::last());
    return Kvm(Fd(fd));
}

Kvm Kvm::open(const char* path, SrcLoc loc) {
    return must(try_open(path), std::string("open ") + path, loc);
}

Result<long> Kvm::try_check_extension(long cap) const {
    return xioctl(fd(), uapi::ioctl::check_extension, static_cast<unsigned long>(cap));
}
long Kvm::check_extension(long cap, SrcLoc loc) const {
    return must(try_check_extension(cap), "KVM_CHECK_EXTENSION(" + std::to_string(cap) + ")", loc);
}
Result<long> Kvm::try_api_version() const {
    return xioctl(fd(), uapi::ioctl::get_api_version, 0UL);
}
Result<long> Kvm::try_vcpu_mmap_size() const {
    return xioctl(fd(), uapi::ioctl::get_vcpu_mmap_size, 0UL);
}

Result<Vm> Kvm::try_create_vm(unsigned long type) const {
    auto mmap_size = try_vcpu_mmap_size();
    if (!mmap_size) return std::unexpected(mmap_size.error());
    // KVM_CREATE_VM fails with EINTR when a signal arrives while the kernel
    // sets the VM up (seen on 6.1 under load); QEMU retries it for that
    // reason (kvm_init, and target/arm's "Retry KVM_CREATE_VM call if it
    // fails EINTR"). Bounded, so a signal storm still ends in an error.
    auto r = xioctl(fd(), uapi::ioctl::create_vm, type);
    for (int tries = 1; !r && r.error().code == EINTR && tries < 100; ++tries)
        r = xioctl(fd(), uapi::ioctl::create_vm, type);
    if (!r) return std::unexpected(r.error());
    return Vm(Fd(static_cast<int>(*r)), type, static_cast<std::size_t>(*mmap_size));
}
Vm Kvm::create_vm(unsigned long type, SrcLoc loc) const {
    return must(try_create_vm(type), "KVM_CREATE_VM(" + vm_type_name(type) + ")", loc);
}

// ----------------------------------------------------------------------- Vm --
Result<long> Vm::try_check_extension(long cap) const {
    return xioctl(fd(), uapi::ioctl::check_extension, static_cast<unsigned long>(cap));
}
long Vm::check_extension(long cap, SrcLoc loc) const {
    return must(try_check_extension(cap),
                "KVM_CHECK_EXTENSION(" + std::to_string(cap) + ") on the VM", loc);
}

Result<Vm> Vm::try_dup() const {
    const int fd = ::fcntl(this->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(Errno::last());
    return Vm(Fd(fd), type_, vcpu_mmap_size_);
}

Result<GuestMemfd> Vm::try_create_guest_memfd_raw(const uapi::kvm_create_guest_memfd& arg) const {
    uapi::kvm_create_guest_memfd copy = arg;
    auto r = xioctl(fd(), uapi::ioctl::create_guest_memfd, &copy);
    if (!r) return std::unexpected(r.error());
    Fd gfd(static_cast<int>(*r));
    // KVM hands the fd out without close-on-exec; like every other fd we own,
    // it must not leak into an exec'd image unless CPR saves it on purpose.
    if (::fcntl(gfd.get(), F_SETFD, FD_CLOEXEC) != 0) return std::unexpected(Errno::last());
    return GuestMemfd(std::move(gfd), arg.size, arg.flags);
}
Result<GuestMemfd> Vm::try_create_guest_memfd(std::uint64_t size, std::uint64_t flags) const {
    uapi::kvm_create_guest_memfd arg{};
    arg.size = size;
    arg.flags = flags;
    return try_create_guest_memfd_raw(arg);
}
GuestMemfd Vm::create_guest_memfd(std::uint64_t size, std::uint64_t flags, SrcLoc loc) const {
    return must(try_create_guest_memfd(size, flags),
                "KVM_CREATE_GUEST_MEMFD(size " + hex(size) + ", flags " + gmem_flags_name(flags) +
                    ")",
                loc);
}

uapi::kvm_userspace_memory_region2 Memslot::region2() const {
    uapi::kvm_userspace_memory_region2 r{};
    r.slot = slot;
    r.flags = flags;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = userspace_addr;
    r.guest_memfd_offset = gmem_offset;
    r.guest_memfd = static_cast<std::uint32_t>(gmem_fd);
    return r;
}

Result<void> Vm::try_set_region2(const uapi::kvm_userspace_memory_region2& r) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_user_memory_region2, &r));
}
Result<void> Vm::try_set_region_v1(const uapi::kvm_userspace_memory_region& r) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_user_memory_region, &r));
}
Result<void> Vm::try_set_memslot(const Memslot& s) const { return try_set_region2(s.region2()); }
void Vm::set_memslot(const Memslot& s, SrcLoc loc) const {
    must(try_set_memslot(s),
         "KVM_SET_USER_MEMORY_REGION2(slot " + std::to_string(s.slot) + ", gpa " + hex(s.gpa) +
             ", size " + hex(s.size) + ", gmem fd " + std::to_string(s.gmem_fd) + " offset " +
             hex(s.gmem_offset) + ")",
         loc);
}
Result<void> Vm::try_delete_memslot(std::uint32_t slot) const {
    uapi::kvm_userspace_memory_region2 r{};
    r.slot = slot;
    return try_set_region2(r);
}
void Vm::delete_memslot(std::uint32_t slot, SrcLoc loc) const {
    must(try_delete_memslot(slot), "deleting memslot " + std::to_string(slot), loc);
}

Result<void> Vm::try_set_memory_attributes(std::uint64_t gpa, std::uint64_t size,
                                           std::uint64_t attributes) const {
    uapi::kvm_memory_attributes a{};
    a.address = gpa;
    a.size = size;
    a.attributes = attributes;
    return try_set_memory_attributes_raw(a);
}

Result<void> Vm::try_set_memory_attributes_raw(const uapi::kvm_memory_attributes& a) const {
    uapi::kvm_memory_attributes copy = a;
    return as_void(xioctl(fd(), uapi::ioctl::set_memory_attributes, &copy));
}

Result<void> Vm::try_enable_cap(std::uint32_t cap, std::uint64_t arg0) const {
    uapi::kvm_enable_cap c{};
    c.cap = cap;
    c.args[0] = arg0;
    return as_void(xioctl(fd(), uapi::ioctl::enable_cap, &c));
}

Result<Vcpu> Vm::try_create_vcpu(unsigned id) const {
    auto r = xioctl(fd(), uapi::ioctl::create_vcpu, static_cast<unsigned long>(id));
    if (!r) return std::unexpected(r.error());
    Fd vfd(static_cast<int>(*r));
    void* p = ::mmap(nullptr, vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vfd.get(), 0);
    if (p == MAP_FAILED) return std::unexpected(Errno::last());
    return Vcpu(std::move(vfd), Mapping(p, vcpu_mmap_size_));
}
Vcpu Vm::create_vcpu(unsigned id, SrcLoc loc) const {
    return must(try_create_vcpu(id), "KVM_CREATE_VCPU(" + std::to_string(id) + ")", loc);
}

Result<std::uint64_t> Vm::try_read_stat(std::string_view name) const {
    auto r = xioctl(fd(), uapi::ioctl::get_stats_fd, 0UL);
    if (!r) return std::unexpected(r.error());
    const Fd sfd(static_cast<int>(*r));
    // pread the whole object or fail: a short read is a malformed stats file.
    auto read_at = [&](void* buf, std::size_t len, std::uint64_t off) -> Result<void> {
        const ssize_t n = ::pread(sfd.get(), buf, len, static_cast<off_t>(off));
        if (n < 0) return std::unexpected(Errno::last());
        if (static_cast<std::size_t>(n) != len) return std::unexpected(Errno{EIO});
        return {};
    };
    uapi::kvm_stats_header h{};
    if (auto x = read_at(&h, sizeof(h), 0); !x) return std::unexpected(x.error());
    const std::size_t stride = sizeof(uapi::kvm_stats_desc) + h.name_size;
    std::vector<char> desc(stride);
    for (std::uint32_t i = 0; i < h.num_desc; ++i) {
        if (auto x = read_at(desc.data(), stride, h.desc_offset + std::uint64_t{i} * stride); !x)
            return std::unexpected(x.error());
        uapi::kvm_stats_desc d{};
        std::memcpy(&d, desc.data(), sizeof(d));
        const char* n = desc.data() + sizeof(d);
        if (std::string_view(n, ::strnlen(n, h.name_size)) != name) continue;
        if (d.size == 0) return std::unexpected(Errno{ENODATA});
        std::uint64_t v = 0;
        if (auto x = read_at(&v, sizeof(v), std::uint64_t{h.data_offset} + d.offset); !x)
            return std::unexpected(x.error());
        return v;
    }
    return std::unexpected(Errno{ENOENT});
}

// --------------------------------------------------------------- GuestMemfd --
Result<Mapping> GuestMemfd::try_mmap(std::size_t len, int prot, int map_flags,
                                     off_t offset) const {
    void* p = ::mmap(nullptr, len, prot, map_flags, fd(), offset);
    if (p == MAP_FAILED) return std::unexpected(Errno::last());
    return Mapping(p, len);
}
Mapping GuestMemfd::mmap(std::size_t len, int prot, int map_flags, off_t offset,
                         SrcLoc loc) const {
    if (len == 0) len = static_cast<std::size_t>(size_);
    return must(try_mmap(len, prot, map_flags, offset),
                "mmap of guest_memfd (len " + hex(len) + ", offset " +
                    hex(static_cast<std::uint64_t>(offset)) + ")",
                loc);
}

Result<void> GuestMemfd::try_fallocate(int mode, off_t offset, off_t len) const {
    if (::fallocate(fd(), mode, offset, len) != 0) return std::unexpected(Errno::last());
    return {};
}
void GuestMemfd::allocate(off_t offset, off_t len, SrcLoc loc) const {
    must(try_fallocate(FALLOC_FL_KEEP_SIZE, offset, len),
         "fallocate(KEEP_SIZE, " + hex(static_cast<std::uint64_t>(offset)) + ", " +
             hex(static_cast<std::uint64_t>(len)) + ")",
         loc);
}
void GuestMemfd::punch_hole(off_t offset, off_t len, SrcLoc loc) const {
    must(try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, offset, len),
         "fallocate(PUNCH_HOLE, " + hex(static_cast<std::uint64_t>(offset)) + ", " +
             hex(static_cast<std::uint64_t>(len)) + ")",
         loc);
}

Result<struct stat> GuestMemfd::try_fstat() const {
    struct stat st{};
    if (::fstat(fd(), &st) != 0) return std::unexpected(Errno::last());
    return st;
}
Result<struct statfs> GuestMemfd::try_fstatfs() const {
    struct statfs st{};
    if (::fstatfs(fd(), &st) != 0) return std::unexpected(Errno::last());
    return st;
}

Result<void> GuestMemfd::try_set_attributes_raw(uapi::kvm_memory_attributes2& arg) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_memory_attributes2, &arg));
}
Result<void> GuestMemfd::try_set_attributes(std::uint64_t offset, std::uint64_t size,
                                            std::uint64_t attributes,
                                            uapi::kvm_memory_attributes2* out) const {
    uapi::kvm_memory_attributes2 a{};
    a.offset = offset;
    a.size = size;
    a.attributes = attributes;
    auto r = try_set_attributes_raw(a);
    if (out) *out = a;
    return r;
}

// --------------------------------------------------------------------- Vcpu --
Result<void> Vcpu::try_run() const { return as_void(xioctl(fd(), uapi::ioctl::run, 0UL)); }
Result<uapi::kvm_regs> Vcpu::try_get_regs() const {
    uapi::kvm_regs r{};
    auto x = xioctl(fd(), uapi::ioctl::get_regs, &r);
    if (!x) return std::unexpected(x.error());
    return r;
}
Result<void> Vcpu::try_set_regs(const uapi::kvm_regs& r) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_regs, &r));
}
Result<uapi::kvm_sregs> Vcpu::try_get_sregs() const {
    uapi::kvm_sregs s{};
    auto x = xioctl(fd(), uapi::ioctl::get_sregs, &s);
    if (!x) return std::unexpected(x.error());
    return s;
}
Result<void> Vcpu::try_set_sregs(const uapi::kvm_sregs& s) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_sregs, &s));
}
Result<void> Vcpu::try_set_cpuid2(const void* arg) const {
    return as_void(xioctl(fd(), uapi::ioctl::set_cpuid2, arg));
}
Result<void> Vcpu::try_pre_fault_memory(uapi::kvm_pre_fault_memory& range) const {
    // The kernel copies the struct back whatever the answer (kvm_vcpu_ioctl,
    // "Pass back leftover range"), so `range` is current after any return.
    return as_void(xioctl(fd(), uapi::ioctl::pre_fault_memory, &range));
}

} // namespace gmem::kvm
