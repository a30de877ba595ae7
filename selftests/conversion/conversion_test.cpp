// In-place shared/private conversion (CONV-01 … CONV-10), for kernels with
// the series "guest_memfd: In-place conversion support" (v7/v8):
// KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, per-file shared/private
// state, SIGBUS for host access to private pages, EAGAIN + error_offset when
// a page has an unexpected reference. Every case of the series' own selftest
// (x86/guest_memfd_conversions_test.c, fixture gmem_conversions) is here
// under its name, with the same steps (read for facts, not copied): a page is
// checked by a read-modify-write of its first byte, by the host through the
// gmem's mapping where it may look (a private page must SIGBUS on read and
// write) and by guest code through a slot at 4 GiB bound with the gmem's own
// mapping as userspace_addr (as upstream's vm_mem_add does). The multi-page
// cases run once per page under test, each on a fresh VM, as the series does.
// CONV-11 and CONV-12 are in private_mem_test.
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"
#include "gmem/uapi/gup_test.hpp"
#include "gmem/uring/ring.hpp"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace uapi = gmem::uapi;
using gmem::kvm::GuestMemfd;
using gmem::kvm::Need;

namespace {

constexpr unsigned long sw_vm = uapi::kvm_x86_sw_protected_vm;
constexpr std::uint64_t private_attr = uapi::kvm_memory_attribute_private;
constexpr std::uint64_t gpa_base = GMEM_GUEST_GMEM_GPA;
constexpr std::uint64_t mmap_flag = uapi::guest_memfd_flag_mmap;
constexpr std::uint64_t shared_flags = mmap_flag | uapi::guest_memfd_flag_init_shared;

std::uint64_t page() { return gmem::page_size(); }

// In-place conversion on KVM_X86_SW_PROTECTED_VM, decided by behaviour
// (KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd exists). The capability only
// corroborates (CAP-07 checks it): its number is not stable, and a number the
// probe could not find must not skip these checks, so it is only logged.
void require_conversion() {
    REQUIRE(Need().in_place_conversion(sw_vm));
    if (!gmem::kvm::features().private_gmem(sw_vm))
        TH_LOG("the guest_memfd attributes capability does not corroborate: %s",
               gmem::kvm::features().gmem_attr.summary.c_str());
}

// One SW_PROTECTED VM with a guest_memfd of `pages` pages at 4 GiB.
struct Conv {
    std::optional<gmem::guest::GuestVm> g;
    GuestMemfd gmem;
    gmem::Mapping mem;

    Conv(unsigned pages, bool) = delete; // flags, not "shared?": say which flags
    Conv(unsigned pages, std::uint64_t flags) {
        g.emplace(sw_vm);
        gmem = g->vm().create_guest_memfd(pages * page(), flags);
        mem = gmem.mmap();
        g->map_gmem(gmem, gpa_base, 0, gmem.size(), reinterpret_cast<std::uint64_t>(mem.get()));
    }
    std::uint8_t* host(std::uint64_t pg) const { return mem.data() + pg * page(); }

