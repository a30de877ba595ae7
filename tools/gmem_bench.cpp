// gmem-bench: the numbers behind the case for guest_memfd and for in-place
// conversion, measured on the running kernel and printed as ratio tables
// (median and spread of paired rounds), never judged:
//
//   host        first touch, re-touch, punch-hole + refault per 4 KiB page of
//               guest_memfd (MMAP|INIT_SHARED) vs memfd vs anonymous memory
//   guest       guest code's first touch and steady-state access per page
//               through a guest_memfd slot vs a memfd slot vs an anonymous
//               slot, with KVM's per-vCPU exit counters per access
//   uring       io_uring requests (buffered, fixed buffers, O_DIRECT) with
//               guest_memfd vs memfd buffers (formerly uring_bench)
//   conversion  shared <-> private per 4 KiB page and per 2 MiB, in place
//               (KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd) vs legacy
//               (KVM_SET_MEMORY_ATTRIBUTES on the VM, punching the backing
//               not in use, refaulting on the other side)
//
// Output is KTAP (one "test" per section; a section the kernel cannot run is
// SKIPped with the probe's reason), the tables as diagnostic lines, so that
// ci/run-kernel can carry it back from a test kernel. Timings are never
// asserted: a section fails only when it could not measure (e.g. a guest run
// that did not finish).
//
//   gmem-bench [--quick | --full] [--rounds N] [--only SECTION,...] [--json FILE|-]
//   gmem-bench --compare A.json B.json
#include "gmem/guest/guest.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/kvm/features.hpp"
#include "gmem/kvm/gate.hpp"
#include "gmem/kvm/kvm.hpp"
#include "gmem/util/not_tested.hpp"
#include "gmem/uring/ring.hpp"
#include "gmem/uring/scratch.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#ifndef GMEM_URING_SCRATCH_DIR
#define GMEM_URING_SCRATCH_DIR ""
#endif

namespace {

namespace uapi = gmem::uapi;
namespace kvm = gmem::kvm;
namespace guest = gmem::guest;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t shared_flags =
    uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;
constexpr unsigned long default_vm = uapi::kvm_x86_default_vm;
constexpr unsigned long sw_vm = uapi::kvm_x86_sw_protected_vm;
constexpr std::uint64_t private_attr = uapi::kvm_memory_attribute_private;
constexpr std::uint64_t mib2 = 2ULL << 20;
const char* const json_marker = "# gmem-bench-json: ";

// ------------------------------------------------------------ output --
__attribute__((format(printf, 1, 2))) void diag(const char* fmt, ...) {
    std::fputs("# ", stdout);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stdout, fmt, ap);
    va_end(ap);
    std::fputc('\n', stdout);
}

__attribute__((format(printf, 1, 2))) std::string strf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

double ns_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

std::uint64_t page() { return gmem::page_size(); }

// ------------------------------------------------------------- stats --
struct Stats {
    std::size_t n = 0;
    double min = 0, q1 = 0, median = 0, q3 = 0, max = 0;
};

double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

Stats stats_of(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.n = v.size();
    s.min = v.front();
    s.max = v.back();
    s.q1 = quantile(v, 0.25);
    s.median = quantile(v, 0.5);
    s.q3 = quantile(v, 0.75);
    return s;
}

json stats_json(const Stats& s) {
    return {{"n", s.n}, {"min", s.min}, {"q1", s.q1}, {"median", s.median}, {"q3", s.q3},
            {"max", s.max}};
}

// What one run of gmem-bench found: rows of samples, ratios of paired
// samples, what it skipped and why.
struct Row {
    std::string section, metric, backing, unit;
    std::vector<double> samples;
    std::map<std::string, double> counters; // per access (guest) or per page
    std::string note;
};

struct Results {
    std::vector<Row> rows;
    json ratios = json::array();
    json skipped = json::array();
    json notes = json::array();
    json errors = json::array();

    Row& row(const std::string& section, const std::string& metric, const std::string& backing,
             const std::string& unit) {
        for (auto& r : rows)
            if (r.section == section && r.metric == metric && r.backing == backing) return r;
        rows.push_back({section, metric, backing, unit, {}, {}, {}});
        return rows.back();
    }
    const Row* find(const std::string& section, const std::string& metric,
                    const std::string& backing) const {
        for (const auto& r : rows)
            if (r.section == section && r.metric == metric && r.backing == backing) return &r;
        return nullptr;
    }
    void skip(const std::string& what, const std::string& why) {
        skipped.push_back({{"what", what}, {"why", why}});
        diag("skipped %s: %s", what.c_str(), why.c_str());
    }
    void note(const std::string& text) {
        notes.push_back(text);
        diag("note: %s", text.c_str());
    }
};

Results g_results;

// Prints the rows of one section as a table.
void print_rows(const std::string& section) {
    bool header = false;
    for (const auto& r : g_results.rows) {
        if (r.section != section || r.samples.empty()) continue;
        if (!header) {
            diag("  %-30s %-12s %-11s %11s %11s %11s %23s", "metric", "backing", "unit", "median",
                 "min", "max", "IQR");
            header = true;
        }
        const Stats s = stats_of(r.samples);
        diag("  %-30s %-12s %-11s %11.1f %11.1f %11.1f %11.1f..%-11.1f", r.metric.c_str(),
             r.backing.c_str(), r.unit.c_str(), s.median, s.min, s.max, s.q1, s.q3);
        if (!r.counters.empty()) {
            std::string c;
            for (const auto& [name, v] : r.counters) c += strf(" %s %.3g", name.c_str(), v);
            diag("  %-30s %-12s KVM vCPU stats per %s:%s", "", "",
                 r.unit == "us" ? "run" : r.unit == "ns/iter" ? "iteration" : "access", c.c_str());
        }
        if (!r.note.empty()) diag("  %-30s %-12s %s", "", "", r.note.c_str());
    }
}

// Ratio numerator/denominator of the paired samples (same round) of two rows.
void add_ratio(const std::string& section, const std::string& metric, const std::string& num,
               const std::string& den) {
    const Row* a = g_results.find(section, metric, num);
    const Row* b = g_results.find(section, metric, den);
    if (!a || !b || a->samples.empty() || b->samples.empty()) return;
    std::vector<double> r;
    const std::size_t n = std::min(a->samples.size(), b->samples.size());
    for (std::size_t i = 0; i < n; ++i)
        if (b->samples[i] > 0) r.push_back(a->samples[i] / b->samples[i]);
    if (r.empty()) return;
    const Stats s = stats_of(r);
    g_results.ratios.push_back({{"section", section},
                                {"metric", metric},
                                {"numerator", num},
                                {"denominator", den},
                                {"ratio", stats_json(s)}});
}

