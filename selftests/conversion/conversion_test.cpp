// In-place shared/private conversion (CONV-01 … CONV-11), for kernels with
// the series "guest_memfd: In-place conversion support" (v7/v8):
// KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, per-file shared/private
// state, SIGBUS for host access to private pages, EAGAIN + error_offset when
// a page is pinned. Case names follow the series' own selftest
// (x86/guest_memfd_conversions_test.c, fixture gmem_conversions) so results
// can be compared case by case. The VM type is KVM_X86_SW_PROTECTED_VM, the
// guest_memfd sits at GPA 4 GiB, bound with its own mmap as userspace_addr
// (as upstream's vm_mem_add does), and guest code reads and writes it.
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"
#include "gmem/uring/ring.hpp"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
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

std::uint64_t page() { return gmem::page_size(); }

// The series' own requirement: the VM type exists, conversion answers on a
// guest_memfd, and the per-gmem attributes capability offers PRIVATE.
void require_conversion() {
    REQUIRE(Need().in_place_conversion(sw_vm));
    const auto* t = gmem::kvm::features().vm_type(sw_vm);
    const long attrs = t->caps.guest_memfd_memory_attributes.value_or(0);
    if (!(static_cast<std::uint64_t>(attrs) & private_attr))
        SKIP("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (number %ld) on %s is %#lx, without PRIVATE",
             gmem::kvm::features().gmem_attr_cap_nr, gmem::kvm::vm_type_name(sw_vm).c_str(),
             attrs);
}

// One SW_PROTECTED VM with a guest_memfd of `pages` pages at 4 GiB.
struct Conv {
    std::optional<gmem::guest::GuestVm> g;
    GuestMemfd gmem;
    gmem::Mapping mem;