    gmem::Result<void> convert(std::uint64_t pg, std::uint64_t n, bool to_private,
                               uapi::kvm_memory_attributes2* out = nullptr) const {
        return gmem.try_set_attributes(pg * page(), n * page(), to_private ? private_attr : 0,
                                       out);
    }
    // Guest reads the first byte of page pg, asserts it is `expect`, writes `value`.
    gmem::guest::RunResult guest_rmw(std::uint64_t pg, std::uint8_t expect, std::uint8_t value) {
        return g->run(gmem::guest::payload::rmw_byte, {gpa_base + pg * page(), expect, value});
    }
    // Guest reads the first word of page pg (returned), then writes `val`.
    gmem::guest::RunResult guest_read(std::uint64_t pg) {
        return g->run(gmem::guest::payload::peek, {gpa_base + pg * page(), 0, 0});
    }
    gmem::guest::RunResult guest_write(std::uint64_t pg, std::uint64_t val) {
        return g->run(gmem::guest::payload::peek, {gpa_base + pg * page(), 1, val});
    }
};

std::uint64_t host_word(const Conv& c, std::uint64_t pg) {
    std::uint64_t v;
    std::memcpy(&v, c.host(pg), sizeof(v));
    return v;
}
void host_set_word(const Conv& c, std::uint64_t pg, std::uint64_t v) {
    std::memcpy(c.host(pg), &v, sizeof(v));
}

// A long-term pin of host pages through debugfs gup_test (the series' own
// pin_pages/unpin_pages): a reference guest_memfd did not take.
class GupPin {
  public:
    GupPin(void* addr, std::size_t len) {
        fd_ = gmem::Fd(::open(uapi::gup_test_path, O_RDWR | O_CLOEXEC));
        if (!fd_) throw gmem::Error(std::string("open ") + uapi::gup_test_path, gmem::Errno::last());
        uapi::pin_longterm_test a{};
        a.addr = reinterpret_cast<std::uint64_t>(addr);
        a.size = len;
        a.flags = uapi::pin_longterm_test_flag_use_write;
        if (::ioctl(fd_.get(), uapi::ioctl::pin_longterm_test_start, &a) != 0)
            throw gmem::Error("PIN_LONGTERM_TEST_START", gmem::Errno::last());
    }
    void unpin() {
        if (fd_ && ::ioctl(fd_.get(), uapi::ioctl::pin_longterm_test_stop) != 0)
            throw gmem::Error("PIN_LONGTERM_TEST_STOP", gmem::Errno::last());
        fd_ = gmem::Fd(); // closing drops any pin left as well
    }

  private:
    gmem::Fd fd_;
};

} // namespace

#define EXPECT_HOST_SIGBUS(c, pg)                                                                  \
    do {                                                                                           \
        std::uint8_t* harness_p_ = (c).host(pg);                                                   \
        EXPECT_SIGNAL(SIGBUS, harness::peek(harness_p_));                                          \
        EXPECT_SIGNAL(SIGBUS, harness::poke(harness_p_, 0x5a));                                    \
    } while (0)
#define EXPECT_GUEST_READS(c, pg, want) EXPECT_GUEST_RETURNS((c).guest_read(pg), want)

// The series' steps on one page (its test_private / test_shared /
// test_convert_to_*), as macros so a failure names the caller's line.
// Private: the host may neither write nor read; the guest reads `start`
// and writes `value`.
#define CHECK_PRIVATE(c, pg, start, value)                                                         \
    do {                                                                                           \
        HARNESS_TRACE("page %llu private", static_cast<unsigned long long>(pg));                   \
        EXPECT_SIGNAL(SIGBUS, harness::poke((c).host(pg), (value)));                               \
        ASSERT_GUEST_DONE((c).guest_rmw((pg), (start), (value)));                                  \
        EXPECT_SIGNAL(SIGBUS, harness::peek((c).host(pg)));                                        \
    } while (0)
// Shared: the host reads `start` and writes `host_value`; the guest reads
// that and writes `value`; the host sees `value`.
#define CHECK_SHARED(c, pg, start, host_value, value)                                              \
    do {                                                                                           \
        HARNESS_TRACE("page %llu shared", static_cast<unsigned long long>(pg));                    \
        ASSERT_NO_SIGNAL(SIGBUS, harness::peek((c).host(pg)));                                     \
        EXPECT_EQ(static_cast<int>(*(c).host(pg)), static_cast<int>(start));                       \
        *(c).host(pg) = (host_value);                                                              \
        ASSERT_GUEST_DONE((c).guest_rmw((pg), (host_value), (value)));                             \
        EXPECT_EQ(static_cast<int>(*(c).host(pg)), static_cast<int>(value));                       \
    } while (0)
