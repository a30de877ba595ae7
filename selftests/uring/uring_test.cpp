// io_uring I/O with guest_memfd memory as the buffer (URING-01 … URING-06),
// the way a VMM's block layer reads and writes guest RAM.
//
// Every guest_memfd check first runs the same requests on a memfd mapping: the
// control. Both answers are printed. When the control fails too, what failed is
// an io_uring or filesystem limit, not guest_memfd, and the check SKIPs naming
// it. Each check runs once per VM type that offers what it needs (CAP-05).
#include "gmem/test.hpp"
#include "gmem/uring/ring.hpp"
#include "gmem/uring/scratch.hpp"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#ifndef GMEM_URING_SCRATCH_DIR
#define GMEM_URING_SCRATCH_DIR ""
#endif

using gmem::Fd;
using gmem::Mapping;
using gmem::Result;
using gmem::kvm::Need;
using gmem::uring::Ring;
namespace uapi = gmem::uapi;
namespace uring = gmem::uring;

namespace {

constexpr std::uint64_t gmem_mmap = uapi::guest_memfd_flag_mmap;
constexpr std::uint64_t gmem_shared =
    uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;

std::size_t pg() {
    return gmem::page_size();
}

// A pattern that differs per byte, per page and per seed, so that a page moved,
// dropped or left stale shows up as a mismatch.
void fill(std::span<std::uint8_t> s, unsigned seed) {
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<std::uint8_t>((i * 131U) ^ ((i >> 12) * 29U) ^ (seed * 0x3bU) ^ 0x5aU);
}
std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
    std::vector<std::uint8_t> v(n);
    fill(v, seed);
    return v;
}

// "" when equal, else the first differing byte with both values.
std::string mismatch(std::span<const std::uint8_t> got, std::span<const std::uint8_t> want) {
    if (got.size() != want.size())
        return harness::strf("%zu bytes, want %zu", got.size(), want.size());
    const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin());
    if (g == got.end()) return "";
    return harness::strf("byte %td of %zu: got 0x%02x, want 0x%02x", g - got.begin(), got.size(),
                         *g, *w);
}

bool all_zero(std::span<const std::uint8_t> s) {
    return std::all_of(s.begin(), s.end(), [](std::uint8_t b) { return b == 0; });
}

// What a page holds, in words: which of the candidates it matches.
std::string classify(std::span<const std::uint8_t> got, std::span<const std::uint8_t> before,
                     std::span<const std::uint8_t> after) {
    if (mismatch(got, before).empty()) return "the data from before";
    if (mismatch(got, after).empty()) return "the data just written";
    if (all_zero(got)) return "zeros";
    return "other bytes (" + mismatch(got, after) + ")";
}

// A request that must fail: the CQE carries a negative res.
#define EXPECT_REQUEST_FAILS(res, what)                                                            \
    do {                                                                                           \
        const Result<int>& r_ = (res);                                                             \
        if (r_)                                                                                    \
            ::harness::fail_here(                                                                  \
                __FILE__, __LINE__,                                                                \
                ::harness::strf("Expected %s to fail (CQE res < 0), got res %d", what, *r_),       \
                false);                                                                            \
    } while (0)

// Guest memory for one check: a VM of the variant's type, a guest_memfd, and
// its MAP_SHARED mapping of map_size bytes.
struct Gmem {
    gmem::kvm::Vm vm;
    gmem::kvm::GuestMemfd file;
    Mapping map;
};
Gmem make_gmem(unsigned long type, std::size_t file_size, std::uint64_t flags,
               std::size_t map_size) {
    Gmem g;
    g.vm = gmem::kvm::Kvm::open().create_vm(type);
    g.file = g.vm.create_guest_memfd(file_size, flags);
    g.map = g.file.mmap(map_size);
    return g;
}

// A scratch page-aligned buffer for setting and checking file contents.
Mapping scratch(std::size_t n) {
    return gmem::must(uring::try_anon((n + pg() - 1) / pg() * pg()), "mmap(anonymous)");
}

enum class Io { plain, fixed };

