// Private memory as guest code sees it, in both models the kernel may run:
// legacy per-VM attributes (KVM_SET_MEMORY_ATTRIBUTES on the VM: a slot has a
// shared backing at userspace_addr and a private one in guest_memfd) and, with
// the in-place conversion series, per-gmem attributes (one set of pages).
//   private_mem.legacy_shared_and_private_backings  GUEST-05
//   private_mem.per_gmem_shared_and_private_backings GUEST-05 (the same two
//       backings, the attribute per guest_memfd)
//   private_mem_kvm_exits.*                          CONV-11 (the series'
//       private_mem_kvm_exits_test: private_access_memslot_deleted and
//       private_access_memslot_not_private)
//   private_mem_conversions.*                        CONV-12 (upstream
//       private_mem_conversions_test: vCPUs converting their own ranges)
// The VM type is KVM_X86_SW_PROTECTED_VM (private memory without hardware
// encryption). Which model the kernel runs is decided by behaviour:
// KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd exists (per-gmem) or answers
// ENOTTY (legacy); each test accepts only the running model's answer.
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"
#include "gmem/uapi/kvm_x86_extra.hpp"

#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <mutex>
#include <sstream>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

namespace uapi = gmem::uapi;
using gmem::guest::GuestVm;
using gmem::guest::Outcome;
using gmem::guest::RunResult;
using gmem::kvm::Need;

namespace {

constexpr unsigned long sw_vm = uapi::kvm_x86_sw_protected_vm;
constexpr std::uint64_t private_attr = uapi::kvm_memory_attribute_private;
constexpr std::uint64_t gpa_base = GMEM_GUEST_GMEM_GPA; // 4 GiB, as upstream

std::uint64_t page() { return gmem::page_size(); }

std::string hex(std::uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}

// Which attribute model the kernel runs for SW_PROTECTED VMs, by behaviour
// (the VM type must exist: ask after its gate).
enum class Model { legacy, per_gmem };
Model running_model() {
    const auto& f = gmem::kvm::features();
    return f.private_gmem(sw_vm) && f.vm_type(sw_vm)->in_place_conversion ? Model::per_gmem
                                                                          : Model::legacy;
}
// SKIPs unless the kernel runs `want`; the reason names what was seen.
void require_model(Model want) {
    REQUIRE(Need().vm_type(sw_vm).guest_memfd(sw_vm));
    const bool per_gmem = running_model() == Model::per_gmem;
    if (want == Model::legacy) {
        if (per_gmem)
            SKIP("the kernel tracks private memory per guest_memfd (KVM_SET_MEMORY_ATTRIBUTES2 on "
                 "a guest_memfd works): no legacy per-VM attributes to check");
        REQUIRE(Need().memory_attributes(sw_vm, private_attr));
    } else {
        REQUIRE(Need().in_place_conversion(sw_vm));
        REQUIRE(Need().private_gmem(sw_vm));
    }
}

// Anonymous shared memory owned by the test (the shared backing of a slot).
gmem::Mapping anon(std::uint64_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw gmem::Error("mmap anonymous", gmem::Errno::last());
    return gmem::Mapping(p, size);
}

std::uint64_t word_at(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
void set_word(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, sizeof(v)); }

// The guest's reads: peek returns the word at gpa.
RunResult guest_read(GuestVm& g, std::uint64_t gpa) {
    return g.run(gmem::guest::payload::peek, {gpa, 0, 0});
}
RunResult guest_write(GuestVm& g, std::uint64_t gpa, std::uint64_t v) {
    return g.run(gmem::guest::payload::peek, {gpa, 1, v});
}

} // namespace

// ---------------------------------------------------------------- GUEST-05 --
FIXTURE(private_mem) {};
FIXTURE_SETUP(private_mem) {}
FIXTURE_TEARDOWN(private_mem) {}

