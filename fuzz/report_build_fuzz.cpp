// Fuzz target: `gmem-report build` from a KTAP directory and a spec, as the
// tool does it (read_run, build_report, the JSON / Markdown / terminal forms).
// The input is cut at NUL bytes into
//   probe JSON \0 spec \0 JUnit \0 p0.ktap \0 p0.list \0 p1.ktap \0 p1.list ...
// (an empty part: no such file; a spec that does not parse: a small built-in
// one) and written into a scratch directory. Properties: nothing throws, and
// the JSON written reads back into the same report.
#include "fuzz_check.hpp"

#include "gmem/report/inputs.hpp"
#include "gmem/report/report.hpp"
#include "gmem/report/spec.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
namespace rep = gmem::report;

namespace {

constexpr std::size_t max_programs = 4;

const char* fallback_spec = "## CAP: capabilities\n| CAP-01 | one |\n| CAP-02 | two |\n"
                            "## CREATE: creation\n| CREATE-01 | three |\n";

// Made once per process, removed at exit; in /dev/shm when there is one (the
// target writes a few files per input).
const std::string& scratch() {
    // Never destroyed: the atexit handler below still needs it.
    static const std::string* dir = [] {
        std::error_code ec;
        const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        std::string t = (base / "gmem-fuzz-XXXXXX").string();
        FUZZ_CHECK(::mkdtemp(t.data()) != nullptr, "cannot make a scratch directory");
        auto* d = new std::string(t);
        std::atexit([] {
            std::error_code e;
            fs::remove_all(scratch(), e);
        });
        return d;
    }();
    return *dir;
}

void put(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    FUZZ_CHECK(static_cast<bool>(out), "cannot write %s", path.c_str());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto part = gmem::fuzz::parts(data, size, 3 + 2 * max_programs);
    const std::string& dir = scratch();
    std::vector<fs::path> old;
    for (const auto& e : fs::directory_iterator(dir)) old.push_back(e.path());
    for (const auto& p : old) fs::remove_all(p);
    const std::string ktap_dir = dir + "/ktap";
    fs::create_directory(ktap_dir);

    std::optional<std::string> probe, junit;
    if (!part[0].empty()) put(*(probe = dir + "/probe.json"), part[0]);
    if (part.size() > 2 && !part[2].empty()) put(*(junit = dir + "/junit.xml"), part[2]);
    for (std::size_t i = 3; i < part.size(); ++i) {
        if (part[i].empty()) continue;
        const std::string name = "p" + std::to_string((i - 3) / 2);
        put(ktap_dir + "/" + name + ((i - 3) % 2 == 0 ? ".ktap" : ".list"), part[i]);
    }
    auto spec = rep::parse_spec(part.size() > 1 ? part[1] : std::string_view{});
    if (!spec) spec = rep::parse_spec(fallback_spec);
    FUZZ_CHECK(spec.has_value(), "the built-in spec parses");

    auto run = rep::read_run(ktap_dir, junit, probe);
    FUZZ_CHECK(run.has_value(), "a readable directory is read: %s", run.error().message.c_str());
    rep::Meta meta;
    meta.date = "2026-01-01T00:00:00Z";
    meta.corpus_version = "fuzz";
    meta.probe_json = run->probe_json;
    meta.input_problems = run->left_out;
    const rep::Report report = rep::build_report(*spec, run->programs, meta);

    const std::string json = rep::to_json(report);
    auto back = rep::report_from_json(json);
    FUZZ_CHECK(back.has_value(), "the report's JSON reads back: %s", back.error().message.c_str());
    FUZZ_CHECK(rep::to_json(*back) == json, "the report's JSON reads back unchanged");
    FUZZ_CHECK(back->failed() == report.failed(), "the verdict survives the JSON");
    const std::string md = rep::to_markdown(report);
    FUZZ_CHECK(rep::to_terminal(*back) == rep::to_terminal(report), "show prints what build printed");
    (void)md;
    return 0;
}
