// gmem-summary DIR: reads the KTAP files a corpus run left in DIR (one per
// program, <program>.ktap) and prints what a person wants first: per program
// passed/failed/skipped, every distinct skip reason, every failure with its
// first diagnostic. Exit 0 when nothing failed, 1 otherwise, 2 on bad usage.
#include "gmem/util/ktap.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Counts {
    unsigned pass = 0, fail = 0, skip = 0, xfail = 0;
};

std::string first_failure_line(const gmem::ktap::TestResult& t) {
    for (const auto& d : t.diagnostics) {
        if (d.starts_with(" RUN") || d.starts_with("ids:") || d.find("FAIL ") != std::string::npos)
            continue;
        return d;
    }
    return t.directive.empty() ? "(no diagnostic)" : t.directive + " " + t.directive_text;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::fprintf(argc == 2 ? stdout : stderr,
                     "Usage: %s KTAP_DIR\n"
                     "Summarises the <program>.ktap files in KTAP_DIR.\n"
                     "Exit: 0 nothing failed, 1 a test failed or a file is not valid KTAP.\n",
                     argv[0]);
        return argc == 2 ? 0 : 2;
    }
    const fs::path dir = argv[1];
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        std::fprintf(stderr, "%s: %s is not a directory\n", argv[0], dir.c_str());
        return 2;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".ktap") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::printf("No KTAP files in %s: nothing ran.\n", dir.c_str());
        return 1;
    }

    std::map<std::string, std::vector<std::string>> skip_reasons; // reason -> tests
    std::vector<std::string> failures;
    Counts total;
    bool bad = false;
    std::printf("%-32s %6s %6s %6s %6s\n", "program", "pass", "fail", "skip", "xfail");
    for (const auto& f : files) {
        std::ifstream in(f);
        std::stringstream ss;
        ss << in.rdbuf();
        const auto doc = gmem::ktap::parse(ss.str());
        const std::string prog = f.stem().string();
        Counts c;
        for (const auto& t : doc.tests) {
            if (t.directive == "SKIP") {
                ++c.skip;
                skip_reasons[t.directive_text].push_back(prog + ":" + t.name);
            } else if (t.directive == "XFAIL" && t.ok) {
                ++c.xfail;
            } else if (t.ok) {
                ++c.pass;
            } else {
                ++c.fail;
                failures.push_back(prog + ": " + t.name + ": " + first_failure_line(t));
            }
        }
        for (const auto& e : doc.errors) {
            failures.push_back(prog + ": output is not complete KTAP: " + e);
            bad = true;
        }
        std::printf("%-32s %6u %6u %6u %6u%s\n", prog.c_str(), c.pass, c.fail, c.skip, c.xfail,
                    doc.errors.empty() ? "" : "  (incomplete output)");
        total.pass += c.pass;
        total.fail += c.fail;
        total.skip += c.skip;
        total.xfail += c.xfail;
    }
    std::printf("%-32s %6u %6u %6u %6u\n", "total", total.pass, total.fail, total.skip,
                total.xfail);
    if (!skip_reasons.empty()) {
        std::printf("\nSkip reasons:\n");
        for (const auto& [reason, tests] : skip_reasons) {
            std::printf("  %4zu x %s\n", tests.size(), reason.c_str());
            std::printf("         e.g. %s\n", tests.front().c_str());
        }
    }
    if (!failures.empty()) {
        std::printf("\nFailures:\n");
        for (const auto& f : failures) std::printf("  %s\n", f.c_str());
    }
    std::printf("\n%u passed, %u failed, %u skipped\n", total.pass, total.fail, total.skip);
    return total.fail || bad ? 1 : 0;
}