#define CONVERT_TO_PRIVATE(c, pg, start, value)                                                    \
    do {                                                                                           \
        ASSERT_OK((c).convert((pg), 1, true));                                                     \
        CHECK_PRIVATE(c, pg, start, value);                                                        \
    } while (0)
#define CONVERT_TO_SHARED(c, pg, start, host_value, value)                                         \
    do {                                                                                           \
        ASSERT_OK((c).convert((pg), 1, false));                                                    \
        CHECK_SHARED(c, pg, start, host_value, value);                                             \
    } while (0)

FIXTURE(gmem_conversions) {};
FIXTURE_SETUP(gmem_conversions) {}
FIXTURE_TEARDOWN(gmem_conversions) {}

TEST_F(gmem_conversions, init_private, "CONV-01") {
    require_conversion();
    Conv c(1, mmap_flag);
    CHECK_PRIVATE(c, 0, 0, 'A'); // fresh private memory reads zero
    CONVERT_TO_SHARED(c, 0, 'A', 'B', 'C');
    CONVERT_TO_PRIVATE(c, 0, 'C', 'E');
}

TEST_F(gmem_conversions, init_shared, "CONV-02") {
    require_conversion();
    Conv c(1, shared_flags);
    CHECK_SHARED(c, 0, 0, 'A', 'B');
    CONVERT_TO_PRIVATE(c, 0, 'B', 'C');
    CONVERT_TO_SHARED(c, 0, 'C', 'D', 'E');
}

// One page of four converted, whichever it is; a fresh VM for each choice.
TEST_F(gmem_conversions, indexing, "CONV-03") {
    require_conversion();
    constexpr unsigned n = 4;
    // A value that depends on the page and the step.
    auto v = [](unsigned pg, unsigned step) { return static_cast<std::uint8_t>((pg << 4) + step); };
    for (unsigned t = 0; t < n; ++t) {
        HARNESS_TRACE("page under test %u of %u", t, n);
        Conv c(n, shared_flags);
        for (unsigned i = n; i-- > 0;) CHECK_SHARED(c, i, 0, v(i, 0), v(i, 2)); // highest first
        CONVERT_TO_PRIVATE(c, t, v(t, 2), v(t, 3));
        {
            // Through a new mapping every access faults afresh: the host's
            // view follows the pages' state, not PTEs left from before.
            const auto fresh = c.gmem.mmap();
            for (unsigned i = 0; i < n; ++i) {
                HARNESS_TRACE("page %u through a new mapping", i);
                std::uint8_t* p = fresh.data() + i * page();
                if (i == t) {
                    EXPECT_SIGNAL(SIGBUS, harness::peek(p));
                } else {
                    ASSERT_NO_SIGNAL(SIGBUS, harness::peek(p));
                    EXPECT_EQ(static_cast<int>(*p), static_cast<int>(v(i, 2)));
                }
            }
        }
        for (unsigned i = 0; i < n; ++i) {
            if (i == t)
                CHECK_PRIVATE(c, t, v(t, 3), v(t, 4));
            else
                CHECK_SHARED(c, i, v(i, 2), v(i, 3), v(i, 4));
        }
        CONVERT_TO_SHARED(c, t, v(t, 4), v(t, 5), v(t, 6));
        for (unsigned i = 0; i < n; ++i)
            CHECK_SHARED(c, i, i == t ? v(t, 6) : v(i, 4), v(i, 7), v(i, 8));
    }
}

// Conversion requests are recorded even where no page was ever allocated.
TEST_F(gmem_conversions, before_allocation_shared, "CONV-04") {
    require_conversion();
    Conv c(1, shared_flags);
    CONVERT_TO_PRIVATE(c, 0, 0, 'A');
}

TEST_F(gmem_conversions, before_allocation_private, "CONV-04") {
    require_conversion();
    Conv c(1, mmap_flag);
    CONVERT_TO_SHARED(c, 0, 0, 'A', 'B');
}