// One round trip through area[at, at+len): WRITE from it to fd at off, READ
// back into it after the file was given other bytes. The rest of the area is a
// guard that no request may touch.
struct RoundTrip {
    Result<int> wrote = std::unexpected(gmem::Errno{0});
    std::string wrote_bytes; // mismatch of what reached the file
    Result<int> read = std::unexpected(gmem::Errno{0});
    std::string read_bytes; // mismatch of what reached the buffer
    std::string guard;      // mismatch outside the request's range

    bool ok(std::size_t len) const {
        return wrote && std::cmp_equal(*wrote, len) && wrote_bytes.empty() && read &&
               std::cmp_equal(*read, len) && read_bytes.empty() && guard.empty();
    }
    std::string text() const {
        auto data = [](const std::string& m) { return m.empty() ? "bytes right" : m; };
        return "WRITE res " + uring::describe(wrote) + " (" + data(wrote_bytes) + "), READ res " +
               uring::describe(read) + " (" + data(read_bytes) + "), guard " +
               (guard.empty() ? "intact" : guard);
    }
};

RoundTrip round_trip(Ring& ring, std::span<std::uint8_t> area, std::size_t at, std::size_t len,
                     int fd, std::uint64_t off, Io io) {
    RoundTrip t;
    const auto guard = pattern(area.size(), 7);
    std::copy(guard.begin(), guard.end(), area.begin());
    const auto region = area.subspan(at, len);
    const auto a = pattern(len, 1);
    std::copy(a.begin(), a.end(), region.begin());
    Mapping check = scratch(len);
    const auto file_view = check.bytes().first(len);

    t.wrote =
        io == Io::plain ? ring.try_write(fd, region, off) : ring.try_write_fixed(fd, region, off);
    if (t.wrote) {
        std::fill(file_view.begin(), file_view.end(), 0);
        ASSERT_EQ(::pread(fd, file_view.data(), len, static_cast<off_t>(off)),
                  static_cast<ssize_t>(len));
        t.wrote_bytes = mismatch(file_view.first(static_cast<std::size_t>(*t.wrote)), a);
    }

    const auto b = pattern(len, 2);
    std::copy(b.begin(), b.end(), file_view.begin());
    ASSERT_EQ(::pwrite(fd, file_view.data(), len, static_cast<off_t>(off)),
              static_cast<ssize_t>(len));
    std::fill(region.begin(), region.end(), 0);
    t.read =
        io == Io::plain ? ring.try_read(fd, region, off) : ring.try_read_fixed(fd, region, off);
    if (t.read) t.read_bytes = mismatch(region.first(static_cast<std::size_t>(*t.read)), b);

    std::string before = mismatch(area.first(at), std::span(guard).first(at));
    std::string after = mismatch(area.subspan(at + len), std::span(guard).subspan(at + len));
    if (!before.empty())
        t.guard = "before the range: " + before;
    else if (!after.empty())
        t.guard = "after the range: " + after;
    return t;
}

void expect_round_trip(const RoundTrip& t, std::size_t len) {
    EXPECT_OK(t.wrote);
    if (t.wrote) EXPECT_EQ(*t.wrote, len);
    EXPECT_STREQ(t.wrote_bytes, "");
    EXPECT_OK(t.read);
    if (t.read) EXPECT_EQ(*t.read, len);
    EXPECT_STREQ(t.read_bytes, "");
    EXPECT_STREQ(t.guard, "");
}

// A registration, I/O through the fixed buffer, and its unregistration.
struct FixedRun {
    Result<void> reg;
    RoundTrip io;
    Result<void> unreg;
    Result<void> unreg_again; // after unregistering: nothing left to unregister
    std::string text() const {
        if (!reg) return "register: " + reg.error().describe();
        auto r = [](const Result<void>& v) { return v ? std::string("ok") : v.error().describe(); };
        return "register ok, " + io.text() + ", unregister " + r(unreg) + ", second unregister " +
               r(unreg_again);
    }
};

FixedRun fixed_run(Ring& ring, std::span<std::uint8_t> area, std::size_t at, std::size_t len,
                   int fd, std::uint64_t off) {
    FixedRun f;
    const iovec iov{area.data(), area.size()};
    f.reg = ring.try_register_buffers({&iov, 1});
    if (!f.reg) return f;
    f.io = round_trip(ring, area, at, len, fd, off, Io::fixed);
    f.unreg = ring.try_unregister_buffers();
    f.unreg_again = ring.try_unregister_buffers();
    return f;
}

} // namespace