namespace {
// GUEST-05's slot: `pages` pages at gpa_base backed twice, by anonymous
// shared memory at userspace_addr and by a guest_memfd created without flags
// (no MMAP, so the slot is not gmem-only).
struct TwoBackings {
    GuestVm g{sw_vm};
    std::uint64_t size;
    gmem::Mapping shared;
    gmem::kvm::GuestMemfd gmem;
    explicit TwoBackings(unsigned pages)
        : size(pages * page()), shared(anon(size)), gmem(g.vm().create_guest_memfd(size, 0)) {
        g.map_gmem(gmem, gpa_base, 0, size, reinterpret_cast<std::uint64_t>(shared.get()));
    }
    std::uint64_t gpa(unsigned pg) const { return gpa_base + pg * page(); }
    std::uint8_t* host(unsigned pg) { return shared.data() + pg * page(); }
};
} // namespace

// How QEMU runs confidential VMs today (seed 003, "MOTIVATION"): one slot
// with a shared backing (userspace_addr) and a private one (guest_memfd);
// the per-VM PRIVATE attribute decides, per GPA, which one the guest sees
// (api.rst 4.141 KVM_SET_MEMORY_ATTRIBUTES; virt/kvm/kvm_main.c
// kvm_mem_is_private, arch/x86/kvm/mmu/mmu.c kvm_mmu_faultin_pfn: a private
// fault takes the pfn from kvm_gmem_get_pfn, a shared one from the hva).
TEST_F(private_mem, legacy_shared_and_private_backings, "GUEST-05") {
    require_model(Model::legacy);
    constexpr unsigned pages = 4;
    TwoBackings t(pages); // the guest_memfd: private, no host mapping at all
    for (unsigned i = 0; i < pages; ++i) set_word(t.host(i), 0x5a00 + i);

    // Pages 1 and 2 private; 0 and 3 shared.
    ASSERT_OK(t.g.vm().try_set_memory_attributes(t.gpa(1), 2 * page(), private_attr));
    for (unsigned i = 0; i < pages; ++i) {
        HARNESS_TRACE("page %u (%s)", i, i == 1 || i == 2 ? "private" : "shared");
        // Private pages come from the fresh guest_memfd (zeros), shared ones
        // from the shared backing.
        EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(i)), i == 1 || i == 2 ? 0u : 0x5a00u + i);
    }
    ASSERT_GUEST_DONE(guest_write(t.g, t.gpa(0), 0xc0de0));  // shared: lands in the backing
    ASSERT_GUEST_DONE(guest_write(t.g, t.gpa(1), 0xc0de1));  // private: lands in guest_memfd
    EXPECT_EQ(word_at(t.host(0)), 0xc0de0u);
    EXPECT_EQ(word_at(t.host(1)), 0x5a01u); // the private write never reaches the shared side
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(1)), 0xc0de1u);

    // Clearing the attribute shows the shared bytes again ...
    ASSERT_OK(t.g.vm().try_set_memory_attributes(t.gpa(1), page(), 0));
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(1)), 0x5a01u);
    // ... and setting it again shows guest_memfd's (nothing discarded them).
    ASSERT_OK(t.g.vm().try_set_memory_attributes(t.gpa(1), page(), private_attr));
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(1)), 0xc0de1u);
    // Unless they were punched meanwhile: then the private page is fresh.
    t.gmem.punch_hole(static_cast<off_t>(page()), static_cast<off_t>(page()));
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(1)), 0u);
    // Page 2 kept its (zero) private contents and page 3 its shared ones.
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(2)), 0u);
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(3)), 0x5a03u);
}