void print_ratios(const std::string& section) {
    bool header = false;
    for (const auto& r : g_results.ratios) {
        if (r["section"] != section) continue;
        if (!header) {
            diag("  ratios (median of per-round ratios, min..max):");
            header = true;
        }
        const std::string pair =
            r["numerator"].get<std::string>() + " / " + r["denominator"].get<std::string>();
        diag("  %-30s %-26s %8.2f   (%.2f..%.2f)", r["metric"].get<std::string>().c_str(),
             pair.c_str(), r["ratio"]["median"].get<double>(), r["ratio"]["min"].get<double>(),
             r["ratio"]["max"].get<double>());
    }
}

// ------------------------------------------------------ memory kinds --
// One region of `size` bytes of guest_memfd, memfd or anonymous memory,
// mapped read/write in this process.
struct Region {
    std::string kind; // "guest_memfd", "memfd", "anon"
    kvm::GuestMemfd gm;
    gmem::Fd fd;
    gmem::Mapping map;

    std::uint8_t* data() const { return map.data(); }
    std::size_t size() const { return map.size(); }

    // Frees the pages and keeps the mapping: a hole punched in the file, or
    // MADV_DONTNEED for anonymous memory (which has no file to punch).
    void discard() const {
        const int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        if (kind == "guest_memfd")
            gmem::must(gm.try_fallocate(mode, 0, static_cast<off_t>(size())),
                       "fallocate(PUNCH_HOLE) on the guest_memfd");
        else if (kind == "memfd")
            gmem::must(gmem::check_syscall(::fallocate(fd.get(), mode, 0,
                                                       static_cast<off_t>(size()))),
                       "fallocate(PUNCH_HOLE) on the memfd");
        else
            gmem::must(gmem::check_syscall(::madvise(map.get(), size(), MADV_DONTNEED)),
                       "madvise(MADV_DONTNEED)");
    }
};

Region make_region(const std::string& kind, std::size_t size, const kvm::Vm* vm) {
    Region r;
    r.kind = kind;
    if (kind == "guest_memfd") {
        r.gm = vm->create_guest_memfd(size, shared_flags);
        r.map = r.gm.mmap(size);
    } else if (kind == "memfd") {
        r.fd = gmem::must(gmem::uring::try_memfd("gmem-bench", size), "memfd_create");
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd.get(), 0);
        if (p == MAP_FAILED) throw gmem::Error("mmap of the memfd", gmem::Errno::last());
        r.map = gmem::Mapping(p, size);
    } else {
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw gmem::Error("mmap of anonymous memory", gmem::Errno::last());
        r.map = gmem::Mapping(p, size);
        // 4 KiB pages like the others (guest_memfd has no huge pages here).
        (void)::madvise(p, size, MADV_NOHUGEPAGE);
    }
    return r;
}

