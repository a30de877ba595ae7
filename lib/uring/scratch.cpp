#include "gmem/uring/scratch.hpp"

#include "gmem/util/limits.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace gmem::uring {
namespace {

std::string fs_name(long magic) {
    switch (static_cast<unsigned long>(magic)) {
    case EXT4_SUPER_MAGIC:
        return "ext4"; // same magic for ext2/ext3
    case TMPFS_MAGIC:
        return "tmpfs";
    case XFS_SUPER_MAGIC:
        return "xfs";
    case BTRFS_SUPER_MAGIC:
        return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
        return "overlayfs";
    case NFS_SUPER_MAGIC:
        return "nfs";
    case 0x65735546UL:
        return "fuse";
    case 0x2fc12fc1UL:
        return "zfs";
    case 0xf2f52010UL:
        return "f2fs";
    default:
        break;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(magic));
    return buf;
}

// An unlinked file in dir, opened O_RDWR|O_DIRECT. O_TMPFILE first (never
// visible in the directory); a named file unlinked at once where the
// filesystem lacks O_TMPFILE.
Result<Fd> open_direct(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
    if (fd >= 0) return Fd(fd);
    const int tmpfile_err = errno;
    if (tmpfile_err != EOPNOTSUPP && tmpfile_err != EISDIR && tmpfile_err != EINVAL)
        return std::unexpected(Errno{tmpfile_err});
    std::string path = dir + "/gmem-uring-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return std::unexpected(Errno::last());
    Fd named(fd);
    Fd direct(::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    const Errno open_err = Errno::last();
    ::unlink(path.c_str());
    if (!direct) return std::unexpected(open_err);
    return direct;
}

} // namespace

Result<Fd> try_memfd(const char* name, std::size_t size) {
    Fd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd) return std::unexpected(Errno::last());
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return std::unexpected(Errno::last());
    return fd;
}

Result<MemfdBuffer> try_memfd_buffer(const char* name, std::size_t file_size,
                                     std::size_t map_size) {
    auto fd = try_memfd(name, file_size);
    if (!fd) return std::unexpected(fd.error());
    void* p = ::mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd->get(), 0);
    if (p == MAP_FAILED) return std::unexpected(Errno::last());
    return MemfdBuffer{std::move(*fd), Mapping(p, map_size)};
}

Result<Mapping> try_anon(std::size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return std::unexpected(Errno::last());
    return Mapping(p, size);
}

DirectSearch find_direct_file(std::span<const std::string> dirs, std::size_t align) {
    DirectSearch out;
    auto note = [&](const std::string& dir, const std::string& why) {
        out.why_not += (out.why_not.empty() ? "" : "; ") + dir + ": " + why;
    };
    auto probe = try_anon(align);
    if (!probe) {
        note("(all)", "no test buffer: " + probe.error().describe());
        return out;
    }
    for (const std::string& dir : dirs) {
        struct statfs sfs {};
        std::string fs = "?";
        if (::statfs(dir.c_str(), &sfs) == 0) fs = fs_name(static_cast<long>(sfs.f_type));
        auto fd = open_direct(dir);
        if (!fd) {
            note(dir, "open(O_DIRECT) on " + fs + ": " + fd.error().describe());
            continue;
        }
        std::memset(probe->data(), 0xa5, align);
        const ssize_t w = ::pwrite(fd->get(), probe->data(), align, 0);
        if (w != static_cast<ssize_t>(align)) {
            note(dir, "O_DIRECT test write of " + std::to_string(align) + " bytes on " + fs + ": " +
                          (w < 0 ? Errno::last().describe() : "short " + std::to_string(w)));
            continue;
        }
        std::memset(probe->data(), 0, align);
        const ssize_t r = ::pread(fd->get(), probe->data(), align, 0);
        if (r != static_cast<ssize_t>(align) || probe->data()[align - 1] != 0xa5) {
            note(dir, "O_DIRECT test read on " + fs + ": " +
                          (r < 0 ? Errno::last().describe() : "did not read back the test write"));
            continue;
        }
        out.file = DirectFile{std::move(*fd), dir, fs};
        return out;
    }
    if (dirs.empty()) note("(none)", "no directory to try");
    return out;
}

std::vector<std::string> direct_dirs(const std::string& extra) {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("GMEM_DIRECT_DIR"); env && *env) dirs.emplace_back(env);
    if (!extra.empty()) dirs.push_back(extra);
    dirs.emplace_back("/var/tmp");
    dirs.emplace_back("/tmp");
    return dirs;
}

std::string memlock_report(std::size_t bytes) {
    std::string out = util::memlock_limit_text();
    if (bytes) out += ", buffer " + std::to_string(bytes) + " bytes";
    // CAP_IPC_LOCK (bit 14) in the effective set: io_uring then charges nothing.
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) != 0) continue;
        const unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
        out += (caps >> 14) & 1ULL ? ", CAP_IPC_LOCK held (io_uring does not charge the limit)"
                                   : ", no CAP_IPC_LOCK (io_uring charges the limit)";
        break;
    }
    return out;
}

} // namespace gmem::uring
