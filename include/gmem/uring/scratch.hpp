// The other side of an I/O check: memfd files (as I/O targets, and as the
// control buffer every guest_memfd check runs beside), a file on a filesystem
// that takes O_DIRECT, and the RLIMIT_MEMLOCK facts that explain a failed
// buffer registration.
#pragma once

#include "gmem/errno.hpp"
#include "gmem/kvm/fd.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace gmem::uring {

// A memfd of `size` bytes (zero-filled), close-on-exec.
Result<Fd> try_memfd(const char* name, std::size_t size);

// A memfd of file_size bytes mapped MAP_SHARED read/write over map_size bytes
// (map_size > file_size leaves pages beyond the end of the file).
struct MemfdBuffer {
    Fd fd;
    Mapping map;
};
Result<MemfdBuffer> try_memfd_buffer(const char* name, std::size_t file_size, std::size_t map_size);

// Anonymous private memory (page aligned, zeroed): a plain buffer that O_DIRECT
// accepts, for checking what a test wrote.
Result<Mapping> try_anon(std::size_t size);

// An unlinked regular file opened O_RDWR|O_DIRECT in the first of `dirs`
// whose filesystem accepts O_DIRECT and completes an aligned test write and
// read of `align` bytes. `why_not` says, per directory, why it was passed over.
struct DirectFile {
    Fd fd;
    std::string dir;
    std::string fs_type; // "ext4", "tmpfs", ... ("0x…" for a magic this table does not name)
};
struct DirectSearch {
    std::optional<DirectFile> file;
    std::string why_not;
};
DirectSearch find_direct_file(std::span<const std::string> dirs, std::size_t align = 4096);

// The directories worth trying, in order: $GMEM_DIRECT_DIR if set, `extra`
// (e.g. the build directory) if not empty, /var/tmp, /tmp.
std::vector<std::string> direct_dirs(const std::string& extra);

// "RLIMIT_MEMLOCK cur 8388608 max 8388608 bytes, buffer 16384 bytes, CAP_IPC_LOCK
// held (io_uring does not charge the limit)": what decides whether a buffer
// of `bytes` may be registered (bytes 0: the ring alone).
std::string memlock_report(std::size_t bytes);

} // namespace gmem::uring