// One write (or read) of a byte per page: the page fault, not the copy.
void host_touch(std::uint8_t* p, std::size_t len, bool write) {
    const std::size_t ps = page();
    for (std::size_t off = 0; off < len; off += ps) {
        if (write)
            *reinterpret_cast<volatile std::uint8_t*>(p + off) = 1;
        else
            (void)*reinterpret_cast<volatile std::uint8_t*>(p + off);
    }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// ------------------------------------------------------------ config --
struct Config {
    bool quick = false;
    unsigned rounds = 0; // 0: the mode's default per section
    std::vector<std::string> only;
    std::string json_path;

    bool want(const std::string& section) const {
        return only.empty() || std::find(only.begin(), only.end(), section) != only.end();
    }
    unsigned rounds_or(unsigned quick_n, unsigned full_n) const {
        return rounds ? rounds : (quick ? quick_n : full_n);
    }
};

// The outcome of one section: ran, skipped (why), or failed (what).
struct Outcome {
    enum Kind { ok, skip, fail } kind = ok;
    std::string why;
};

// ------------------------------------------------------------- host --
Outcome bench_host(const Config& cfg) {
    const std::size_t pages = cfg.quick ? 512 : 16384;
    const std::size_t size = pages * page();
    const unsigned rounds = cfg.rounds_or(3, 9);
    std::vector<std::string> kinds;
    std::optional<kvm::Vm> vm;
    if (auto why = kvm::Need().gmem_flags(default_vm, shared_flags).missing()) {
        g_results.skip("host/guest_memfd", *why);
    } else {
        vm = kvm::Kvm::open().create_vm(default_vm);
        kinds.push_back("guest_memfd");
    }
    kinds.push_back("memfd");
    kinds.push_back("anon");
    diag("host: %zu pages of %zu bytes a round, %u rounds, one byte written per page",
         pages, static_cast<std::size_t>(page()), rounds);
    // Rounds interleave the kinds so that a drift of the machine hits all alike.
    for (unsigned r = 0; r < rounds; ++r) {
        for (const auto& kind : kinds) {
            Region reg = make_region(kind, size, vm ? &*vm : nullptr);
            const double dp = static_cast<double>(pages);
            auto t0 = Clock::now();
            host_touch(reg.data(), size, true);
            g_results.row("host", "first touch", kind, "ns/page").samples.push_back(ns_since(t0) / dp);
            t0 = Clock::now();
            host_touch(reg.data(), size, true);
            g_results.row("host", "re-touch", kind, "ns/page").samples.push_back(ns_since(t0) / dp);
            t0 = Clock::now();
            reg.discard();
            const double punch = ns_since(t0) / dp;
            t0 = Clock::now();
            host_touch(reg.data(), size, true);
            const double refault = ns_since(t0) / dp;
            g_results.row("host", "punch hole", kind, "ns/page").samples.push_back(punch);
            g_results.row("host", "refault after punch", kind, "ns/page").samples.push_back(refault);
            g_results.row("host", "punch + refault", kind, "ns/page")
                .samples.push_back(punch + refault);
        }
    }
    g_results.row("host", "punch hole", "anon", "ns/page").note =
        "anonymous memory: madvise(MADV_DONTNEED) (no file to punch); MADV_NOHUGEPAGE";
    for (const char* m : {"first touch", "re-touch", "punch hole", "refault after punch",
                          "punch + refault"}) {
        add_ratio("host", m, "guest_memfd", "memfd");
        add_ratio("host", m, "guest_memfd", "anon");
        add_ratio("host", m, "memfd", "anon");
    }
    print_rows("host");
    print_ratios("host");
    return {};
}

// ------------------------------------------------------- KVM stats --
// The binary statistics of a VM or vCPU fd (KVM_GET_STATS_FD, api.rst
// "KVM_GET_STATS_FD"): every single-valued counter, by name.
class KvmStats {
  public:
    static gmem::Result<KvmStats> open(int obj_fd) {
        const int fd = ::ioctl(obj_fd, uapi::ioctl::get_stats_fd, 0);
        if (fd < 0) return std::unexpected(gmem::Errno::last());
        KvmStats s;
        s.fd_ = gmem::Fd(fd);
        uapi::kvm_stats_header h{};
        if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
            return std::unexpected(gmem::Errno{EIO});
        const std::size_t stride = sizeof(uapi::kvm_stats_desc) + h.name_size;
        std::vector<char> buf(stride);
        std::size_t data_len = 0;
        for (std::uint32_t i = 0; i < h.num_desc; ++i) {
            const off_t off = static_cast<off_t>(h.desc_offset + std::uint64_t{i} * stride);
            if (::pread(fd, buf.data(), stride, off) != static_cast<ssize_t>(stride))
                return std::unexpected(gmem::Errno{EIO});
            uapi::kvm_stats_desc d{};
            std::memcpy(&d, buf.data(), sizeof d);
            data_len = std::max<std::size_t>(data_len, d.offset + d.size * 8ULL);
            if (d.size != 1) continue; // histograms
            const char* n = buf.data() + sizeof d;
            s.names_.emplace_back(n, ::strnlen(n, h.name_size));
            s.offsets_.push_back(d.offset);
        }
        s.data_offset_ = h.data_offset;
        s.data_len_ = data_len;
        return s;
    }
    std::map<std::string, std::uint64_t> snapshot() const {
        std::map<std::string, std::uint64_t> m;
        std::vector<std::uint8_t> data(data_len_);
        if (::pread(fd_.get(), data.data(), data.size(), data_offset_) !=
            static_cast<ssize_t>(data.size()))
            return m;
        for (std::size_t i = 0; i < names_.size(); ++i) {
            std::uint64_t v = 0;
            std::memcpy(&v, data.data() + offsets_[i], 8);
            m[names_[i]] = v;
        }
        return m;
    }

  private:
    gmem::Fd fd_;
    std::vector<std::string> names_;
    std::vector<std::uint32_t> offsets_;
    off_t data_offset_ = 0;
    std::size_t data_len_ = 0;
};

using Counters = std::map<std::string, std::uint64_t>;

Counters delta(const Counters& before, const Counters& after) {
    Counters d;
    for (const auto& [k, v] : after) {
        auto it = before.find(k);
        d[k] = v - (it == before.end() ? 0 : it->second);
    }
    return d;
}

// ------------------------------------------------------------ guest --
struct Timed {
    double ns = 0;
    guest::RunResult r;
    Counters counters;
};

class GuestBench {
  public:
    explicit GuestBench(unsigned long type) : g_(type) {
        if (auto s = KvmStats::open(g_.vcpu().fd()))
            stats_.emplace(std::move(*s));
        else
            stats_error_ = s.error();
    }
    guest::GuestVm& vm() { return g_; }
    const guest::GuestVm& vm() const { return g_; }
    bool has_stats() const { return stats_.has_value(); }
    gmem::Errno stats_error() const { return stats_error_; }

    Timed run(std::initializer_list<std::uint64_t> args) {
        Timed t;
        const Counters before = stats_ ? stats_->snapshot() : Counters{};
        const auto t0 = Clock::now();
        t.r = g_.run(guest::payload::touch_pages, args);
        t.ns = ns_since(t0);
        if (stats_) t.counters = delta(before, stats_->snapshot());
        return t;
    }

  private:
    guest::GuestVm g_;
    std::optional<KvmStats> stats_;
    gmem::Errno stats_error_{};
};

// Accumulates the counters of runs minus their baselines, per access.
struct CounterSum {
    std::map<std::string, double> sum;
    double accesses = 0;
    void add(const Counters& run, const Counters& base, double n) {
        for (const auto& [k, v] : run) {
            auto it = base.find(k);
            sum[k] += static_cast<double>(v) - static_cast<double>(it == base.end() ? 0 : it->second);
        }
        accesses += n;
    }
    std::map<std::string, double> per_access() const {
        std::map<std::string, double> m;
        if (accesses <= 0) return m;
        for (const auto& [k, v] : sum)
            if (v / accesses >= 0.005) m[k] = v / accesses; // below: noise of the subtraction
        return m;
    }
};

// How many passes (touch_pages' `rounds`, args[3]) make a run last about
// target_ns: grow until two runs in a row do (one run slowed down by the
// machine must not stop the growth early), at most `most`.
std::expected<std::uint64_t, guest::RunResult> calibrate(GuestBench& b,
                                                         std::array<std::uint64_t, 5> args,
                                                         double target_ns, std::uint64_t most) {
    std::uint64_t n = 1;
    for (;;) {
        double shortest = 0;
        for (int i = 0; i < 2; ++i) {
            const Timed t = b.run({args[0], args[1], args[2], n, args[4]});
            if (!t.r.ok()) return std::unexpected(t.r);
            shortest = i == 0 ? t.ns : std::min(shortest, t.ns);
            if (t.ns < target_ns) break;
        }
        if (shortest >= target_ns || n >= most) return n;
        const double grow = std::clamp(target_ns / std::max(shortest, 1.0), 2.0, 16.0);
        n = std::min(most, static_cast<std::uint64_t>(static_cast<double>(n) * grow) + 1);
    }
}

Outcome bench_guest(const Config& cfg) {
    if (auto why = kvm::Need().vm_type(default_vm).missing()) return {Outcome::skip, *why};
    const std::size_t pages = cfg.quick ? 64 : 512;
    const std::size_t size = pages * page();
    const std::size_t words_len = cfg.quick ? 4096 : 16384; // stride 8 (check_pattern's shape)
    // Steady-state runs repeat their pass until a run takes about this long,
    // so that the per-access figure stands above the run's fixed cost and
    // its jitter (a pass costs ms where KVM emulates each instruction, us
    // where the guest runs natively).
    const double target_ns = cfg.quick ? 3e6 : 20e6;
    const std::uint64_t max_passes = 1ULL << 16;
    std::map<std::string, std::uint64_t> passes; // per kind and "words", set in round 0
    const unsigned rounds = cfg.rounds_or(2, 7);
    // guest_memfd: a gmem-only slot (userspace_addr 0), reachable only
    // through the binding; gmem+mmap: the same with the file's own mmap as
    // userspace_addr, as QEMU and the kernel's selftests bind it (a correct
    // KVM serves both from the file); memfd and anon: ordinary slots.
    std::vector<std::string> kinds;
    if (auto why = kvm::Need().gmem_flags(default_vm, shared_flags).missing()) {
        g_results.skip("guest/guest_memfd", *why);
    } else {
        kinds.push_back("guest_memfd");
        kinds.push_back("gmem+mmap");
    }
    kinds.push_back("memfd");
    kinds.push_back("anon");

    GuestBench b(default_vm);
    diag("guest: %zu pages a slot, one 8-byte access per page; words = every 8 bytes of "
         "%zu KiB; steady state: passes until a run takes about %.0f ms; %u rounds; times "
         "minus an empty run on the same slot",
         pages, words_len / 1024, target_ns / 1e6, rounds);
    diag("guest: vCPU setup: %s", b.vm().cpuid_note().c_str());
    if (!b.has_stats())
        g_results.skip("guest/exit counters",
                       "KVM_GET_STATS_FD on the vCPU: " + b.stats_error().describe());

    std::map<std::string, CounterSum> sums; // "metric|kind"
    std::vector<std::string> broken;        // kinds whose first run did not finish
    auto fail = [](const std::string& what, const guest::RunResult& r) {
        return Outcome{Outcome::fail, what + ": " + r.describe()};
    };
    for (unsigned round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            const std::string& kind = kinds[k];
            if (std::find(broken.begin(), broken.end(), kind) != broken.end()) continue;
            const std::uint64_t gpa = GMEM_GUEST_GMEM_GPA + (std::uint64_t{k} << 30);
            Region reg;
            std::uint32_t slot = 0;
            if (kind == "guest_memfd" || kind == "gmem+mmap") {
                reg.kind = kind;
                reg.gm = b.vm().vm().create_guest_memfd(size, shared_flags);
                std::uint64_t uaddr = 0;
                if (kind == "gmem+mmap") {
                    reg.map = reg.gm.mmap(size);
                    uaddr = reinterpret_cast<std::uint64_t>(reg.map.get());
                }
                slot = b.vm().map_gmem(reg.gm, gpa, 0, size, uaddr);
            } else {
                reg = make_region(kind, size, nullptr);
                slot = b.vm().map_memory(gpa, reg.data(), size);
            }
            // An empty run on this slot: the fixed cost (entry, DONE exit).
            const Timed base = b.run({gpa, size, page(), 0, 0});
            if (!base.r.ok()) return fail("empty run", base.r);
            auto record = [&](const char* metric, const Timed& t, double accesses) {
                Row& row = g_results.row("guest", metric, kind, "ns/access");
                // Below the run's jitter this may come out negative: kept
                // as measured rather than clipped.
                row.samples.push_back((t.ns - base.ns) / accesses);
                sums[std::string(metric) + "|" + kind].add(t.counters, base.counters, accesses);
            };
            const double dp = static_cast<double>(pages);
            const Timed first = b.run({gpa, size, page(), 1, 1});
            if (!first.r.ok() && kind != "memfd" && kind != "anon" && round == 0) {
                // A KVM that does not map this guest_memfd into the guest
                // (e.g. the PVM module behind the GUEST-01..03 failures, which
                // serves gmem faults from userspace_addr): no numbers for
                // it, the others still run.
                g_results.skip("guest/" + kind,
                               "the guest's first access did not complete: " + first.r.describe());
                b.vm().unmap(slot);
                broken.push_back(kind);
                continue;
            }
            if (!first.r.ok()) return fail(kind + " first touch", first.r);
            record("first touch (write)", first, dp);
            if (!passes.count(kind)) {
                auto np = calibrate(b, {gpa, size, page(), 0, 0}, target_ns, max_passes);
                auto nw = calibrate(b, {gpa, words_len, 8, 0, 0}, target_ns, max_passes);
                if (!np) return fail(kind + " calibration", np.error());
                if (!nw) return fail(kind + " calibration", nw.error());
                passes[kind] = *np;
                passes[kind + "|words"] = *nw;
            }
            const std::uint64_t np = passes[kind], nw = passes[kind + "|words"];
            const Timed rd = b.run({gpa, size, page(), np, 0});
            if (!rd.r.ok()) return fail(kind + " steady read", rd.r);
            record("steady read, 1/page", rd, dp * static_cast<double>(np));
            const Timed wr = b.run({gpa, size, page(), np, 1});
            if (!wr.r.ok()) return fail(kind + " steady write", wr.r);
            record("steady write, 1/page", wr, dp * static_cast<double>(np));
            const Timed words = b.run({gpa, words_len, 8, nw, 0});
            if (!words.r.ok()) return fail(kind + " words", words.r);
            record("steady read, every word", words,
                   static_cast<double>(words_len / 8 * nw));
            b.vm().unmap(slot);
        }
        // The guest's own speed: a register-only loop of as many iterations.
        const Timed base = b.run({GMEM_GUEST_GMEM_GPA, 0, 8, 0, 3});
        if (!passes.count("spin")) {
            auto n = calibrate(b, {GMEM_GUEST_GMEM_GPA, words_len, 8, 0, 3}, target_ns, max_passes);
            if (!n) return fail("compute loop calibration", n.error());
            passes["spin"] = *n;
        }
        const Timed spin = b.run({GMEM_GUEST_GMEM_GPA, words_len, 8, passes["spin"], 3});
        if (!spin.r.ok()) return fail("compute loop", spin.r);
        const double iters = static_cast<double>(words_len / 8 * passes["spin"]);
        g_results.row("guest", "register loop, no memory", "-", "ns/iter")
            .samples.push_back((spin.ns - base.ns) / iters);
        sums["register loop, no memory|-"].add(spin.counters, base.counters, iters);
        g_results.row("guest", "empty run (1 exit)", "-", "us").samples.push_back(base.ns / 1000);
        sums["empty run (1 exit)|-"].add(base.counters, {}, 1);
    }
    {
        std::string p;
        for (const auto& [k, v] : passes)
            p += strf(" %s %llu", k.c_str(), static_cast<unsigned long long>(v));
        diag("guest: passes a run:%s", p.c_str());
    }
    for (auto& row : g_results.rows) {
        if (row.section != "guest") continue;
        auto it = sums.find(row.metric + "|" + row.backing);
        if (it != sums.end()) row.counters = it->second.per_access();
    }
    for (const char* m : {"first touch (write)", "steady read, 1/page", "steady write, 1/page",
                          "steady read, every word"}) {
        for (const char* gm : {"guest_memfd", "gmem+mmap"}) {
            add_ratio("guest", m, gm, "memfd");
            add_ratio("guest", m, gm, "anon");
        }
        add_ratio("guest", m, "memfd", "anon");
    }
    print_rows("guest");
    print_ratios("guest");
    return {};
}

