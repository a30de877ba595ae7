// Errno as a value: what every "try_" call of the host library returns on
// failure, and what the harness prints as "EINVAL (Invalid argument)".
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>

namespace gmem {

struct Errno {
    int code = 0;

    // The symbolic name, e.g. "EINVAL"; "E?<n>" for numbers glibc does not name.
    std::string name() const {
        const char* n = code > 0 ? ::strerrorname_np(code) : nullptr;
        return n ? std::string(n) : "E?" + std::to_string(code);
    }
    std::string text() const { return ::strerror(code); }
    // "EINVAL (Invalid argument)"
    std::string describe() const { return name() + " (" + text() + ")"; }

    static Errno last() { return Errno{errno}; }
    friend bool operator==(Errno a, Errno b) { return a.code == b.code; }
    friend bool operator==(Errno a, int b) { return a.code == b; }
};

template <class T> using Result = std::expected<T, Errno>;

// Wraps a raw system call answer: -1 becomes the current errno.
inline Result<long> check_syscall(long ret) {
    if (ret == -1) return std::unexpected(Errno::last());
    return ret;
}

} // namespace gmem
