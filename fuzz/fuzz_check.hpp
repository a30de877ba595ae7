// Shared by the fuzz targets: a property that must hold for every input. A
// violation aborts, which libFuzzer (and the plain replay driver under CTest)
// reports as a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__, __LINE__, #cond);     \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
            std::fputc('\n', stderr);                                                              \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

// The entry point each target defines: libFuzzer calls it (GMEM_FUZZ=ON),
// replay_main.cpp calls it on stored inputs (every other build).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace gmem::fuzz {

// The input cut at NUL bytes: the targets that read several files take them
// from one input this way (missing parts are empty).
inline std::vector<std::string_view> parts(const std::uint8_t* data, std::size_t size, std::size_t max_parts) {
    std::vector<std::string_view> out;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (out.size() + 1 < max_parts) {
        const std::size_t nul = in.find('\0');
        if (nul == std::string_view::npos) break;
        out.push_back(in.substr(0, nul));
        in.remove_prefix(nul + 1);
    }
    out.push_back(in);
    return out;
}

} // namespace gmem::fuzz