// One call converting eight pages of which some were faulted: the page
// under test and page 4, every layout (the series' unallocated_folios).
TEST_F(gmem_conversions, unallocated_folios, "CONV-05") {
    require_conversion();
    constexpr unsigned n = 8, second = 4;
    for (unsigned t = 0; t < n; ++t) {
        HARNESS_TRACE("faulted pages %u and %u of %u", t, second, n);
        Conv c(n, shared_flags);
        *c.host(t) = 'A';
        if (t != second) *c.host(second) = 'A';
        ASSERT_OK(c.convert(0, n, true));
        for (unsigned i = 0; i < n; ++i) CHECK_PRIVATE(c, i, i == t || i == second ? 'A' : 0, 'B');
        for (unsigned i = 0; i < n; ++i) CONVERT_TO_SHARED(c, i, 'B', 'C', 'D');
    }
}

// Punching a hole changes a page's contents, never its shared/private state.
TEST_F(gmem_conversions, truncate, "CONV-06") {
    require_conversion();
    Conv c(1, shared_flags);
    const auto ps = static_cast<off_t>(page());
    *c.host(0) = 'A';
    c.gmem.punch_hole(0, ps);
    ASSERT_NO_SIGNAL(SIGBUS, harness::peek(c.host(0))); // still shared ...
    EXPECT_EQ(static_cast<int>(*c.host(0)), 0);         // ... and zero again
    *c.host(0) = 'A';
    CONVERT_TO_PRIVATE(c, 0, 'A', 'B');
    c.gmem.punch_hole(0, ps);
    CHECK_PRIVATE(c, 0, 0, 'A'); // still private, and zero again
}

// After to-private, another process's own mapping of the page, faulted
// while shared, SIGBUSes on read and on write.
TEST_F(gmem_conversions, forked_accesses, "CONV-07") {
    require_conversion();
    Conv c(1, shared_flags);
    host_set_word(c, 0, 0xF);
    int go[2];
    int ready[2];
    ASSERT_OK(::pipe2(go, O_CLOEXEC));
    ASSERT_OK(::pipe2(ready, O_CLOEXEC));
    gmem::Fd go_r(go[0]), go_w(go[1]), ready_r(ready[0]), ready_w(ready[1]);
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
        void* p = ::mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_SHARED, c.gmem.fd(), 0);
        int status = p != MAP_FAILED && *static_cast<volatile std::uint64_t*>(p) == 0xF ? 0 : 2;
        char b = 1;
        (void)!::write(ready_w.get(), &b, 1);
        (void)!::read(go_r.get(), &b, 1);
        if (status == 0 && !harness::catch_signal(SIGBUS, [&] { harness::peek(p); })) status = 3;
        if (status == 0 && !harness::catch_signal(SIGBUS, [&] { harness::poke(p, 1); })) status = 4;
        ::_exit(status);
    }
    ASSERT_GT(pid, 0);
    char b;
    ASSERT_EQ(::read(ready_r.get(), &b, 1), 1);
    ASSERT_OK(c.convert(0, 1, true));
    ASSERT_EQ(::write(go_w.get(), &b, 1), 1);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // 0: both accesses SIGBUSed after to-private; 2: the child could not read
    // the shared page first; 3: no SIGBUS on read; 4: none on write.
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The series' elevated_refcount, for one kind of long-term pin of the page
// under test: to-private of the whole range, and of that page alone, gives
// EAGAIN with error_offset at it while the other pages convert one by one;
// after unpinning the bulk call succeeds and every page kept its data.
template <class Pin>
void elevated_refcount(Pin make_pin) {
    constexpr unsigned n = 4;
    for (unsigned t = 0; t < n; ++t) {
        HARNESS_TRACE("pinned page %u of %u", t, n);
        Conv c(n, shared_flags);
        auto pin = make_pin(c.host(t), page());
        for (unsigned i = 0; i < n; ++i) CHECK_SHARED(c, i, 0, 'A', 'B');
        uapi::kvm_memory_attributes2 out{};
        out.error_offset = t * page() + 1; // anything but the answer
        EXPECT_ERRNO(c.convert(0, n, true, &out), EAGAIN);
        EXPECT_EQ(out.error_offset, t * page());
        for (unsigned i = 0; i < n; ++i) {
            if (i == t) {
                out.error_offset = t * page() + 1;
                EXPECT_ERRNO(c.convert(i, 1, true, &out), EAGAIN);
                EXPECT_EQ(out.error_offset, t * page());
            } else {
                CONVERT_TO_PRIVATE(c, i, 'B', 'C');
            }
        }
        pin.unpin();
        ASSERT_OK(c.convert(0, n, true));
        for (unsigned i = 0; i < n; ++i) CHECK_PRIVATE(c, i, i == t ? 'B' : 'C', 'D');
        // To-shared of a range that held a pin never answers EAGAIN.
        EXPECT_OK(c.convert(0, n, false));
    }
}