    Conv(unsigned pages, bool init_shared) {
        g.emplace(sw_vm);
        const std::uint64_t flags =
            uapi::guest_memfd_flag_mmap | (init_shared ? uapi::guest_memfd_flag_init_shared : 0);
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

} // namespace

#define EXPECT_HOST_SIGBUS(c, pg)                                                                  \
    do {                                                                                           \
        std::uint8_t* harness_p_ = (c).host(pg);                                                   \
        EXPECT_SIGNAL(SIGBUS, harness::peek(harness_p_));                                          \
        EXPECT_SIGNAL(SIGBUS, harness::poke(harness_p_, 0x5a));                                    \
    } while (0)
#define EXPECT_GUEST_READS(c, pg, want) EXPECT_GUEST_RETURNS((c).guest_read(pg), want)

FIXTURE(gmem_conversions) {};
FIXTURE_SETUP(gmem_conversions) {}
FIXTURE_TEARDOWN(gmem_conversions) {}

TEST_F(gmem_conversions, init_private, "CONV-01") {
    require_conversion();
    Conv c(1, false);
    EXPECT_GUEST_READS(c, 0, 0u); // fresh private memory reads zero
    EXPECT_HOST_SIGBUS(c, 0);
    ASSERT_GUEST_DONE(c.guest_write(0, 0xA));
    ASSERT_OK(c.convert(0, 1, false));
    EXPECT_EQ(host_word(c, 0), 0xAu); // the host sees the guest's data
    host_set_word(c, 0, 0xB);
    EXPECT_GUEST_READS(c, 0, 0xBu); // the guest sees the host's
    ASSERT_OK(c.convert(0, 1, true));
    EXPECT_GUEST_READS(c, 0, 0xBu); // still its data after going private again
    EXPECT_HOST_SIGBUS(c, 0);
}

TEST_F(gmem_conversions, init_shared, "CONV-02") {
    require_conversion();
    Conv c(1, true);
    host_set_word(c, 0, 0xA);
    EXPECT_GUEST_READS(c, 0, 0xAu);
    ASSERT_GUEST_DONE(c.guest_write(0, 0xB));
    EXPECT_EQ(host_word(c, 0), 0xBu);
    ASSERT_OK(c.convert(0, 1, true));
    EXPECT_GUEST_READS(c, 0, 0xBu);
    EXPECT_HOST_SIGBUS(c, 0);
    ASSERT_GUEST_DONE(c.guest_write(0, 0xC));
    ASSERT_OK(c.convert(0, 1, false));
    EXPECT_EQ(host_word(c, 0), 0xCu);
}

TEST_F(gmem_conversions, indexing, "CONV-03") {
    require_conversion();
    Conv c(4, true);
    for (std::uint64_t i = 0; i < 4; ++i) host_set_word(c, i, 0x100 + i);
    for (std::uint64_t target = 0; target < 4; ++target) {
        HARNESS_TRACE("converting page %llu of 4", static_cast<unsigned long long>(target));
        ASSERT_OK(c.convert(target, 1, true));
        for (std::uint64_t i = 0; i < 4; ++i) {
            if (i == target) {
                EXPECT_HOST_SIGBUS(c, i);
            } else {
                EXPECT_NO_SIGNAL(SIGBUS, harness::peek(c.host(i)));
                EXPECT_EQ(host_word(c, i), 0x100 + i);
            }
        }
        EXPECT_GUEST_READS(c, target, 0x100 + target);
        ASSERT_OK(c.convert(target, 1, false));
    }
}

TEST_F(gmem_conversions, before_allocation_shared, "CONV-04") {
    require_conversion();
    Conv c(1, true);
    ASSERT_OK(c.convert(0, 1, true)); // nothing was ever faulted
    EXPECT_HOST_SIGBUS(c, 0);
    EXPECT_GUEST_READS(c, 0, 0u);
}

TEST_F(gmem_conversions, before_allocation_private, "CONV-04") {
    require_conversion();
    Conv c(1, false);
    ASSERT_OK(c.convert(0, 1, false));
    EXPECT_NO_SIGNAL(SIGBUS, harness::peek(c.host(0)));
    EXPECT_EQ(host_word(c, 0), 0u);
    host_set_word(c, 0, 0xD);
    EXPECT_GUEST_READS(c, 0, 0xDu);
}

// The series' case for a range whose folios are only partly allocated.
TEST_F(gmem_conversions, partially_allocated, "CONV-05") {
    require_conversion();
    Conv c(8, true);
    const std::uint64_t touched[] = {0, 2, 5};
    for (auto i : touched) host_set_word(c, i, 0x200 + i);
    ASSERT_OK(c.convert(0, 8, true)); // one call over all eight
    for (std::uint64_t i = 0; i < 8; ++i) {
        HARNESS_TRACE("page %llu of 8", static_cast<unsigned long long>(i));
        EXPECT_HOST_SIGBUS(c, i);
        const bool was_touched = i == 0 || i == 2 || i == 5;
        EXPECT_GUEST_READS(c, i, was_touched ? 0x200 + i : 0u);
    }
}

TEST_F(gmem_conversions, truncate, "CONV-06") {
    require_conversion();
    Conv c(2, true);
    ASSERT_OK(c.convert(1, 1, true));
    ASSERT_GUEST_DONE(c.guest_write(1, 0xE));
    c.gmem.punch_hole(static_cast<off_t>(page()), static_cast<off_t>(page()));
    EXPECT_HOST_SIGBUS(c, 1);        // still private after the hole
    EXPECT_GUEST_READS(c, 1, 0u);    // and zero again
    EXPECT_NO_SIGNAL(SIGBUS, harness::peek(c.host(0)));
}

TEST_F(gmem_conversions, forked_accesses, "CONV-07") {
    require_conversion();
    Conv c(1, true);
    host_set_word(c, 0, 0xF);
    int go[2];
    int ready[2];
    ASSERT_OK(::pipe2(go, O_CLOEXEC));
    ASSERT_OK(::pipe2(ready, O_CLOEXEC));
    gmem::Fd go_r(go[0]), go_w(go[1]), ready_r(ready[0]), ready_w(ready[1]);
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Another process with its own mapping of the file, faulted while shared.
        void* p = ::mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_SHARED, c.gmem.fd(), 0);
        int status = p != MAP_FAILED && *static_cast<volatile std::uint64_t*>(p) == 0xF ? 0 : 2;
        char b = 1;
        (void)!::write(ready_w.get(), &b, 1);
        (void)!::read(go_r.get(), &b, 1);
        if (status == 0 && !harness::catch_signal(SIGBUS, [&] { harness::peek(p); })) status = 3;
        ::_exit(status);
    }
    ASSERT_GT(pid, 0);
    char b;
    ASSERT_EQ(::read(ready_r.get(), &b, 1), 1);
    ASSERT_OK(c.convert(0, 1, true));
    ASSERT_EQ(::write(go_w.get(), &b, 1), 1);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // 0: the child's mapping SIGBUSed after to-private; 2: it could not read
    // the shared page first; 3: no SIGBUS.
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(gmem_conversions, pinned, "CONV-08 URING-06") {
    require_conversion();
    REQUIRE(Need().io_uring());
    Conv c(4, true);
    host_set_word(c, 1, 0x77);
    // A long-term pin of pages 1..2: an io_uring registered buffer (the
    // series' tests use gup_test; this works without CONFIG_GUP_TEST).
    auto ring = gmem::uring::Ring::try_create(4);
    ASSERT_OK(ring);
    iovec iov{c.host(1), 2 * page()};
    ASSERT_OK(ring->try_register_buffers({&iov, 1}));
    uapi::kvm_memory_attributes2 out{};
    EXPECT_ERRNO(c.convert(0, 4, true, &out), EAGAIN);
    EXPECT_EQ(out.error_offset, page()); // the first pinned page
    EXPECT_OK(c.convert(0, 4, false));   // to-shared never answers EAGAIN
    ASSERT_OK(ring->try_unregister_buffers());
    EXPECT_OK(c.convert(0, 4, true));
    EXPECT_GUEST_READS(c, 1, 0x77u); // data intact
}