FIXTURE(uring) {
    Ring ring;
    Fd target;              // the file the requests read and write
    uring::MemfdBuffer ctl; // the control buffer: a memfd mapping
};

FIXTURE_VARIANT(uring) {
    unsigned long vm_type;
};
FIXTURE_VARIANT_ADD(uring, default_vm){.vm_type = uapi::kvm_x86_default_vm};
FIXTURE_VARIANT_ADD(uring, sw_protected_vm){.vm_type = uapi::kvm_x86_sw_protected_vm};

FIXTURE_SETUP(uring) {
    REQUIRE(Need().io_uring());
    auto ring = Ring::try_create(8);
    // The probe's ring worked; ENOMEM now is RLIMIT_MEMLOCK (rings are charged to it
    // without CAP_IPC_LOCK, and a closed ring gives its charge back asynchronously).
    if (!ring && (ring.error() == ENOMEM || ring.error() == EPERM))
        SKIP("io_uring_queue_init: %s; %s", ring.error().describe().c_str(),
             uring::memlock_report(0).c_str());
    ASSERT_OK(ring);
    self->ring = std::move(*ring);
    constexpr int ops[] = {IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READ_FIXED,
                           IORING_OP_WRITE_FIXED};
    auto missing = self->ring.try_unsupported(ops);
    if (!missing)
        SKIP("no io_uring opcode probe (IORING_REGISTER_PROBE, Linux 5.6+): %s",
             missing.error().describe().c_str());
    if (!missing->empty()) {
        std::string names;
        for (int op : *missing)
            names += (names.empty() ? "" : ", ") + uring::opcode_name(op);
        SKIP("the kernel's io_uring lacks %s", names.c_str());
    }
    self->target = gmem::must(uring::try_memfd("uring-target", 16 * pg()), "memfd_create");
    self->ctl = gmem::must(uring::try_memfd_buffer("uring-control", 4 * pg(), 4 * pg()),
                           "memfd control buffer");
}

FIXTURE_TEARDOWN(uring) {}

// Buffered READ into and WRITE from a shared guest_memfd mapping; the request
// starts mid-page and crosses four pages.
TEST_F(uring, buffered_read_write, "URING-01") {
    REQUIRE(Need().gmem_flags(variant->vm_type, gmem_shared));
    Gmem g = make_gmem(variant->vm_type, 4 * pg(), gmem_shared, 4 * pg());
    const std::size_t at = 77, len = 3 * pg() + 123;
    const std::uint64_t off = 511;

    const auto ctl =
        round_trip(self->ring, self->ctl.map.bytes(), at, len, self->target.get(), off, Io::plain);
    const auto gm =
        round_trip(self->ring, g.map.bytes(), at, len, self->target.get(), off, Io::plain);
    TH_LOG("control (memfd buffer): %s", ctl.text().c_str());
    TH_LOG("guest_memfd buffer:     %s", gm.text().c_str());
    if (!ctl.ok(len))
        SKIP("buffered io_uring I/O fails with a memfd buffer too (an io_uring limit, not "
             "guest_memfd): %s",
             ctl.text().c_str());
    expect_round_trip(gm, len);
}

// O_DIRECT: the kernel pins the guest_memfd pages (GUP) for the transfer.
TEST_F(uring, direct_read_write, "URING-02") {
    REQUIRE(Need().gmem_flags(variant->vm_type, gmem_shared));
    const auto dirs = uring::direct_dirs(GMEM_URING_SCRATCH_DIR);
    auto found = uring::find_direct_file(dirs);
    if (!found.file) SKIP("no filesystem here takes O_DIRECT: %s", found.why_not.c_str());
    TH_LOG("O_DIRECT file in %s (%s)", found.file->dir.c_str(), found.file->fs_type.c_str());
    const int fd = found.file->fd.get();
    Gmem g = make_gmem(variant->vm_type, 4 * pg(), gmem_shared, 4 * pg());
    const std::size_t at = pg(), len = 2 * pg();
    const std::uint64_t off = pg();

    const auto ctl = round_trip(self->ring, self->ctl.map.bytes(), at, len, fd, off, Io::plain);
    const auto gm = round_trip(self->ring, g.map.bytes(), at, len, fd, off, Io::plain);
    TH_LOG("control (memfd buffer): %s", ctl.text().c_str());
    TH_LOG("guest_memfd buffer:     %s", gm.text().c_str());
    if (!ctl.ok(len))
        SKIP("O_DIRECT io_uring I/O on %s (%s) fails with a memfd buffer too (a filesystem or "
             "io_uring limit): %s",
             found.file->dir.c_str(), found.file->fs_type.c_str(), ctl.text().c_str());
    expect_round_trip(gm, len);
}