// The same two backings with the attribute kept per guest_memfd (in-place
// series): a guest_memfd without MMAP does not make its slot gmem-only, so
// the fault path still serves shared GPAs from userspace_addr and private
// ones from guest_memfd (arch/x86/kvm/mmu/mmu.c kvm_mmu_faultin_pfn: "if
// (fault->is_private || kvm_memslot_is_gmem_only(fault->slot))"), and
// KVM_SET_MEMORY_ATTRIBUTES2's "attribute values are shared with
// KVM_SET_MEMORY_ATTRIBUTES" (api.rst 4.146 of the series, patch 0017):
// PRIVATE means what GUEST-05 checks above. The guest reads each GPA before
// every conversion, so its stage-2 mapping exists: a conversion must take it
// down ("unmapping pages from the host or stage-2 page tables", same
// section) or the guest keeps reading the backing it had before.
TEST_F(private_mem, per_gmem_shared_and_private_backings, "GUEST-05") {
    require_model(Model::per_gmem);
    constexpr unsigned pages = 2;
    TwoBackings t(pages); // the guest_memfd: no MMAP, private at creation
    for (unsigned i = 0; i < pages; ++i) set_word(t.host(i), 0x5b00 + i);

    // Private at creation: the guest sees guest_memfd's fresh page, and its
    // write stays there.
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(0)), 0u);
    ASSERT_GUEST_DONE(guest_write(t.g, t.gpa(0), 0xd0d0));
    EXPECT_EQ(word_at(t.host(0)), 0x5b00u);

    // To shared: the shared backing, for reads and writes.
    ASSERT_OK(t.gmem.try_set_attributes(0, page(), 0));
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(0)), 0x5b00u);
    ASSERT_GUEST_DONE(guest_write(t.g, t.gpa(0), 0xd0d1));
    EXPECT_EQ(word_at(t.host(0)), 0xd0d1u);

    // Back to private: guest_memfd's page, which the conversions did not
    // touch ("KVM does not directly manipulate the memory contents").
    ASSERT_OK(t.gmem.try_set_attributes(0, page(), private_attr));
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(0)), 0xd0d0u);
    // The page not converted stayed private all along.
    EXPECT_GUEST_RETURNS(guest_read(t.g, t.gpa(1)), 0u);
}

// ---------------------------------------------------------------- CONV-11 --
FIXTURE(private_mem_kvm_exits) {};
FIXTURE_SETUP(private_mem_kvm_exits) {}
FIXTURE_TEARDOWN(private_mem_kvm_exits) {}

// A gmem slot deleted while its vCPU keeps reading a private GPA. Legacy:
// the per-VM PRIVATE attribute outlives the slot, and KVM refuses emulated
// MMIO on a private GPA: KVM_EXIT_MEMORY_FAULT (PRIVATE, the page), KVM_RUN
// EFAULT (arch/x86/kvm/mmu/mmu.c kvm_mmu_faultin_pfn ->
// kvm_mmu_prepare_memory_fault_exit). Per-gmem: the attributes left with the
// guest_memfd binding, so the GPA is shared and unbacked: KVM_EXIT_MMIO of
// the 8-byte read (the series' patch 46, "deleting the memslot ...
// effectively makes the memory shared").
TEST_F(private_mem_kvm_exits, private_access_memslot_deleted, "CONV-11") {
    REQUIRE(Need().vm_type(sw_vm).guest_memfd(sw_vm));
    const bool per_gmem = running_model() == Model::per_gmem;
    if (!per_gmem) require_model(Model::legacy);
    TH_LOG("attribute model: %s", per_gmem ? "per guest_memfd (in place)" : "legacy per-VM");

    GuestVm g(sw_vm);
    gmem::Mapping shared = anon(page());
    auto gmem = g.vm().create_guest_memfd(page(), 0); // private from the start in both models
    const std::uint32_t slot =
        g.map_gmem(gmem, gpa_base, 0, page(), reinterpret_cast<std::uint64_t>(shared.get()));
    if (!per_gmem) ASSERT_OK(g.vm().try_set_memory_attributes(gpa_base, page(), private_attr));

    RunResult r;
    std::thread vcpu([&] {
        gmem::guest::RunOptions opt;
        opt.timeout = std::chrono::seconds(20);
        r = g.run(gmem::guest::payload::read_loop, {gpa_base}, opt);
    });
    g.unmap(slot);
    vcpu.join();
    TH_LOG("vCPU stopped with: %s", r.describe().c_str());
    if (per_gmem) {
        ASSERT_EQ(gmem::guest::outcome_name(r.outcome), std::string_view("mmio"));
        EXPECT_EQ(r.gpa, gpa_base);
        EXPECT_EQ(r.size, 8u);
        EXPECT_FALSE(r.is_write);
    } else {
        ASSERT_EQ(gmem::guest::outcome_name(r.outcome), std::string_view("memory_fault"));
        EXPECT_EQ(r.err.code, EFAULT);
        EXPECT_EQ(r.flags, uapi::kvm_memory_exit_flag_private);
        EXPECT_EQ(r.gpa, gpa_base);
        EXPECT_EQ(r.size, page());
    }
}