// ------------------------------------------------------------ uring --
Outcome bench_uring(const Config& cfg) {
    if (auto why = kvm::Need().io_uring().missing()) return {Outcome::skip, *why};
    const std::size_t len = 64 * 1024;
    const unsigned per_sample = cfg.quick ? 20 : 200;
    const unsigned rounds = cfg.rounds_or(3, 9);
    std::optional<kvm::Vm> vm;
    std::vector<Region> bufs;
    if (auto why = kvm::Need().gmem_flags(default_vm, shared_flags).missing()) {
        g_results.skip("uring/guest_memfd", *why);
    } else {
        vm = kvm::Kvm::open().create_vm(default_vm);
        bufs.push_back(make_region("guest_memfd", len, &*vm));
    }
    bufs.push_back(make_region("memfd", len, nullptr));
    bufs.push_back(make_region("anon", len, nullptr));
    for (auto& b : bufs) std::memset(b.data(), 1, len);

    auto ring = gmem::uring::Ring::create(8);
    auto target = gmem::must(gmem::uring::try_memfd("gmem-bench-target", len), "memfd_create");
    auto found = gmem::uring::find_direct_file(gmem::uring::direct_dirs(GMEM_URING_SCRATCH_DIR));
    if (found.file) {
        if (::ftruncate(found.file->fd.get(), static_cast<off_t>(len)) != 0)
            found.file.reset();
    }
    if (!found.file)
        g_results.skip("uring/O_DIRECT", "no filesystem takes O_DIRECT: " + found.why_not);
    diag("uring: requests of %zu KiB, one at a time (submit + wait), %u per sample, %u rounds;"
         " target: a memfd%s",
         len / 1024, per_sample, rounds,
         found.file ? (", O_DIRECT file on " + found.file->fs_type).c_str() : "");

    using Op = std::function<gmem::Result<int>()>;
    std::map<std::string, std::string> failed; // metric|kind -> why
    auto sample = [&](const std::string& metric, const std::string& kind, const Op& op) {
        if (failed.count(metric + "|" + kind)) return;
        for (unsigned i = 0; i < std::min(per_sample, 10U); ++i) (void)op(); // warm
        const auto t0 = Clock::now();
        for (unsigned i = 0; i < per_sample; ++i) {
            const auto r = op();
            if (!r || static_cast<std::size_t>(*r) != len) {
                failed[metric + "|" + kind] = "request answered " + gmem::uring::describe(r);
                return;
            }
        }
        g_results.row("uring", metric, kind, "us/request")
            .samples.push_back(ns_since(t0) / 1000.0 / per_sample);
    };
    const int tfd = target.get();
    for (unsigned round = 0; round < rounds; ++round) {
        for (auto& b : bufs) {
            const std::span<std::uint8_t> bytes{b.data(), len};
            sample("READ (buffered)", b.kind, [&] { return ring.try_read(tfd, bytes, 0); });
            sample("WRITE (buffered)", b.kind, [&] { return ring.try_write(tfd, bytes, 0); });
            if (found.file) {
                const int dfd = found.file->fd.get();
                sample("READ (O_DIRECT)", b.kind, [&] { return ring.try_read(dfd, bytes, 0); });
                sample("WRITE (O_DIRECT)", b.kind, [&] { return ring.try_write(dfd, bytes, 0); });
            }
            if (failed.count("READ_FIXED|" + b.kind)) continue;
            const iovec iov{b.data(), len};
            const auto t0 = Clock::now();
            const auto reg = ring.try_register_buffers({&iov, 1});
            const double reg_us = ns_since(t0) / 1000.0;
            if (!reg) {
                failed["READ_FIXED|" + b.kind] = "register_buffers: " + reg.error().describe() +
                                                 " (" + gmem::uring::memlock_report(len) + ")";
                continue;
            }
            g_results.row("uring", "register_buffers", b.kind, "us").samples.push_back(reg_us);
            sample("READ_FIXED", b.kind, [&] { return ring.try_read_fixed(tfd, bytes, 0); });
            (void)ring.try_unregister_buffers();
        }
    }
    for (const auto& [what, why] : failed) g_results.skip("uring/" + what, why);
    for (const char* m : {"READ (buffered)", "WRITE (buffered)", "READ (O_DIRECT)",
                          "WRITE (O_DIRECT)", "register_buffers", "READ_FIXED"}) {
        add_ratio("uring", m, "guest_memfd", "memfd");
        add_ratio("uring", m, "guest_memfd", "anon");
    }
    print_rows("uring");
    print_ratios("uring");
    return {};
}