// Fixed buffers: the whole mapping registered (a long-term pin), READ_FIXED and
// WRITE_FIXED through part of it, then unregistered.
TEST_F(uring, fixed_buffers, "URING-03") {
    REQUIRE(Need().gmem_flags(variant->vm_type, gmem_shared));
    Gmem g = make_gmem(variant->vm_type, 4 * pg(), gmem_shared, 4 * pg());
    const std::size_t at = 300, len = 2 * pg() + 999;
    const std::uint64_t off = 4 * pg() + 3;

    const auto ctl = fixed_run(self->ring, self->ctl.map.bytes(), at, len, self->target.get(), off);
    const auto gm = fixed_run(self->ring, g.map.bytes(), at, len, self->target.get(), off);
    TH_LOG("control (memfd buffer): %s", ctl.text().c_str());
    TH_LOG("guest_memfd buffer:     %s", gm.text().c_str());
    const std::string limits = uring::memlock_report(4 * pg());
    if (!ctl.reg)
        SKIP("registering a memfd buffer fails too (%s): %s", ctl.reg.error().describe().c_str(),
             limits.c_str());
    if (!ctl.io.ok(len) || !ctl.unreg)
        SKIP("fixed-buffer I/O fails with a memfd buffer too (an io_uring limit): %s",
             ctl.text().c_str());
    if (!gm.reg) TH_LOG("%s", limits.c_str());
    ASSERT_OK(gm.reg);
    expect_round_trip(gm.io, len);
    EXPECT_OK(gm.unreg);
    // io_uring_register(2): ENXIO when no buffers are registered, so the first
    // unregistration really dropped them.
    EXPECT_ERRNO(gm.unreg_again, ENXIO);
}