// Legacy only: a private GPA whose slot has no guest_memfd at all. The series
// skips this case in per-gmem mode (a plain slot cannot be private there).
TEST_F(private_mem_kvm_exits, private_access_memslot_not_private, "CONV-11") {
    require_model(Model::legacy);
    GuestVm g(sw_vm);
    gmem::Mapping host = anon(page());
    g.map_memory(gpa_base, host.get(), page());
    ASSERT_OK(g.vm().try_set_memory_attributes(gpa_base, page(), private_attr));
    auto r = g.run(gmem::guest::payload::read_loop, {gpa_base});
    TH_LOG("vCPU stopped with: %s", r.describe().c_str());
    ASSERT_EQ(gmem::guest::outcome_name(r.outcome), std::string_view("memory_fault"));
    EXPECT_EQ(r.err.code, EFAULT);
    EXPECT_EQ(r.flags, uapi::kvm_memory_exit_flag_private);
    EXPECT_EQ(r.gpa, gpa_base);
    EXPECT_EQ(r.size, page());
}

// ---------------------------------------------------------------- CONV-12 --
// Conversions under load: several vCPUs, each with its own slot over its own
// part of one guest_memfd (and, legacy, of one shared memfd), run
// convert_stages (guest-code/payloads/convert_stages.c): the guest asks for
// each conversion with KVM_HC_MAP_GPA_RANGE (KVM_CAP_EXIT_HYPERCALL), the host
// converts (legacy: KVM_SET_MEMORY_ATTRIBUTES plus a punch of the backing not
// in use, as QEMU discards it; per-gmem: KVM_SET_MEMORY_ATTRIBUTES2) and, at
// each SYNC, checks what it may see.
namespace {

constexpr std::uint64_t mb2 = 2ULL << 20;
constexpr unsigned conv_vcpus = 2;
constexpr std::uint64_t map_private_attr = 1; // convert_stages' hypercall flags
constexpr std::uint64_t map_prealloc = 2;
constexpr std::uint64_t mode_in_place = 1; // convert_stages' mode bits
constexpr std::uint64_t mode_prealloc = 2;

struct ConvWorld {
    Model model;
    std::optional<GuestVm> g;
    gmem::kvm::GuestMemfd gmem;
    gmem::Fd shared_fd;      // legacy: the shared backing (a memfd)
    gmem::Mapping host_view; // legacy: the memfd's mapping; per-gmem: the gmem's
    std::uint64_t chunk = 0; // per vCPU: aligned to 2 MiB, as upstream
    std::uint64_t data = 0;  // per vCPU: what the guest uses (2 MiB + 4 KiB)
    std::mutex lock;
    std::vector<std::string> errors;

    void error(std::string e) {
        std::lock_guard<std::mutex> l(lock);
        errors.push_back(std::move(e));
    }
    std::uint8_t* hva(std::uint64_t gpa) const { return host_view.data() + (gpa - gpa_base); }

