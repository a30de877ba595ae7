// What the asserting ("must succeed") calls of the host library throw: the
// failed operation, its errno, and the caller's file and line. The harness
// reports an uncaught one as the test's failure; lib/ never prints or exits.
#pragma once

#include "gmem/errno.hpp"

#include <source_location>
#include <stdexcept>
#include <string>

namespace gmem {

class Error : public std::runtime_error {
  public:
    Error(const std::string& what_failed, Errno err,
          std::source_location where = std::source_location::current());
    Errno err() const { return err_; }

  private:
    Errno err_;
};

// Unwraps a Result or throws Error naming `what` and the caller.
template <class T>
T must(Result<T>&& r, const std::string& what,
       std::source_location where = std::source_location::current()) {
    if (!r) throw Error(what, r.error(), where);
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

} // namespace gmem
