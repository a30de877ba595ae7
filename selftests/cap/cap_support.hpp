// Helpers of the cap programs: running this very program (or a tool) under
// a changed world (another uid, a mount namespace without /dev/kvm) and
// passing a SKIP reason back from a forked child.
#pragma once

#include "gmem/util/text.hpp"
#include "gmem/errno.hpp"
#include "gmem/kvm/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

namespace cap {

// The unprivileged identity the checks switch to ("nobody"/"nogroup").
inline constexpr uid_t nobody_uid = 65534;
inline constexpr gid_t nobody_gid = 65534;

using gmem::util::contains;

// Path of the running program, resolved while /proc/self is still ours to read
// (after setuid the process is not dumpable and /proc/self/exe is root-only).
inline std::string self_exe() {
    char buf[PATH_MAX] = {};
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// A page shared with forked children: a child that finds a precondition
// unmet leaves the SKIP reason here instead of failing.
class SharedNote {
  public:
    SharedNote() {
        void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            page_ = gmem::Mapping(p, size_);
            page_.data()[0] = 0;
        }
    }
    bool usable() const { return static_cast<bool>(page_); }
    void set(const std::string& text) {
        if (!page_) return;
        const size_t n = std::min(text.size(), size_ - 1);
        std::memcpy(page_.data(), text.data(), n);
        page_.data()[n] = 0;
    }
    std::string get() const {
        return page_ ? std::string(reinterpret_cast<const char*>(page_.data())) : std::string();
    }

  private:
    static constexpr size_t size_ = 4096;
    gmem::Mapping page_;
};

// setgroups / setgid / setuid to nobody; the order matters (after setuid
// there is no privilege left to change groups).
inline gmem::Result<void> drop_to_nobody() {
    if (::setgroups(0, nullptr) != 0) return std::unexpected(gmem::Errno::last());
    if (::setgid(nobody_gid) != 0) return std::unexpected(gmem::Errno::last());
    if (::setuid(nobody_uid) != 0) return std::unexpected(gmem::Errno::last());
    return {};
}

// In a new mount namespace of this process, hides the host's /dev behind an
// empty tmpfs; nothing propagates back (the whole tree is made private first).
inline std::string hide_dev() {
    if (::unshare(CLONE_NEWNS) != 0)
        return "unshare(CLONE_NEWNS): " + gmem::Errno::last().describe();
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return "making / private: " + gmem::Errno::last().describe();
    if (::mount("gmem-empty-dev", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=16k,mode=0755") !=
        0)
        return "mounting an empty tmpfs on /dev: " + gmem::Errno::last().describe();
    return "";
}

} // namespace cap
