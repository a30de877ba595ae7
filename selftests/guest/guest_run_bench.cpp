// What one guest check pays: a VM + vCPU + long-mode setup (GuestVm), one
// payload run on an existing VM, and the whole thing together. Prints
// min / median / max in microseconds; asserts nothing about time (the
// numbers depend on the machine and its load). Exit 4 without /dev/kvm.
//
//   guest_run_bench [iterations]      (default 20, 1 .. 100000)
#include "gmem/guest/guest.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/kvm/features.hpp"
#include "gmem/kvm/gate.hpp"
#include "gmem/util/not_tested.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <sys/mman.h>
#include <vector>

using namespace gmem::guest;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

void report(const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-34s n=%-5zu min %9.1f us   median %9.1f us   max %9.1f us\n", what, v.size(),
                v.front(), v[v.size() / 2], v.back());
}

bool parse_count(const char* s, unsigned* out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 100000 || s[0] == '-') return false;
    *out = static_cast<unsigned>(v);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    unsigned n = 20;
    if (argc > 2 || (argc == 2 && !parse_count(argv[1], &n))) {
        std::fprintf(stderr, "usage: %s [iterations]   (1 .. 100000, default 20)\n", argv[0]);
        return 2;
    }
    // Without KVM: the words every tool says (TOOLS-06), exit 4.
    if (const std::string line = gmem::kvm::features().not_tested_line(); !line.empty()) {
        std::printf("%s\n%s\n", line.c_str(), gmem::util::not_tested_hint);
        return gmem::util::exit_not_tested;
    }
    if (auto why = gmem::kvm::Need().vm_type(gmem::uapi::kvm_x86_default_vm).missing()) {
        std::printf("SKIP: %s\n", why->c_str());
        return 4;
    }
    try {
        std::vector<double> create, run, total, run_page;
        for (unsigned i = 0; i < n; ++i) {
            const auto t0 = Clock::now();
            GuestVm g;
            create.push_back(us_since(t0));
            const auto t1 = Clock::now();
            const RunResult r = g.run(payload::echo, {1, 2, 3, 4, 5, 6});
            run.push_back(us_since(t1));
            total.push_back(us_since(t0));
            if (!r.ok()) {
                std::fprintf(stderr, "guest run failed: %s\n", r.describe().c_str());
                return 1;
            }
        }
        {
            GuestVm g;
            const std::uint64_t len = 16 << 10;
            gmem::Mapping buf(::mmap(nullptr, len, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                              len);
            if (buf.get() == MAP_FAILED) throw gmem::Error("mmap", gmem::Errno::last());
            g.map_memory(GMEM_GUEST_GMEM_GPA, buf.get(), len);
            (void)g.run(payload::fill_pattern, {GMEM_GUEST_GMEM_GPA, len, 7, 0}); // fault in
            for (unsigned i = 0; i < n; ++i) {
                const auto t0 = Clock::now();
                const RunResult r = g.run(payload::check_pattern, {GMEM_GUEST_GMEM_GPA, len, 7, 0});
                run_page.push_back(us_since(t0));
                if (!r.ok()) {
                    std::fprintf(stderr, "guest run failed: %s\n", r.describe().c_str());
                    return 1;
                }
            }
        }
        std::printf("# guest run cost, %u iterations each\n", n);
        report("GuestVm construction (VM+vCPU)", create);
        report("run(echo) incl. 2 SYNCs", run);
        report("construction + run(echo)", total);
        report("run(check_pattern) over 16 KiB", run_page);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