TEST_F(gmem_conversions, elevated_refcount, "CONV-08") {
    require_conversion();
    REQUIRE(Need().gup_test());
    elevated_refcount([](void* p, std::size_t len) { return GupPin(p, len); });
}

namespace {
// An io_uring registered buffer over the page: a long-term pin any kernel
// with io_uring can make (no CONFIG_GUP_TEST).
class UringPin {
  public:
    UringPin(void* p, std::size_t len) : ring_(gmem::uring::Ring::try_create(4)) {
        if (!ring_) throw gmem::Error("io_uring_setup", ring_.error());
        iovec iov{p, len};
        if (auto r = ring_->try_register_buffers({&iov, 1}); !r)
            throw gmem::Error("IORING_REGISTER_BUFFERS", r.error());
    }
    void unpin() {
        if (auto r = ring_->try_unregister_buffers(); !r)
            throw gmem::Error("IORING_UNREGISTER_BUFFERS", r.error());
    }

  private:
    gmem::Result<gmem::uring::Ring> ring_;
};
} // namespace

TEST_F(gmem_conversions, elevated_refcount_uring, "CONV-08 URING-06") {
    require_conversion();
    REQUIRE(Need().io_uring());
    elevated_refcount([](void* p, std::size_t len) { return UringPin(p, len); });
}

TEST_F(gmem_conversions, bad_arguments, "CONV-09") {
    require_conversion();
    Conv c(2, shared_flags);
    const std::uint64_t ps = page();
    auto with = [&](auto edit) {
        uapi::kvm_memory_attributes2 a{};
        a.offset = 0;
        a.size = ps;
        a.attributes = private_attr;
        edit(a);
        return c.gmem.try_set_attributes_raw(a);
    };
    EXPECT_ERRNO(with([](auto& a) { a.flags = 1; }), EINVAL);
    for (int i = 0; i < 11; ++i) {
        HARNESS_TRACE("reserved[%d]", i);
        EXPECT_ERRNO(with([i](auto& a) { a.reserved[i] = 1; }), EINVAL);
    }
    // Every attribute bit but PRIVATE is unknown (api.rst 4.146: "Attribute
    // values are shared with KVM_SET_MEMORY_ATTRIBUTES", which defines only
    // KVM_MEMORY_ATTRIBUTE_PRIVATE), alone and beside PRIVATE: all 63 of them.
    for (unsigned bit = 0; bit < 64; ++bit) {
        if ((1ULL << bit) == private_attr) continue;
        HARNESS_TRACE("attributes bit %u (0x%llx), alone and with PRIVATE", bit,
                      static_cast<unsigned long long>(1ULL << bit));
        EXPECT_ERRNO(with([bit](auto& a) { a.attributes = 1ULL << bit; }), EINVAL);
        EXPECT_ERRNO(with([bit](auto& a) { a.attributes = private_attr | (1ULL << bit); }), EINVAL);
    }
    EXPECT_ERRNO(with([](auto& a) { a.size = 0; }), EINVAL);
    EXPECT_ERRNO(with([](auto& a) { a.offset = ~0ULL & ~(gmem::page_size() - 1); }), EINVAL);
    EXPECT_ERRNO(with([&](auto& a) { a.offset = ps; a.size = ~0ULL - ps + 1; }), EINVAL);
    EXPECT_ERRNO(with([](auto& a) { a.offset = 1; }), EINVAL);
    EXPECT_ERRNO(with([](auto& a) { a.size = 1; }), EINVAL);
    EXPECT_ERRNO(with([&](auto& a) { a.offset = 2 * ps; }), EINVAL);
    EXPECT_ERRNO(with([&](auto& a) { a.size = 3 * ps; }), EINVAL);
}

