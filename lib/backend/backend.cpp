// allocate(): the alloc hooks of memory-backend-guest-memfd (seed 000) and
// memory-backend-memfd (seed 001 with the review's checks), followed by what
// QEMU's memory_region_init_ram_from_fd() and host-memory-backend completion
// do with the fd: map it as the RAM and, with prealloc=on, populate it.
#include "gmem/backend/backend.hpp"

#include "gmem/uapi/kvm.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace gmem::backend {
namespace {

std::string hex(std::uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// Property-time checks (QEMU refuses these when the property is set, before
// any allocation).
std::optional<BackendError> check_properties(const BackendConfig& c) {
    if (c.prealloc && !c.reserve) return BackendError::plain(msg::prealloc_noreserve);
    if (c.type == BackendType::guest_memfd) {
        const char* stray = c.guest_memfd          ? "guest-memfd"
                            : c.hugetlb.has_value() ? "hugetlb"
                            : c.hugetlbsize.has_value() ? "hugetlbsize"
                            : c.seal.has_value()    ? "seal"
                                                    : nullptr;
        if (stray)
            return BackendError::plain("Property '" + std::string(type_name(c.type)) + "." +
                                       stray + "' not found");
    }
    return std::nullopt;
}

// qemu_memfd_create(): the plain memfd path of memory-backend-memfd.
Outcome<Fd> create_memfd(const BackendConfig& c) {
    const std::uint64_t hsize = c.hugetlbsize.value_or(0);
    unsigned shift = 0;
    if (hsize) {
        shift = static_cast<unsigned>(__builtin_ctzll(hsize));
        if ((1ULL << shift) != hsize)
            return fail(BackendError::plain("Hugepage size must be a power of 2"));
    }
    const bool seal = c.seal.value_or(true);
    unsigned flags = MFD_CLOEXEC;
    if (seal) flags |= MFD_ALLOW_SEALING;
    if (c.hugetlb.value_or(false)) flags |= MFD_HUGETLB | (shift << MFD_HUGE_SHIFT);
    Fd fd(::memfd_create(std::string(type_name(c.type)).c_str(), flags));
    if (!fd) return fail(BackendError::with_errno("failed to create memfd with flags " + hex(flags),
                                                  Errno::last()));
    if (::ftruncate(fd.get(), static_cast<off_t>(c.size)) == -1)
        return fail(BackendError::with_errno("failed to resize memfd to " + std::to_string(c.size),
                                             Errno::last()));
    const int seals = F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
    if (seal && ::fcntl(fd.get(), F_ADD_SEALS, seals) == -1)
        return fail(BackendError::with_errno("failed to add seals " + hex(seals), Errno::last()));
    return fd;
}

// The fd a backend's alloc hook ends with: created here (owned) or found in
// the CPR store (borrowed until the block is complete).
struct FdChoice {
    Fd created;
    int cpr_fd = -1;
    int get() const { return cpr_fd >= 0 ? cpr_fd : created.get(); }
};

Outcome<FdChoice> alloc_guest_memfd_backend(const BackendConfig& c, Accelerator& accel, int cpr_fd) {
    if (c.size == 0) return fail(BackendError::plain(msg::size_zero));
    if (!c.effective_share()) return fail(BackendError::plain(msg::share_off));
    if (cpr_fd >= 0) return FdChoice{Fd(), cpr_fd};
    auto fd = accel.create_guest_memfd_shared(c.size);
    if (!fd) return fail(std::move(fd.error()));
    return FdChoice{std::move(*fd), -1};
}

Outcome<FdChoice> alloc_memfd_backend(const BackendConfig& c, Accelerator& accel, int cpr_fd) {
    if (c.size == 0) return fail(BackendError::plain(msg::size_zero));
    if (cpr_fd >= 0) return FdChoice{Fd(), cpr_fd};
    if (!c.guest_memfd) {
        auto fd = create_memfd(c);
        if (!fd) return fail(std::move(fd.error()));
        return FdChoice{std::move(*fd), -1};
    }
    if (!c.effective_share()) return fail(BackendError::plain(msg::inplace_share_off));
    if (c.guest_memfd_private) return fail(BackendError::plain(msg::inplace_private));
    // The review of seed 001: properties the in-place guest_memfd cannot honour
    // are refused by name, and only then is the accelerator consulted.
    if (c.hugetlb.value_or(false)) return fail(BackendError::plain(msg::inplace_hugetlb));
    if (c.hugetlbsize.has_value()) return fail(BackendError::plain(msg::inplace_hugetlbsize));
    if (c.seal.value_or(false)) return fail(BackendError::plain(msg::inplace_seal));
    if (!accel.kvm_enabled()) return fail(BackendError::plain(NonKvmAccelerator::message));
    auto fd = accel.create_guest_memfd(c.size, uapi::guest_memfd_flag_mmap |
                                                   uapi::guest_memfd_flag_init_shared);
    if (!fd) return fail(std::move(fd.error()));
    return FdChoice{std::move(*fd), -1};
}

// qemu_prealloc_mem(): every page of the mapping populated for writing.
Result<void> populate(const Mapping& m) {
    if (::madvise(m.get(), m.size(), MADV_POPULATE_WRITE) == 0) return {};
    const Errno e = Errno::last();
    if (e.code != EINVAL) return std::unexpected(e);
    // Kernels before 5.14 do not know MADV_POPULATE_WRITE: touch each page.
    const std::size_t ps = page_size();
    for (std::size_t off = 0; off < m.size(); off += ps) {
        auto* p = static_cast<volatile std::uint8_t*>(m.data() + off);
        *p = *p;
    }
    return {};
}

} // namespace

std::string_view type_name(BackendType t) {
    return t == BackendType::guest_memfd ? "memory-backend-guest-memfd" : "memory-backend-memfd";
}

bool default_share(BackendType) { return true; }

std::string ram_flags_name(std::uint32_t flags) {
    if (flags == 0) return "0";
    std::string out;
    auto add = [&](std::uint32_t bit, const char* n) {
        if (!(flags & bit)) return;
        if (!out.empty()) out += "|";
        out += n;
        flags &= ~bit;
    };
    add(ram_flag::shared, "SHARED");
    add(ram_flag::noreserve, "NORESERVE");
    add(ram_flag::guest_memfd, "GUEST_MEMFD");
    add(ram_flag::private_, "PRIVATE");
    if (flags) out += (out.empty() ? "" : "|") + hex(flags);
    return out;
}

BackendConfig BackendConfig::dedicated(std::string id, std::uint64_t size) {
    BackendConfig c;
    c.type = BackendType::guest_memfd;
    c.id = std::move(id);
    c.size = size;
    return c;
}

BackendConfig BackendConfig::memfd_backend(std::string id, std::uint64_t size, bool guest_memfd) {
    BackendConfig c;
    c.type = BackendType::memfd;
    c.id = std::move(id);
    c.size = size;
    c.guest_memfd = guest_memfd;
    return c;
}

Outcome<RamBlock> allocate(const BackendConfig& cfg, Accelerator& accel, CprStore& cpr) {
    if (auto e = check_properties(cfg)) return fail(std::move(*e));

    const std::string& name = cfg.id;
    const int cpr_fd = cpr.find_fd(name, 0);
    auto choice = cfg.type == BackendType::guest_memfd ? alloc_guest_memfd_backend(cfg, accel, cpr_fd)
                                                       : alloc_memfd_backend(cfg, accel, cpr_fd);
    if (!choice) return fail(std::move(choice.error()));

    RamBlock b;
    b.name = name;
    b.size = cfg.size;
    b.aligned = true;
    b.flags = cfg.effective_share() ? ram_flag::shared : ram_flag::private_;
    b.flags |= cfg.reserve ? 0 : ram_flag::noreserve;
    b.flags |= cfg.guest_memfd_private ? ram_flag::guest_memfd : 0;

    // memory_region_init_ram_from_fd(): the fd must cover the size, and its
    // first `size` bytes become the RAM.
    const int fd = choice->get();
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0 &&
        static_cast<std::uint64_t>(st.st_size) < cfg.size)
        return fail(BackendError::plain("backing store size " +
                                        hex(static_cast<std::uint64_t>(st.st_size)) +
                                        " does not match 'size' option " + hex(cfg.size)));
    int map_flags = (b.flags & ram_flag::shared) ? MAP_SHARED : MAP_PRIVATE;
    if (b.flags & ram_flag::noreserve) map_flags |= MAP_NORESERVE;
    void* p = ::mmap(nullptr, cfg.size, PROT_READ | PROT_WRITE, map_flags, fd, 0);
    if (p == MAP_FAILED) return fail(BackendError::with_errno(msg::map_failed, Errno::last()));
    b.host = Mapping(p, cfg.size);
    b.fd_offset = 0;

    if (cfg.prealloc) {
        if (auto r = populate(b.host); !r)
            return fail(BackendError::with_errno(msg::prealloc_failed, r.error()));
    }

    // Complete: the block takes the fd; a new one is saved for CPR. Saving
    // last keeps the store unchanged by any failure above.
    b.fd_from_cpr = choice->cpr_fd >= 0;
    b.fd = b.fd_from_cpr ? Fd(choice->cpr_fd) : std::move(choice->created);
    if (!b.fd_from_cpr) cpr.save_fd(name, 0, b.fd.get());
    return b;
}

} // namespace gmem::backend
