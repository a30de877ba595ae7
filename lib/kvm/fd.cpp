#include "gmem/kvm/fd.hpp"
#include "gmem/kvm/error.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace gmem {

void Fd::reset(int fd) {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
}

void Mapping::reset() {
    if (addr_) ::munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
}

std::size_t page_size() {
    static const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return ps;
}

namespace {
std::string where_prefix(const std::source_location& w) {
    std::string file = w.file_name();
    const auto slash = file.rfind('/');
    if (slash != std::string::npos) file = file.substr(slash + 1);
    return file + ":" + std::to_string(w.line()) + ": ";
}
} // namespace

Error::Error(const std::string& what_failed, Errno err, std::source_location where)
    : std::runtime_error(where_prefix(where) + what_failed + " failed: " + err.describe()),
      err_(err) {}

} // namespace gmem
