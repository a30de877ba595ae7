// The plain driver of a fuzz target (no libFuzzer): runs
// LLVMFuzzerTestOneInput once on every file named, or every file in a
// directory named, as CTest's fuzz_regressions_* tests do with the inputs
// that once found a problem (fuzz/regressions/<target>/) and the seeds. A
// violated property or a crash aborts; exit 1 when no input was found.
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            for (const auto& e : fs::directory_iterator(argv[i]))
                if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
        } else if (fs::is_regular_file(argv[i], ec)) {
            files.push_back(argv[i]);
        } else {
            std::fprintf(stderr, "%s: %s: no such file or directory\n", argv[0], argv[i]);
            return 1;
        }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.eof() && in.fail()) {
            std::fprintf(stderr, "%s: %s: cannot read\n", argv[0], f.c_str());
            return 1;
        }
        std::fprintf(stderr, "replay %s (%zu bytes)\n", f.c_str(), bytes.size());
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%zu input(s) replayed, no property violated\n", files.size());
    return files.empty() ? 1 : 0;
}
