// Where a test program's helper files are: the programs it runs (demos,
// gmem-probe, gmem-report), recorded data, the spec, guest payload sources.
//
// The same binary runs from the build tree (ctest) and from an installed tree
// (`cmake --install`, copied anywhere; cmake/GmemInstall.cmake lays it out):
// a helper is looked up relative to the directory of the running executable
// (/proc/self/exe) first, where the installed layout puts it, and the
// build-tree path compiled in is the fallback. In the build tree the relative
// path either names the same file (a demo built beside its checker) or
// nothing, so ctest sees exactly what it saw before.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace gmem::util {

// The directory holding the running executable; empty if /proc is not mounted.
inline std::filesystem::path self_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : exe.parent_path();
}

// `relative` (to this executable's directory) if it exists, else `fallback`
// (the build-tree path).
inline std::string helper_path(std::string_view relative, const char* fallback) {
    const auto dir = self_dir();
    if (dir.empty()) return fallback;
    std::error_code ec;
    const auto p = (dir / relative).lexically_normal();
    return std::filesystem::exists(p, ec) ? p.string() : std::string(fallback);
}

} // namespace gmem::util