TEST_F(gmem_conversions, bad_arguments, "CONV-09") {
    require_conversion();
    Conv c(2, true);
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
    EXPECT_ERRNO(with([](auto& a) { a.attributes = 1ULL << 63; }), EINVAL);
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

// Real on kernels without the series: the capability says the feature is
// off, so the ioctl must not exist on a guest_memfd, whatever its arguments.
TEST_F(gmem_conversions, disabled_answers_enotty, "CONV-09") {
    const unsigned long type = uapi::kvm_x86_default_vm;
    REQUIRE(Need().guest_memfd(type));
    const auto* t = gmem::kvm::features().vm_type(type);
    const long cap = t->caps.guest_memfd_memory_attributes.value_or(0);
    if (cap != 0)
        SKIP("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (number %ld) is %#lx on %s: not a kernel "
             "with the feature off",
             gmem::kvm::features().gmem_attr_cap_nr, cap, gmem::kvm::vm_type_name(type).c_str());
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
    Conv c(1, true);
    host_set_word(c, 0, 0x10);
    ASSERT_OK(c.convert(0, 1, false)); // shared -> shared
    EXPECT_NO_SIGNAL(SIGBUS, harness::peek(c.host(0)));
    EXPECT_EQ(host_word(c, 0), 0x10u);
    ASSERT_OK(c.convert(0, 1, true));
    ASSERT_OK(c.convert(0, 1, true)); // private -> private
    EXPECT_HOST_SIGBUS(c, 0);
    EXPECT_GUEST_READS(c, 0, 0x10u);
}

// Legacy mode: per-VM attributes on the VM fd, private GPAs with no
// guest_memfd behind them.
TEST_F(gmem_conversions, legacy_private_gpa_without_gmem, "CONV-11") {
    REQUIRE(Need().memory_attributes(sw_vm, private_attr));
    gmem::guest::GuestVm g(sw_vm);
    const std::uint64_t size = page();
    void* host = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_OK(host);
    gmem::Mapping keep(host, size);
    g.map_memory(gpa_base, host, size);
    ASSERT_OK(g.vm().try_set_memory_attributes(gpa_base, size, private_attr));
    auto r = g.run(gmem::guest::payload::peek, {gpa_base, 0, 0});
    EXPECT_EQ(gmem::guest::outcome_name(r.outcome), std::string_view("memory_fault"));
    EXPECT_EQ(r.err.code, EFAULT);
    EXPECT_TRUE((r.flags & uapi::kvm_memory_exit_flag_private) != 0);
    EXPECT_EQ(r.gpa, gpa_base);
}

GMEM_TEST_MAIN
