// uring_bench: how fast io_uring moves bytes into and out of guest_memfd
// memory compared with a memfd mapping (plain and fixed buffers, and O_DIRECT
// where a filesystem takes it). Numbers only, never a verdict: the corpus does
// not assert timings.
//
//   uring_bench [-n requests] [-s KiB per request] [-t VM type]
#include "gmem/kvm/kvm.hpp"
#include "gmem/uring/ring.hpp"
#include "gmem/uring/scratch.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <getopt.h>
#include <string>
#include <unistd.h>

#ifndef GMEM_URING_SCRATCH_DIR
#define GMEM_URING_SCRATCH_DIR ""
#endif

namespace {

namespace uapi = gmem::uapi;
namespace uring = gmem::uring;

void usage(FILE* out, const char* prog) {
    std::fprintf(out,
                 "Usage: %s [-n requests] [-s KiB] [-t vm_type]\n"
                 "\t-n  requests per measurement, 1..1000000 (default 2000)\n"
                 "\t-s  bytes per request in KiB, 4..4096, a multiple of 4 (default 64)\n"
                 "\t-t  KVM VM type for the guest_memfd (default 0)\n",
                 prog);
}

bool parse_ul(const char* s, unsigned long lo, unsigned long hi, unsigned long* out) {
    if (!s || !*s || *s == '-') return false;
    char* end = nullptr;
    errno = 0;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

// Mean microseconds per request of `op` (one request, submitted and waited).
double per_request_us(unsigned long n, const std::function<gmem::Result<int>()>& op,
                      std::size_t len, std::string* err) {
    for (unsigned long i = 0; i < std::min(n, 50UL); ++i)
        (void)op(); // warm the caches
    const auto t0 = std::chrono::steady_clock::now();
    for (unsigned long i = 0; i < n; ++i) {
        const auto r = op();
        if (!r || static_cast<std::size_t>(*r) != len) {
            *err = "request answered " + uring::describe(r);
            return -1;
        }
    }
    const std::chrono::duration<double, std::micro> d = std::chrono::steady_clock::now() - t0;
    return d.count() / static_cast<double>(n);
}

void row(const char* what, const char* buffer, double us, std::size_t len, const std::string& err) {
    if (us < 0) {
        std::printf("%-28s %-12s %s\n", what, buffer, err.c_str());
        return;
    }
    const double mib_s = static_cast<double>(len) / us * 1e6 / (1024.0 * 1024.0);
    std::printf("%-28s %-12s %9.2f us/request %9.1f MiB/s\n", what, buffer, us, mib_s);
}

int run(unsigned long n, std::size_t len, unsigned long type) {
    auto ring = uring::Ring::create(8);
    auto target = gmem::must(uring::try_memfd("bench-target", len), "memfd_create");
    auto ctl = gmem::must(uring::try_memfd_buffer("bench-control", len, len), "memfd buffer");
    auto vm = gmem::kvm::Kvm::open().create_vm(type);
    auto gm = vm.create_guest_memfd(len, uapi::guest_memfd_flag_mmap |
                                             uapi::guest_memfd_flag_init_shared);
    auto map = gm.mmap(len);
    std::memset(ctl.map.data(), 1, len);
    std::memset(map.data(), 1, len);

    std::printf("%lu requests of %zu bytes each, VM type %lu\n", n, len, type);
    struct Buf {
        const char* name;
        std::span<std::uint8_t> bytes;
    } bufs[] = {{"memfd", ctl.map.bytes()}, {"guest_memfd", map.bytes()}};

    for (const Buf& b : bufs) {
        std::string err;
        const int fd = target.get();
        row("READ (buffered)", b.name,
            per_request_us(
                n, [&] { return ring.try_read(fd, b.bytes, 0); }, len, &err),
            len, err);
        row("WRITE (buffered)", b.name,
            per_request_us(
                n, [&] { return ring.try_write(fd, b.bytes, 0); }, len, &err),
            len, err);
        const iovec iov{b.bytes.data(), b.bytes.size()};
        const auto t0 = std::chrono::steady_clock::now();
        const auto reg = ring.try_register_buffers({&iov, 1});
        const std::chrono::duration<double, std::micro> reg_us =
            std::chrono::steady_clock::now() - t0;
        if (!reg) {
            std::printf("%-28s %-12s register: %s (%s)\n", "READ_FIXED", b.name,
                        reg.error().describe().c_str(), uring::memlock_report(len).c_str());
            continue;
        }
        std::printf("%-28s %-12s %9.2f us\n", "register_buffers", b.name, reg_us.count());
        row("READ_FIXED", b.name,
            per_request_us(
                n, [&] { return ring.try_read_fixed(fd, b.bytes, 0); }, len, &err),
            len, err);
        (void)ring.try_unregister_buffers();
    }

    auto found = uring::find_direct_file(uring::direct_dirs(GMEM_URING_SCRATCH_DIR));
    if (!found.file) {
        std::printf("O_DIRECT: no filesystem takes it: %s\n", found.why_not.c_str());
        return 0;
    }
    const int dfd = found.file->fd.get();
    if (::ftruncate(dfd, static_cast<off_t>(len)) != 0) {
        std::fprintf(stderr, "ftruncate: %s\n", gmem::Errno::last().describe().c_str());
        return 1;
    }
    std::printf("O_DIRECT file in %s (%s)\n", found.file->dir.c_str(), found.file->fs_type.c_str());
    for (const Buf& b : bufs) {
        std::string err;
        row("READ (O_DIRECT)", b.name,
            per_request_us(
                n, [&] { return ring.try_read(dfd, b.bytes, 0); }, len, &err),
            len, err);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    unsigned long n = 2000, kib = 64, type = 0;
    int opt;
    while ((opt = ::getopt(argc, argv, "hn:s:t:")) != -1) {
        switch (opt) {
        case 'n':
            if (!parse_ul(optarg, 1, 1000000, &n)) {
                std::fprintf(stderr, "%s: -n wants 1..1000000, got '%s'\n", argv[0], optarg);
                return 2;
            }
            break;
        case 's':
            if (!parse_ul(optarg, 4, 4096, &kib) || kib % 4 != 0) {
                std::fprintf(stderr, "%s: -s wants 4..4096 KiB in steps of 4, got '%s'\n", argv[0],
                             optarg);
                return 2;
            }
            break;
        case 't':
            if (!parse_ul(optarg, 0, 63, &type)) {
                std::fprintf(stderr, "%s: -t wants a VM type 0..63, got '%s'\n", argv[0], optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind != argc) {
        std::fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr, argv[0]);
        return 2;
    }
    try {
        return run(n, static_cast<std::size_t>(kib) * 1024, type);
    } catch (const gmem::Error& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
}