TEST_F(gmem_conversions, private_on_vm_without_private_memory, "CONV-09") {
    REQUIRE(Need().in_place_conversion(uapi::kvm_x86_default_vm));
    auto kvm = gmem::kvm::Kvm::open();
    auto vm = kvm.create_vm(uapi::kvm_x86_default_vm);
    auto g = vm.create_guest_memfd(page(), uapi::guest_memfd_flag_mmap |
                                               uapi::guest_memfd_flag_init_shared);
    EXPECT_ERRNO(g.try_set_attributes(0, page(), private_attr), EINVAL);
}

// Real on kernels without the series, and on the series' kernels booted in
// legacy mode: /dev/kvm's answer for the guest_memfd attributes capability is
// 0, i.e. the feature is off (CAP-07: with it on, /dev/kvm answers PRIVATE;
// a VM type without private memory answers 0 even then, so the per-VM
// answer cannot tell), and the ioctl must not exist on a guest_memfd,
// whatever its arguments (series v8 patch 24: ENOTTY while
// kvm.gmem_in_place_conversion is off).
TEST_F(gmem_conversions, disabled_answers_enotty, "CONV-09") {
    const unsigned long type = uapi::kvm_x86_default_vm;
    REQUIRE(Need().guest_memfd(type));
    const auto& f = gmem::kvm::features();
    if (f.gmem_attr.conversion == gmem::kvm::Conversion::present)
        SKIP("in-place conversion is present (%s)", f.gmem_attr.summary.c_str());
    const long cap = f.system.guest_memfd_memory_attributes.value_or(0);
    if (cap != 0)
        SKIP("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (number %ld) is %#lx on /dev/kvm: the feature "
             "is on",
             f.gmem_attr_cap_nr, cap);
    auto kvm = gmem::kvm::Kvm::open();
    auto vm = kvm.create_vm(type);
    auto g = vm.create_guest_memfd(page(), 0);
    EXPECT_ERRNO(g.try_set_attributes(0, page(), private_attr), ENOTTY);
    EXPECT_ERRNO(g.try_set_attributes(0, page(), 0), ENOTTY);
    uapi::kvm_memory_attributes2 bad{};
    bad.flags = 1;
    bad.size = 0;
    EXPECT_ERRNO(g.try_set_attributes_raw(bad), ENOTTY);
}

TEST_F(gmem_conversions, convert_to_same_state, "CONV-10") {
    require_conversion();
    Conv c(1, shared_flags);
    host_set_word(c, 0, 0x10);
    ASSERT_OK(c.convert(0, 1, false)); // shared -> shared
    EXPECT_NO_SIGNAL(SIGBUS, harness::peek(c.host(0)));
    EXPECT_EQ(host_word(c, 0), 0x10u);
    ASSERT_OK(c.convert(0, 1, true));
    ASSERT_OK(c.convert(0, 1, true)); // private -> private
    EXPECT_HOST_SIGBUS(c, 0);
    EXPECT_GUEST_READS(c, 0, 0x10u);
}

GMEM_TEST_MAIN