namespace {

// What is done to the registered memory while the registration stands.
enum class Act { punch_hole, munmap, close_fd, close_fd_and_munmap };

// Registers all of `map` (4 pages, filled with pattern 3), does `act`, then
// runs WRITE_FIXED from and READ_FIXED into page 1 and tells what happened.
// Asserts only what is settled: the requests complete (the ring's wait bound),
// unregistering succeeds, and the ring then still does a plain READ.
std::string pinned_then(Ring& ring, Act act, Mapping& map, Fd& file, int target,
                        const std::function<Result<Mapping>()>& remap) {
    const std::size_t n = 4 * pg();
    const auto before = pattern(n, 3);
    std::copy(before.begin(), before.end(), map.data());
    std::uint8_t* const base = map.data();
    const auto page1 = std::span(base + pg(), pg());
    const auto before1 = std::span(before).subspan(pg(), pg());
    const iovec iov{base, n};
    ASSERT_OK(ring.try_register_buffers({&iov, 1}));

    std::string out;
    switch (act) {
    case Act::punch_hole:
        ASSERT_OK(::fallocate(file.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              static_cast<off_t>(pg()), static_cast<off_t>(pg())));
        out = "after punching page 1: ";
        break;
    case Act::munmap:
        map.reset();
        out = "after munmap: ";
        break;
    case Act::close_fd:
        file.reset();
        out = "after closing the fd: ";
        break;
    case Act::close_fd_and_munmap:
        file.reset();
        map.reset();
        out = "after closing the fd and munmap (only the pin holds the pages): ";
        break;
    }

    // Where to look at the file's page 1 now: the mapping if it is still
    // there, else a fresh mapping of the fd if that is still open.
    Mapping fresh;
    auto view = [&]() -> std::span<const std::uint8_t> {
        if (map) return std::span<const std::uint8_t>(map.data() + pg(), pg());
        if (!fresh && file) {
            if (auto m = remap()) fresh = std::move(*m);
        }
        if (fresh) return std::span<const std::uint8_t>(fresh.data() + pg(), pg());
        return {};
    };

    Mapping check = scratch(pg());
    const auto got = check.bytes().first(pg());
    const Result<int> w = ring.try_write_fixed(target, page1, 0);
    out += "WRITE_FIXED res " + uring::describe(w);
    if (w && std::cmp_equal(*w, pg())) {
        ASSERT_EQ(::pread(target, got.data(), pg(), 0), static_cast<ssize_t>(pg()));
        out += " wrote " + classify(got, before1, before1);
    }

    const auto fresh_bytes = pattern(pg(), 4);
    std::copy(fresh_bytes.begin(), fresh_bytes.end(), got.begin());
    ASSERT_EQ(::pwrite(target, got.data(), pg(), 0), static_cast<ssize_t>(pg()));
    const Result<int> r = ring.try_read_fixed(target, page1, 0);
    out += "; READ_FIXED res " + uring::describe(r);
    if (const auto v = view(); !v.empty())
        out += ", the file's page 1 then holds " + classify(v, before1, fresh_bytes);
    else
        out += ", the file is no longer reachable";

    const auto unreg = ring.try_unregister_buffers();
    out += std::string("; unregister ") + (unreg ? "ok" : unreg.error().describe());
    EXPECT_OK(unreg);

    // The ring still works: a plain READ into fresh memory.
    Mapping after = scratch(pg());
    const Result<int> again = ring.try_read(target, after.bytes(), 0);
    EXPECT_OK(again);
    if (again) {
        EXPECT_EQ(*again, pg());
        EXPECT_STREQ(mismatch(after.bytes(), fresh_bytes), "");
    }
    return out;
}

void registered_then(Ring& ring, unsigned long type, Act act, uring::MemfdBuffer& ctl, int target) {
    REQUIRE(Need().gmem_flags(type, gmem_shared));
    Gmem g = make_gmem(type, 4 * pg(), gmem_shared, 4 * pg());
    const iovec probe{ctl.map.data(), ctl.map.size()};
    if (auto reg = ring.try_register_buffers({&probe, 1}); !reg)
        SKIP("registering a memfd buffer fails (%s): %s", reg.error().describe().c_str(),
             uring::memlock_report(ctl.map.size()).c_str());
    ASSERT_OK(ring.try_unregister_buffers());

    const int ctl_fd = ctl.fd.get();
    const std::string c = pinned_then(ring, act, ctl.map, ctl.fd, target, [ctl_fd] {
        void* p = ::mmap(nullptr, 4 * pg(), PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd, 0);
        return p == MAP_FAILED ? Result<Mapping>(std::unexpected(gmem::Errno::last()))
                               : Result<Mapping>(Mapping(p, 4 * pg()));
    });
    OBSERVE("control (memfd): %s", c.c_str());
    const std::string m = pinned_then(ring, act, g.map, g.file.file(), target, [&g] {
        return g.file.try_mmap(4 * pg(), PROT_READ | PROT_WRITE, MAP_SHARED);
    });
    OBSERVE("guest_memfd:     %s", m.c_str());
}

} // namespace

// A hole punched under a registered buffer: the pinned page leaves the file.
TEST_F(uring, registered_then_punch_hole, "URING-04") {
    registered_then(self->ring, variant->vm_type, Act::punch_hole, self->ctl, self->target.get());
}

TEST_F(uring, registered_then_munmap, "URING-04") {
    registered_then(self->ring, variant->vm_type, Act::munmap, self->ctl, self->target.get());
}

// Closing the fd leaves the file alive through the mapping.
TEST_F(uring, registered_then_close_fd, "URING-04") {
    registered_then(self->ring, variant->vm_type, Act::close_fd, self->ctl, self->target.get());
}

// Neither fd nor mapping left: the file is released while its pages are pinned.
TEST_F(uring, registered_then_close_fd_and_munmap, "URING-04") {
    registered_then(self->ring, variant->vm_type, Act::close_fd_and_munmap, self->ctl,
                    self->target.get());
}