    // KVM_HC_MAP_GPA_RANGE from a vCPU: args gpa, pages, flags.
    std::optional<std::uint64_t> convert(std::uint64_t nr, std::span<const std::uint64_t> a) {
        if (nr != uapi::kvm_hc_map_gpa_range) {
            error("hypercall " + std::to_string(nr) + ", expected KVM_HC_MAP_GPA_RANGE (12)");
            return std::nullopt;
        }
        const std::uint64_t gpa = a[0], len = a[1] * page(), off = gpa - gpa_base;
        const bool to_private = a[2] & map_private_attr;
        auto fail = [&](const char* what, const gmem::Errno& e) -> std::optional<std::uint64_t> {
            error(std::string(what) + " for [" + hex(gpa) + ", +" + hex(len) + ") to " +
                  (to_private ? "private" : "shared") + ": " + e.describe());
            return 1; // the guest asserts ret == 0 and stops with the values
        };
        const auto ioff = static_cast<off_t>(off), ilen = static_cast<off_t>(len);
        if (model == Model::legacy) {
            if (auto r = g->vm().try_set_memory_attributes(gpa, len, to_private ? private_attr : 0);
                !r)
                return fail("KVM_SET_MEMORY_ATTRIBUTES", r.error());
            // Discard the side not in use now (QEMU: ram_block_discard_range).
            if (to_private) {
                if (::fallocate(shared_fd.get(), FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, ioff,
                                ilen) != 0)
                    return fail("punching the shared memfd", gmem::Errno::last());
                if (a[2] & map_prealloc)
                    if (auto r = gmem.try_fallocate(FALLOC_FL_KEEP_SIZE, ioff, ilen); !r)
                        return fail("allocating guest_memfd", r.error());
            } else if (auto r = gmem.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
                                                   ioff, ilen);
                       !r) {
                return fail("punching guest_memfd", r.error());
            }
        } else {
            uapi::kvm_memory_attributes2 out{};
            if (auto r = gmem.try_set_attributes(off, len, to_private ? private_attr : 0, &out);
                !r) {
                if (r.error().code == EAGAIN)
                    error("error_offset " + hex(out.error_offset));
                return fail("KVM_SET_MEMORY_ATTRIBUTES2", r.error());
            }
            if (to_private && (a[2] & map_prealloc))
                if (auto r = gmem.try_fallocate(FALLOC_FL_KEEP_SIZE, ioff, ilen); !r)
                    return fail("allocating guest_memfd", r.error());
        }
        return 0;
    }

    // A SYNC of convert_stages: {1, gpa, len, seed} shared, {2, gpa, len, 0} private.
    bool look(std::span<const std::uint64_t> v) {
        if (v.size() != 4) {
            error("SYNC with " + std::to_string(v.size()) + " values, expected 4");
            return false;
        }
        const std::uint64_t kind = v[0], gpa = v[1], len = v[2], seed = v[3];
        if (kind == 1) { // shared: the host sees the guest's pattern, then writes seed + 1's
            for (std::uint64_t a = gpa; a < gpa + len; a += 8) {
                const std::uint64_t want = gmem_pattern_word(seed, a / 8);
                if (const std::uint64_t got = word_at(hva(a)); got != want) {
                    error("host view of shared GPA " + hex(a) + ": " + hex(got) + ", expected " +
                          hex(want) + " (guest pattern " + hex(seed) + ")");
                    return false;
                }
                set_word(hva(a), gmem_pattern_word(seed + 1, a / 8));
            }
            return true;
        }
        if (kind == 2) { // private: legacy reads the discarded shared side, in place SIGBUSes
            for (std::uint64_t a = gpa; a < gpa + len; a += page()) {
                if (model == Model::legacy) {
                    for (std::uint64_t w = a; w < a + page(); w += 8)
                        if (const std::uint64_t got = word_at(hva(w)); got != 0) {
                            error("shared backing of private GPA " + hex(w) + " holds " +
                                  hex(got) + ", expected 0 (discarded at to-private)");
                            return false;
                        }
                } else if (!harness::catch_signal(SIGBUS, [&] { harness::peek(hva(a)); })) {
                    error("host read of private GPA " + hex(a) + " did not SIGBUS");
                    return false;
                }
            }
            return true;
        }
        error("SYNC kind " + std::to_string(kind));
        return false;
    }
};