// ------------------------------------------------------- conversion --
// One model's conversion setup on a KVM_X86_SW_PROTECTED_VM with `size`
// bytes at GPA 4 GiB.
//   in-place: one guest_memfd (MMAP|INIT_SHARED), bound with its own mmap as
//     userspace_addr (as the series' selftests do); shared <-> private with
//     KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd: the pages stay.
//   legacy: a guest_memfd (flags 0) for private pages and a memfd for shared
//     ones (userspace_addr), as QEMU's legacy model: KVM_SET_MEMORY_ATTRIBUTES
//     on the VM flips which one the guest sees, and the side not in use is
//     punched so that memory is not held twice (QEMU's
//     ram_block_discard_range on conversion).
struct ConvSetup {
    bool in_place;
    std::size_t size;
    GuestBench b{sw_vm};
    kvm::GuestMemfd gm;
    gmem::Fd memfd;
    gmem::Mapping shared; // the host's view of shared memory
    std::uint64_t gpa = GMEM_GUEST_GMEM_GPA;

    ConvSetup(bool inplace, std::size_t sz) : in_place(inplace), size(sz) {
        if (in_place) {
            gm = b.vm().vm().create_guest_memfd(size, shared_flags);
            shared = gm.mmap(size);
        } else {
            gm = b.vm().vm().create_guest_memfd(size, 0);
            memfd = gmem::must(gmem::uring::try_memfd("gmem-bench-shared", size), "memfd_create");
            void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
            if (p == MAP_FAILED) throw gmem::Error("mmap of the memfd", gmem::Errno::last());
            shared = gmem::Mapping(p, size);
        }
        b.vm().map_gmem(gm, gpa, 0, size, reinterpret_cast<std::uint64_t>(shared.get()));
    }
    // [off, off + len) of the guest_memfd (= of the slot) to private or shared.
    gmem::Result<void> set(std::uint64_t off, std::uint64_t len, bool to_private) const {
        const std::uint64_t a = to_private ? private_attr : 0;
        return in_place ? gm.try_set_attributes(off, len, a)
                        : b.vm().vm().try_set_memory_attributes(gpa + off, len, a);
    }
    // Legacy only: punches [off, off + len) of the backing the guest no longer
    // uses (the memfd once private, the guest_memfd once shared).
    gmem::Result<void> discard(std::uint64_t off, std::uint64_t len, bool now_private) const {
        const int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        if (!now_private)
            return gm.try_fallocate(mode, static_cast<off_t>(off), static_cast<off_t>(len));
        if (::fallocate(memfd.get(), mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0)
            return std::unexpected(gmem::Errno::last());
        return {};
    }
};

// Reads then writes one word per page of the shared view; returns the sum read.
std::uint64_t host_read_write(std::uint8_t* p, std::size_t len, std::uint64_t value) {
    std::uint64_t sum = 0;
    for (std::size_t off = 0; off < len; off += page()) {
        auto* w = reinterpret_cast<volatile std::uint64_t*>(p + off);
        sum += *w;
        *w = value;
    }
    return sum;
}

std::string conv_model(bool in_place) { return in_place ? "in-place" : "legacy"; }

// Why this kernel cannot run a conversion model; nullopt when it can.
std::optional<std::string> conv_missing(bool in_place) {
    if (in_place) {
        if (auto why = kvm::Need().in_place_conversion(sw_vm).missing()) return why;
        const auto* t = kvm::features().vm_type(sw_vm);
        const long attrs = t->caps.guest_memfd_memory_attributes.value_or(0);
        if (!(static_cast<std::uint64_t>(attrs) & private_attr))
            return strf("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (number %ld) on %s is %#lx, "
                        "without PRIVATE",
                        kvm::features().gmem_attr_cap_nr, kvm::vm_type_name(sw_vm).c_str(), attrs);
        return kvm::Need().gmem_flags(sw_vm, shared_flags).missing();
    }
    return kvm::Need().guest_memfd(sw_vm).memory_attributes(sw_vm, private_attr).missing();
}

Outcome bench_conversion(const Config& cfg, bool in_place) {
    if (auto why = conv_missing(in_place)) return {Outcome::skip, *why};
    const std::string model = conv_model(in_place);
    diag("conversion (%s): KVM_X86_SW_PROTECTED_VM; a cycle = to private (%s), %sguest "
         "touches each page (read + write), to shared, %shost touches each page (read + write)",
         model.c_str(),
         in_place ? "KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd"
                  : "KVM_SET_MEMORY_ATTRIBUTES on the VM",
         in_place ? "" : "punch the memfd, ", in_place ? "" : "punch the guest_memfd, ");
    // "4 KiB": many single pages, one ioctl (and, legacy, one punch) each, as
    // a guest that converts page by page; "2 MiB": one ioctl over 512 pages.
    // Figures are per range (per 4 KiB page, per 2 MiB), guest and host
    // touches included, the guest's run cost (an empty run) subtracted.
    struct Size {
        const char* name;
        std::uint64_t range_pages;
        unsigned ranges_quick, ranges_full, quick_n, full_n;
    };
    const Size sizes[] = {{"4 KiB", 1, 16, 64, 3, 15}, {"2 MiB", 512, 1, 1, 2, 10}};
    std::optional<bool> data_kept;
    for (const Size& sz : sizes) {
        const unsigned n = cfg.rounds_or(sz.quick_n, sz.full_n);
        const std::uint64_t ranges = cfg.quick ? sz.ranges_quick : sz.ranges_full;
        const std::uint64_t range_len = sz.range_pages * page();
        const std::uint64_t len = ranges * range_len;
        const std::uint64_t pages = len / page();
        ConvSetup c(in_place, len);
        const std::string size_key = sz.name;
        auto rec = [&](const char* metric, double ns) {
            g_results.row("conversion", size_key + " " + metric, model, "us/range")
                .samples.push_back(ns / 1000.0 / static_cast<double>(ranges));
        };
        // Start: shared, every page written by the host.
        host_read_write(c.shared.data(), len, 1);
        for (unsigned i = 0; i < n; ++i) {
            const std::uint64_t tag = i + 2;
            const Timed base = c.b.run({c.gpa, len, page(), 0, 2});
            if (!base.r.ok()) return {Outcome::fail, "empty run: " + base.r.describe()};
            auto each_range = [&](const char* what, auto&& op) -> std::optional<Outcome> {
                for (std::uint64_t r = 0; r < ranges; ++r) {
                    if (auto res = op(r * range_len); !res)
                        return Outcome{Outcome::fail, strf("%s at offset %#llx: %s", what,
                                                           static_cast<unsigned long long>(
                                                               r * range_len),
                                                           res.error().describe().c_str())};
                }
                return std::nullopt;
            };
            auto t0 = Clock::now();
            if (auto f = each_range("to private",
                                    [&](std::uint64_t off) { return c.set(off, range_len, true); }))
                return *f;
            const double to_priv = ns_since(t0);
            double discard = 0;
            if (!in_place) {
                t0 = Clock::now();
                if (auto f = each_range("punching the memfd", [&](std::uint64_t off) {
                        return c.discard(off, range_len, true);
                    }))
                    return *f;
                discard += ns_since(t0);
            }
            const Timed touch = c.b.run({c.gpa, len, page(), 1, 2});
            if (!touch.r.ok()) return {Outcome::fail, "guest touch: " + touch.r.describe()};
            const double guest_ns = touch.ns - base.ns;
            // The guest read what the host wrote (in place: the data stays)
            // or zeros (legacy: a fresh private page).
            if (!data_kept) data_kept = touch.r.ret == pages * (tag - 1);
            t0 = Clock::now();
            if (auto f = each_range("to shared",
                                    [&](std::uint64_t off) { return c.set(off, range_len, false); }))
                return *f;
            const double to_shared = ns_since(t0);
            if (!in_place) {
                t0 = Clock::now();
                if (auto f = each_range("punching the guest_memfd", [&](std::uint64_t off) {
                        return c.discard(off, range_len, false);
                    }))
                    return *f;
                discard += ns_since(t0);
            }
            t0 = Clock::now();
            (void)host_read_write(c.shared.data(), len, tag);
            const double host_ns = ns_since(t0);
            rec("to private (ioctl)", to_priv);
            rec("to shared (ioctl)", to_shared);
            rec("both ioctls", to_priv + to_shared);
            rec("discard (punch)", discard);
            rec("guest refault (private)", guest_ns);
            rec("host refault (shared)", host_ns);
            rec("round trip", to_priv + discard + guest_ns + to_shared + host_ns);
        }
        diag("conversion (%s): %s: %llu range(s) of %llu page(s) a cycle, %u cycles",
             model.c_str(), sz.name, static_cast<unsigned long long>(ranges),
             static_cast<unsigned long long>(sz.range_pages), n);
    }
    g_results.note(strf("conversion (%s): after going private the guest read %s", model.c_str(),
                        data_kept.value_or(false) ? "the host's data (the page was kept)"
                                                  : "zeros (a fresh page)"));
    print_rows("conversion");
    return {};
}

// In-place / legacy for rows that both models produced (in one run, or, with
// --compare, across runs: the series runs one model per boot).
void conversion_ratio_table(const std::vector<Row>& rows, json* out) {
    std::map<std::string, std::pair<const Row*, const Row*>> by_metric;
    for (const auto& r : rows) {
        if (r.section != "conversion" || r.samples.empty()) continue;
        auto& p = by_metric[r.metric];
        (r.backing == "in-place" ? p.first : p.second) = &r;
    }
    bool header = false;
    for (const auto& [metric, p] : by_metric) {
        if (!p.first || !p.second) continue;
        if (!header) {
            diag("conversion: in-place vs legacy (medians; per page = per 4 KiB page)");
            diag("  %-34s %12s %12s %10s %14s %14s", "metric (us per range)", "in-place",
                 "legacy", "ratio", "in-place/page", "legacy/page");
            header = true;
        }
        const Stats a = stats_of(p.first->samples), b = stats_of(p.second->samples);
        const double pages =
            metric.starts_with("2 MiB") ? static_cast<double>(mib2 / page()) : 1.0;
        const double ratio = b.median > 0 ? a.median / b.median : 0;
        diag("  %-34s %12.2f %12.2f %10.3f %14.3f %14.3f", metric.c_str(), a.median, b.median,
             ratio, a.median / pages, b.median / pages);
        if (out)
            out->push_back({{"section", "conversion"},
                            {"metric", metric},
                            {"numerator", "in-place"},
                            {"denominator", "legacy"},
                            {"ratio_of_medians", ratio},
                            {"in_place_median_us", a.median},
                            {"legacy_median_us", b.median},
                            {"in_place_min_us", a.min},
                            {"in_place_max_us", a.max},
                            {"legacy_min_us", b.min},
                            {"legacy_max_us", b.max}});
    }
    if (!header)
        diag("conversion: no in-place vs legacy ratio in this run (each boot of the series runs "
             "one model): gmem-bench --compare LEGACY.json IN_PLACE.json");
}

// ------------------------------------------------------------- JSON --
json row_json(const Row& r) {
    json j = {{"section", r.section}, {"metric", r.metric}, {"backing", r.backing},
              {"unit", r.unit},       {"stats", stats_json(stats_of(r.samples))},
              {"samples", r.samples}};
    if (!r.counters.empty()) j["counters_per_access"] = r.counters;
    if (!r.note.empty()) j["note"] = r.note;
    return j;
}

std::optional<Row> row_from_json(const json& j) {
    if (!j.is_object() || !j.contains("samples")) return std::nullopt;
    Row r;
    r.section = j.value("section", "");
    r.metric = j.value("metric", "");
    r.backing = j.value("backing", "");
    r.unit = j.value("unit", "");
    for (const auto& s : j["samples"]) r.samples.push_back(s.get<double>());
    return r;
}

// A JSON file, or a log with the JSON on a "# gmem-bench-json: " line (what
// ci/run-kernel brings back from a test kernel).
std::optional<json> load_json(const std::string& path, std::string* err) {
    std::ifstream in(path);
    if (!in) {
        *err = path + ": " + gmem::Errno::last().describe();
        return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::string body = text;
    if (auto pos = text.find(json_marker); pos != std::string::npos) {
        const auto start = pos + std::strlen(json_marker);
        body = text.substr(start, text.find('\n', start) - start);
    }
    try {
        return json::parse(body);
    } catch (const std::exception& e) {
        *err = path + ": not gmem-bench JSON (" + first_line(e.what()) + ")";
        return std::nullopt;
    }
}

int compare(const std::string& a_path, const std::string& b_path) {
    std::string err;
    auto a = load_json(a_path, &err);
    auto b = a ? load_json(b_path, &err) : std::nullopt;
    if (!a || !b) {
        std::fprintf(stderr, "gmem-bench --compare: %s\n", err.c_str());
        return 2;
    }
    std::printf("A: %s  kernel %s  %s\n", a_path.c_str(), a->value("kernel", "?").c_str(),
                a->value("mode", "?").c_str());
    std::printf("B: %s  kernel %s  %s\n", b_path.c_str(), b->value("kernel", "?").c_str(),
                b->value("mode", "?").c_str());
    std::vector<Row> ra, rb;
    for (const auto& j : (*a)["rows"])
        if (auto r = row_from_json(j)) ra.push_back(std::move(*r));
    for (const auto& j : (*b)["rows"])
        if (auto r = row_from_json(j)) rb.push_back(std::move(*r));
    std::printf("%-12s %-34s %-12s %-11s %12s %12s %8s\n", "section", "metric", "backing", "unit",
                "A median", "B median", "B/A");
    for (const auto& x : ra) {
        for (const auto& y : rb) {
            if (x.section != y.section || x.metric != y.metric || x.backing != y.backing) continue;
            const Stats sa = stats_of(x.samples), sb = stats_of(y.samples);
            std::printf("%-12s %-34s %-12s %-11s %12.2f %12.2f %8.3f\n", x.section.c_str(),
                        x.metric.c_str(), x.backing.c_str(), x.unit.c_str(), sa.median, sb.median,
                        sa.median > 0 ? sb.median / sa.median : 0.0);
        }
    }
    std::vector<Row> both = ra;
    both.insert(both.end(), rb.begin(), rb.end());
    std::fflush(stdout);
    conversion_ratio_table(both, nullptr);
    return 0;
}

// ------------------------------------------------------------- main --
void usage(FILE* out, const char* prog) {
    std::fprintf(out,
                 "Usage: %s [--quick | --full] [--rounds N] [--only SECTION,...] [--json FILE|-]\n"
                 "       %s --compare A.json B.json\n"
                 "Measures guest_memfd against memfd and anonymous memory and in-place against\n"
                 "legacy conversion on the running kernel; prints KTAP with the tables as\n"
                 "diagnostics. Never judges a timing.\n"
                 "  --quick        a few seconds: proves every section works (the numbers are\n"
                 "                 rough); --full (default) measures properly; the last wins\n"
                 "  --rounds N     rounds per measurement (1..1000) instead of the mode's\n"
                 "  --only LIST    sections: host, guest, uring, conversion (comma-separated)\n"
                 "  --json FILE    write the results as JSON; '-' prints them on one line\n"
                 "                 starting '%s' (for logs from test kernels)\n"
                 "  --compare A B  medians of A and B side by side (B/A), and in-place vs legacy\n"
                 "                 conversion from the two (JSON files or such logs)\n"
                 "Exit: 0 measured (skips allowed), 1 a section could not measure, 2 usage,\n"
                 "4 every section skipped, or KVM cannot be used (\"NOT TESTED: KVM cannot be\n"
                 "used: <why>\", as gmem-probe and ci/conformance say it).\n",
                 prog, prog, json_marker);
}

bool parse_args(int argc, char** argv, Config* cfg, std::vector<std::string>* compare_files) {
    const char* sections[] = {"host", "guest", "uring", "conversion"};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](std::string* out) {
            if (i + 1 >= argc) return false;
            *out = argv[++i];
            return true;
        };
        std::string v;
        if (a == "--quick") {
            cfg->quick = true;
        } else if (a == "--full") {
            cfg->quick = false;
        } else if (a == "--rounds") {
            if (!value(&v)) return false;
            char* end = nullptr;
            errno = 0;
            const unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (errno || end == v.c_str() || *end || v[0] == '-' || n < 1 || n > 1000) {
                std::fprintf(stderr, "%s: --rounds wants 1..1000, got '%s'\n", argv[0], v.c_str());
                return false;
            }
            cfg->rounds = static_cast<unsigned>(n);
        } else if (a == "--only") {
            if (!value(&v)) return false;
            std::stringstream ss(v);
            std::string s;
            while (std::getline(ss, s, ',')) {
                if (std::find(std::begin(sections), std::end(sections), s) == std::end(sections)) {
                    std::fprintf(stderr, "%s: unknown section '%s'\n", argv[0], s.c_str());
                    return false;
                }
                cfg->only.push_back(s);
            }
            if (cfg->only.empty()) return false;
        } else if (a == "--json") {
            if (!value(&cfg->json_path) || cfg->json_path.empty()) return false;
        } else if (a == "--compare") {
            if (i + 2 >= argc) return false;
            compare_files->push_back(argv[++i]);
            compare_files->push_back(argv[++i]);
        } else {
            std::fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], a.c_str());
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    Config cfg;
    std::vector<std::string> compare_files;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
            usage(stdout, argv[0]);
            return 0;
        }
    }
    if (!parse_args(argc, argv, &cfg, &compare_files)) {
        usage(stderr, argv[0]);
        return 2;
    }
    if (!compare_files.empty()) {
        if (argc != 4) {
            usage(stderr, argv[0]);
            return 2;
        }
        return compare(compare_files[0], compare_files[1]);
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    const kvm::Features& f = kvm::features();
    struct Section {
        const char* name;
        const char* group;
        std::function<Outcome()> run;
    };
    const std::vector<Section> all = {
        {"host", "host", [&] { return bench_host(cfg); }},
        {"guest", "guest", [&] { return bench_guest(cfg); }},
        {"uring", "uring", [&] { return bench_uring(cfg); }},
        {"conversion.in_place", "conversion", [&] { return bench_conversion(cfg, true); }},
        {"conversion.legacy", "conversion", [&] { return bench_conversion(cfg, false); }},
    };
    std::vector<const Section*> selected;
    for (const auto& s : all)
        if (cfg.want(s.group)) selected.push_back(&s);

    std::printf("KTAP version 1\n1..%zu\n", selected.size());
    diag("gmem-bench: kernel %s, %s mode, %ld CPUs, page %zu bytes", f.kernel_release.c_str(),
         cfg.quick ? "quick" : "full", ::sysconf(_SC_NPROCESSORS_ONLN),
         static_cast<std::size_t>(page()));
    // Without KVM only the memfd/anonymous halves could be timed: nothing of
    // guest_memfd is measured, and the run says so the way every tool does
    // (TOOLS-06) and ends with exit 4, never as a pass.
    const std::string not_tested = f.not_tested_line();
    if (!not_tested.empty()) diag("%s", not_tested.c_str());
    diag("THP: %s; in-place conversion parameter: %s", f.thp_enabled.empty() ? "none" : f.thp_enabled.c_str(),
         f.param_gmem_in_place_conversion.value_or("absent").c_str());
    diag("timings are medians of rounds; ratios are medians of per-round ratios. Nothing here "
         "is a verdict.");

    unsigned n = 0, pass = 0, fail = 0, skip = 0;
    json sections = json::object();
    for (const Section* s : selected) {
        ++n;
        Outcome o;
        const auto t0 = Clock::now();
        try {
            o = s->run();
        } catch (const std::exception& e) {
            o = {Outcome::fail, first_line(e.what())};
        }
        const double secs = ns_since(t0) / 1e9;
        diag("%s took %.2f s", s->name, secs);
        switch (o.kind) {
        case Outcome::ok:
            ++pass;
            std::printf("ok %u %s\n", n, s->name);
            sections[s->name] = {{"status", "ok"}, {"seconds", secs}};
            break;
        case Outcome::skip:
            ++skip;
            std::printf("ok %u %s # SKIP %s\n", n, s->name, o.why.c_str());
            sections[s->name] = {{"status", "skip"}, {"why", o.why}};
            g_results.skipped.push_back({{"what", s->name}, {"why", o.why}});
            break;
        case Outcome::fail:
            ++fail;
            diag("%s could not measure: %s", s->name, o.why.c_str());
            std::printf("not ok %u %s\n", n, s->name);
            sections[s->name] = {{"status", "fail"}, {"why", o.why}};
            g_results.errors.push_back({{"what", s->name}, {"why", o.why}});
            break;
        }
    }
    json conv_ratios = json::array();
    if (cfg.want("conversion")) conversion_ratio_table(g_results.rows, &conv_ratios);

    json out = {{"tool", "gmem-bench"},
                {"format", 1},
                {"kernel", f.kernel_release},
                {"mode", cfg.quick ? "quick" : "full"},
                {"in_place_conversion_param", f.param_gmem_in_place_conversion.value_or("")},
                {"sections", sections},
                {"ratios", g_results.ratios},
                {"conversion_ratios", conv_ratios},
                {"skipped", g_results.skipped},
                {"notes", g_results.notes},
                {"errors", g_results.errors}};
    json rows = json::array();
    for (const auto& r : g_results.rows)
        if (!r.samples.empty()) rows.push_back(row_json(r));
    out["rows"] = rows;
    if (cfg.json_path == "-") {
        std::printf("%s%s\n", json_marker, out.dump().c_str());
    } else if (!cfg.json_path.empty()) {
        std::ofstream o(cfg.json_path);
        o << out.dump(1) << "\n";
        if (!o) {
            diag("could not write %s", cfg.json_path.c_str());
            ++fail;
        }
    }
    std::printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n", pass, fail, skip);
    if (fail) return 1;
    if (!not_tested.empty()) {
        diag("%s", not_tested.c_str());
        diag("%s", gmem::util::not_tested_hint);
        return gmem::util::exit_not_tested;
    }
    return pass == 0 && skip > 0 ? 4 : 0;
}