namespace {

// The positive control of URING-05: the same READ and WRITE on an accessible
// memfd page succeed, so a failure on guest_memfd is about its pages.
void control_page_works(Ring& ring, std::span<std::uint8_t> page, int target) {
    const auto a = pattern(page.size(), 5);
    std::copy(a.begin(), a.end(), page.begin());
    const Result<int> w = ring.try_write(target, page, 0);
    std::fill(page.begin(), page.end(), 0);
    const Result<int> r = ring.try_read(target, page, 0);
    TH_LOG("control (memfd buffer): WRITE res %s, READ res %s (%s)", uring::describe(w).c_str(),
           uring::describe(r).c_str(), mismatch(page, a).empty() ? "bytes right" : "bytes wrong");
    if (!w || !std::cmp_equal(*w, page.size()) || !r || !std::cmp_equal(*r, page.size()) ||
        !mismatch(page, a).empty())
        SKIP("io_uring READ/WRITE fails on an accessible memfd page too: WRITE %s, READ %s",
             uring::describe(w).c_str(), uring::describe(r).c_str());
}

// Requests whose buffer is the inaccessible `bad` page fail one by one; so
// does registering it. The ring works afterwards.
void inaccessible_fails(Ring& ring, std::span<std::uint8_t> bad, std::span<std::uint8_t> reg_area,
                        std::span<std::uint8_t> good, int target) {
    const Result<int> r = ring.try_read(target, bad, 0);
    TH_LOG("guest_memfd buffer:     READ res %s", uring::describe(r).c_str());
    EXPECT_REQUEST_FAILS(r, "READ into the page");
    const Result<int> w = ring.try_write(target, bad, 0);
    TH_LOG("guest_memfd buffer:     WRITE res %s", uring::describe(w).c_str());
    EXPECT_REQUEST_FAILS(w, "WRITE from the page");

    // Registration pins every page; an inaccessible one cannot be pinned.
    const iovec iov{reg_area.data(), reg_area.size()};
    const auto reg = ring.try_register_buffers({&iov, 1});
    TH_LOG("guest_memfd buffer:     register %s", reg ? "ok" : reg.error().describe().c_str());
    if (reg) {
        ::harness::fail_here(__FILE__, __LINE__,
                             "Expected registering inaccessible guest_memfd pages to fail, it "
                             "succeeded",
                             false);
        EXPECT_OK(ring.try_unregister_buffers());
    }

    // The process is still here; the ring still moves bytes.
    const auto a = pattern(good.size(), 6);
    std::copy(a.begin(), a.end(), good.begin());
    const Result<int> ok = ring.try_write(target, good, 0);
    EXPECT_OK(ok);
    if (ok) EXPECT_EQ(*ok, good.size());
    std::fill(good.begin(), good.end(), 0);
    const Result<int> back = ring.try_read(target, good, 0);
    EXPECT_OK(back);
    if (back) EXPECT_EQ(*back, good.size());
    EXPECT_STREQ(mismatch(good, a), "");
}

} // namespace

// MMAP without INIT_SHARED: the pages start private and the host may not touch
// them (MMAP-05); io_uring may not either.
TEST_F(uring, private_pages_fail, "URING-05") {
    REQUIRE(Need().gmem_flags(variant->vm_type, gmem_mmap));
    Gmem g = make_gmem(variant->vm_type, 4 * pg(), gmem_mmap, 4 * pg());
    control_page_works(self->ring, self->ctl.map.bytes().subspan(pg(), pg()), self->target.get());
    inaccessible_fails(self->ring, g.map.bytes().subspan(pg(), pg()), g.map.bytes(),
                       self->ctl.map.bytes().first(pg()), self->target.get());
}

