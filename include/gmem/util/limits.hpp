// Resource limits as the corpus reports them in diagnostics.
#pragma once

#include "gmem/errno.hpp"

#include <string>
#include <sys/resource.h>

namespace gmem::util {

// "RLIMIT_MEMLOCK cur 8388608 max unlimited bytes" (or why it is unknown):
// io_uring charges rings (before 5.12) and registered buffers to this limit.
inline std::string memlock_limit_text() {
    auto show = [](rlim_t v) {
        return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
    };
    rlimit rl{};
    if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return "RLIMIT_MEMLOCK unknown (" + Errno::last().describe() + ")";
    return "RLIMIT_MEMLOCK cur " + show(rl.rlim_cur) + " max " + show(rl.rlim_max) + " bytes";
}

} // namespace gmem::util
