// What a failed backend step returns: the error text a QEMU user would read
// (the seeds' own wording), the value QEMU's function returned (-1, or -ENOSYS
// from the no-KVM stub), and the kernel's errno when a system call refused.
#pragma once

#include "gmem/errno.hpp"

#include <expected>
#include <string>
#include <utility>

namespace gmem::backend {

struct BackendError {
    std::string message; // e.g. "can't create backend with size 0"
    int result = -1;     // -1, or -ENOSYS for "not supported for this configuration"
    Errno err{};         // errno of the refused system call; code 0 when none was made

    // QEMU's error_setg(): a plain message.
    static BackendError plain(std::string msg, int result = -1) {
        return BackendError{std::move(msg), result, Errno{}};
    }
    // QEMU's error_setg_errno(): "<msg>: <strerror(errno)>".
    static BackendError with_errno(const std::string& msg, Errno e) {
        return BackendError{msg + ": " + e.text(), -1, e};
    }
};

template <class T> using Outcome = std::expected<T, BackendError>;

inline std::unexpected<BackendError> fail(BackendError e) { return std::unexpected(std::move(e)); }

} // namespace gmem::backend