// A mapping larger than the file: the pages past the end are inaccessible
// (MMAP-04); those inside keep working.
TEST_F(uring, beyond_eof_fails, "URING-05") {
    REQUIRE(Need().gmem_flags(variant->vm_type, gmem_shared));
    Gmem g = make_gmem(variant->vm_type, 2 * pg(), gmem_shared, 4 * pg());
    control_page_works(self->ring, self->ctl.map.bytes().subspan(pg(), pg()), self->target.get());

    // The memfd analogue (a memfd of two pages mapped over four), for comparison.
    auto short_memfd =
        gmem::must(uring::try_memfd_buffer("uring-short", 2 * pg(), 4 * pg()), "memfd buffer");
    const Result<int> cr =
        self->ring.try_read(self->target.get(), short_memfd.map.bytes().subspan(3 * pg(), pg()), 0);
    TH_LOG("memfd past its end:     READ res %s", uring::describe(cr).c_str());

    inaccessible_fails(self->ring, g.map.bytes().subspan(3 * pg(), pg()), g.map.bytes(),
                       g.map.bytes().first(pg()), self->target.get());

    // A request that starts inside and runs past the end: not settled by any
    // document (a short count or an error), so only reported.
    const Result<int> span_read =
        self->ring.try_read(self->target.get(), g.map.bytes().subspan(pg(), 2 * pg()), 0);
    OBSERVE("READ of 2 pages, 1 inside the file and 1 past its end: res %s",
            uring::describe(span_read).c_str());

    // Registering only the part inside the file works.
    const iovec inside{g.map.data(), 2 * pg()};
    const iovec ctl{self->ctl.map.data(), 2 * pg()};
    if (auto c = self->ring.try_register_buffers({&ctl, 1}); !c) {
        TH_LOG("not checked: registering a 2-page memfd buffer fails (%s): %s",
               c.error().describe().c_str(), uring::memlock_report(2 * pg()).c_str());
        return;
    }
    ASSERT_OK(self->ring.try_unregister_buffers());
    const auto reg = self->ring.try_register_buffers({&inside, 1});
    if (!reg) TH_LOG("%s", uring::memlock_report(2 * pg()).c_str());
    EXPECT_OK(reg);
    if (reg) EXPECT_OK(self->ring.try_unregister_buffers());
}

// With in-place conversion: a registered buffer is a long-term pin, and
// converting a pinned page to private answers EAGAIN with error_offset at the
// first pinned page until the buffer is unregistered (CONV-08).
TEST_F(uring, pin_blocks_conversion, "URING-06 CONV-08") {
    const unsigned long type = variant->vm_type;
    REQUIRE(Need().gmem_flags(type, gmem_shared).in_place_conversion(type));
    const auto* t = gmem::kvm::features().vm_type(type);
    const long attrs = t ? t->caps.guest_memfd_memory_attributes.value_or(0) : 0;
    if ((static_cast<std::uint64_t>(attrs) & uapi::kvm_memory_attribute_private) == 0)
        SKIP("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES on %s is 0x%lx: no PRIVATE",
             gmem::kvm::vm_type_name(type).c_str(), attrs);

    const std::size_t n = 4 * pg();
    Gmem g = make_gmem(type, n, gmem_shared, n);
    const auto data = pattern(n, 8);
    std::copy(data.begin(), data.end(), g.map.data());

    // Control: registration itself works on this ring (a memfd buffer).
    const iovec ctl{self->ctl.map.data(), self->ctl.map.size()};
    if (auto reg = self->ring.try_register_buffers({&ctl, 1}); !reg)
        SKIP("registering a memfd buffer fails (%s): %s", reg.error().describe().c_str(),
             uring::memlock_report(ctl.iov_len).c_str());
    ASSERT_OK(self->ring.try_unregister_buffers());

    // Pin pages 1 and 2.
    const iovec pinned{g.map.data() + pg(), 2 * pg()};
    const auto reg = self->ring.try_register_buffers({&pinned, 1});
    if (!reg) TH_LOG("%s", uring::memlock_report(pinned.iov_len).c_str());
    ASSERT_OK(reg);

    uapi::kvm_memory_attributes2 out{};
    EXPECT_ERRNO(g.file.try_set_attributes(0, n, uapi::kvm_memory_attribute_private, &out), EAGAIN);
    EXPECT_EQ(out.error_offset, pg());

    ASSERT_OK(self->ring.try_unregister_buffers());
    EXPECT_OK(g.file.try_set_attributes(0, n, uapi::kvm_memory_attribute_private));
    // To-shared never answers EAGAIN; the data survived the round trip.
    EXPECT_OK(g.file.try_set_attributes(0, n, 0));
    EXPECT_STREQ(mismatch(g.map.bytes(), data), "");
}

GMEM_TEST_MAIN