void run_conversions(Model model) {
    ConvWorld w;
    w.model = model;
    w.data = mb2 + page();
    w.chunk = 2 * mb2; // align_up(2 MiB + 4 KiB, 2 MiB)
    const std::uint64_t total = w.chunk * conv_vcpus;
    w.g.emplace(sw_vm);
    GuestVm& g = *w.g;
    const auto exit_hc = g.vm().try_check_extension(uapi::cap::exit_hypercall);
    if (!exit_hc || !(*exit_hc & (1L << uapi::kvm_hc_map_gpa_range)))
        SKIP("KVM_CAP_EXIT_HYPERCALL is %ld: no KVM_HC_MAP_GPA_RANGE exits to ask for conversions",
             exit_hc.value_or(-1));
    ASSERT_OK(g.vm().try_enable_cap(uapi::cap::exit_hypercall, 1ULL << uapi::kvm_hc_map_gpa_range));
    if (model == Model::legacy) {
        w.gmem = g.vm().create_guest_memfd(total, 0);
        const int fd = ::memfd_create("conv12-shared", MFD_CLOEXEC);
        ASSERT_OK(fd);
        w.shared_fd = gmem::Fd(fd);
        ASSERT_OK(::ftruncate(fd, static_cast<off_t>(total)));
        void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_NE(p, MAP_FAILED);
        w.host_view = gmem::Mapping(p, total);
    } else {
        // One set of pages, shared to start with (the series' own test does
        // the same for per-gmem mode: MMAP | INIT_SHARED).
        REQUIRE(Need().gmem_flags(sw_vm, uapi::guest_memfd_flag_mmap |
                                             uapi::guest_memfd_flag_init_shared));
        w.gmem = g.vm().create_guest_memfd(
            total, uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared);
        w.host_view = w.gmem.mmap();
    }
    for (unsigned i = 0; i < conv_vcpus; ++i)
        g.map_gmem(w.gmem, gpa_base + i * w.chunk, i * w.chunk, w.chunk,
                   reinterpret_cast<std::uint64_t>(w.host_view.data() + i * w.chunk));
    for (unsigned i = 1; i < conv_vcpus; ++i) g.add_vcpu();

    const std::uint64_t modes[] = {0, mode_prealloc};
    std::vector<std::optional<RunResult>> results(conv_vcpus * 2);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < conv_vcpus; ++i)
        threads.emplace_back([&, i] {
            gmem::guest::RunOptions opt;
            opt.timeout = std::chrono::seconds(120);
            opt.on_sync = [&](std::span<const std::uint64_t> v) { return w.look(v); };
            opt.on_hypercall = [&](std::uint64_t nr, std::span<const std::uint64_t> a) {
                return w.convert(nr, a);
            };
            for (unsigned m = 0; m < 2; ++m) {
                const std::uint64_t mode =
                    modes[m] | (model == Model::per_gmem ? mode_in_place : 0);
                results[i * 2 + m] = g.run_on(i, gmem::guest::payload::convert_stages,
                                              {gpa_base + i * w.chunk, w.data, mode}, opt);
                if (!results[i * 2 + m]->ok()) break;
            }
        });
    for (auto& t : threads) t.join();
    for (const auto& e : w.errors) TH_LOG("host: %s", e.c_str());
    EXPECT_TRUE(w.errors.empty());
    for (unsigned i = 0; i < conv_vcpus; ++i)
        for (unsigned m = 0; m < 2; ++m) {
            HARNESS_TRACE("vCPU %u, %s", i, m ? "private backing preallocated" : "allocated by faults");
            if (!results[i * 2 + m]) {
                TH_LOG("vCPU %u: not run (its first run failed)", i);
                continue;
            }
            EXPECT_GUEST_RETURNS(*results[i * 2 + m], 5u); // all five stages
        }
}

} // namespace

FIXTURE(private_mem_conversions) {};
FIXTURE_SETUP(private_mem_conversions) {}
FIXTURE_TEARDOWN(private_mem_conversions) {}

TEST_F(private_mem_conversions, legacy, "CONV-12") {
    require_model(Model::legacy);
    run_conversions(Model::legacy);
}

TEST_F(private_mem_conversions, in_place, "CONV-12") {
    require_model(Model::per_gmem);
    run_conversions(Model::per_gmem);
}

GMEM_TEST_MAIN
