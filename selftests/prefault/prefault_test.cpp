// KVM_PRE_FAULT_MEMORY on guest_memfd slots (PREFAULT-01, PREFAULT-02), after
// upstream's tools/testing/selftests/kvm/pre_fault_memory_test.c: a slot of
// 2 MiB + 1 page at 4 GiB, the first 2 MiB pre-faulted whole, a range running
// one page past the slot, a range wholly outside it, and a second thread that
// deletes the slot while the vCPU pre-faults it.
//
// Beyond the return values, each check asks what got mapped: KVM's page
// statistics (the VM's binary stats, pages_4k/2m/1g) must grow by at least
// the pre-faulted bytes, and guest code then reads the range and must see the
// data: the host's pattern for shared gmem (written through the gmem's own
// mapping), in-place conversion keeps it for private gmem, fresh private
// memory (legacy per-VM attributes, gmem flags 0) reads zero. One variant
// binds the slot with a decoy userspace_addr (anonymous memory holding other
// bytes): a pre-fault that mapped the slot's host address instead of the
// guest_memfd would show the guest the decoy.
//
// Facts used (Linux 7.3 unless said):
// - virt/kvm/kvm_main.c, kvm_vcpu_pre_fault_memory: flags != 0 -> EINVAL;
//   gpa or size not page aligned, or gpa + size <= gpa (size 0, or the sum
//   overflows 64 bits) -> EINVAL, before anything is mapped; otherwise it maps
//   chunk by chunk, advancing gpa and shrinking size, and returns 0 if at
//   least one page was processed, else the error. kvm_vcpu_ioctl copies the
//   struct back after any answer ("Pass back leftover range").
// - api.rst 4.143 KVM_PRE_FAULT_MEMORY: "Returns: 0 if at least one page is
//   processed"; EINVAL for "not page aligned, causes an overflow, or size is
//   zero"; ENOENT "the specified gpa is outside defined memslots"; "If size >
//   0 on return, the caller can just issue the ioctl again".
// - arch/x86/kvm/mmu/mmu.c, kvm_tdp_page_prefault: RET_PF_EMULATE (no memslot)
//   -> ENOENT, RET_PF_SPURIOUS (already mapped) -> success;
//   kvm_handle_noslot_fault: a gfn beyond the host MAXPHYADDR is RET_PF_EMULATE
//   too, so any GPA without a slot answers ENOENT.
// - The vCPU need not have run: kvm_arch_vcpu_create (x86.c) calls
//   kvm_init_mmu, which with TDP sets root_mmu.page_fault = kvm_tdp_page_fault
//   (mmu.c init_kvm_tdp_mmu), and kvm_arch_vcpu_pre_fault_memory loads the
//   root itself (kvm_mmu_reload). Upstream's test pre-faults before its first
//   vcpu_run as well. maps_range pre-faults on a vCPU that never ran,
//   past_slot_end after a guest run, so both states are covered.
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <thread>

using namespace gmem;
using namespace gmem::guest;
using kvm::Need;

namespace {

constexpr std::uint64_t mmap_shared =
    uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;
constexpr std::uint64_t private_attr = uapi::kvm_memory_attribute_private;
constexpr std::uint64_t base = GMEM_GUEST_GMEM_GPA; // 4 GiB, 2 MiB aligned
constexpr std::uint64_t two_mib = 2ULL << 20;
constexpr std::uint64_t host_seed = 0x686f7374;  // "host"
constexpr std::uint64_t decoy_seed = 0x6465636f; // "deco"

std::uint64_t pg() {
    return page_size();
}

uapi::kvm_pre_fault_memory range_of(std::uint64_t gpa, std::uint64_t size,
                                    std::uint64_t flags = 0) {
    uapi::kvm_pre_fault_memory r{};
    r.gpa = gpa;
    r.size = size;
    r.flags = flags;
    return r;
}

std::string errno_or_ok(const Result<void>& r) {
    return r ? "success" : r.error().describe();
}

// The bytes the VM's stage-2 page tables map, from KVM's page statistics:
// x86.c kvm_vm_stats_desc pages_4k/2m/1g, counted by kvm_update_page_stats
// (mmu.h) wherever a leaf SPTE appears or goes (tdp_mmu.c
// handle_changed_spte, mmu.c for the shadow MMU).
Result<std::uint64_t> mapped_bytes(const kvm::Vm& vm) {
    std::uint64_t total = 0;
    const std::pair<const char*, std::uint64_t> stats[] = {
        {"pages_4k", 4096}, {"pages_2m", two_mib}, {"pages_1g", 1ULL << 30}};
    for (const auto& [name, bytes] : stats) {
        auto v = vm.try_read_stat(name);
        if (!v) return std::unexpected(v.error());
        total += *v * bytes;
    }
    return total;
}

// Pre-faults `range` and checks that the page statistics grew by at least
// `want_mapped` bytes (a huge mapping may cover more than was asked).
Result<void> pre_fault_counted(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                               uapi::kvm_pre_fault_memory& range, std::uint64_t want_mapped) {
    auto before = mapped_bytes(vm);
    auto r = vcpu.try_pre_fault_memory(range);
    auto after = mapped_bytes(vm);
    if (!before || !after) {
        OBSERVE("no KVM page statistics to count the mapping: %s",
                (before ? after : before).error().describe().c_str());
    } else {
        const std::uint64_t delta = *after - *before;
        EXPECT_GE(delta, want_mapped);
        TH_LOG("pre-fault of 0x%llx bytes: stage-2 mappings grew by 0x%llx bytes",
                static_cast<unsigned long long>(want_mapped),
                static_cast<unsigned long long>(delta));
    }
    return r;
}

// Deletes a memslot from its own thread once told to go; joined on
// destruction whatever happened in the test.
class SlotDeleter {
  public:
    SlotDeleter(const kvm::Vm& vm, std::uint32_t slot, std::chrono::microseconds delay)
        : thread_([this, &vm, slot, delay] {
              ready_.store(true);
              while (!go_.load()) {
              }
              const auto until = std::chrono::steady_clock::now() + delay;
              while (std::chrono::steady_clock::now() < until) {
              }
              result_ = vm.try_delete_memslot(slot);
          }) {
        while (!ready_.load()) {
        }
    }
    ~SlotDeleter() { join(); }
    SlotDeleter(const SlotDeleter&) = delete;
    SlotDeleter& operator=(const SlotDeleter&) = delete;

    void go() { go_.store(true); }
    Result<void> join() {
        go();
        if (thread_.joinable()) thread_.join();
        return result_;
    }

  private:
    std::atomic<bool> ready_{false};
    std::atomic<bool> go_{false};
    Result<void> result_{};
    std::thread thread_; // last: starts after the flags exist
};

} // namespace

// What backs the slot: shared gmem bound with its own mapping as
// userspace_addr (as a VMM binds it), the same with a decoy address, or
// private gmem.
enum class Mem { shared, shared_decoy, priv };

FIXTURE(prefault) {
    std::optional<GuestVm> g;
    kvm::GuestMemfd gmem;
    Mapping host;
    Mapping decoy;
    std::uint64_t size = 0; // of the slot (2 MiB + 1 page)
    std::uint32_t slot = 0;
    std::uint64_t uaddr = 0;     // the slot's userspace_addr
    std::uint64_t seed = 0;      // what the guest must read: pattern seed, 0 = zeros
    bool legacy_private = false; // private through the per-VM attributes
    std::uint64_t end() const {
        return base + size;
    }
    kvm::Memslot memslot() const {
        return kvm::Memslot::for_gmem(slot, base, size, gmem.fd(), 0, uaddr);
    }
};

FIXTURE_VARIANT(prefault) {
    unsigned long vm_type;
    Mem mem;
};
FIXTURE_VARIANT_ADD(prefault, default_vm_shared) {
    .vm_type = uapi::kvm_x86_default_vm, .mem = Mem::shared};
FIXTURE_VARIANT_ADD(prefault, default_vm_shared_decoy) {
    .vm_type = uapi::kvm_x86_default_vm, .mem = Mem::shared_decoy};
FIXTURE_VARIANT_ADD(prefault, sw_protected_vm_shared) {
    .vm_type = uapi::kvm_x86_sw_protected_vm, .mem = Mem::shared};
FIXTURE_VARIANT_ADD(prefault, sw_protected_vm_private) {
    .vm_type = uapi::kvm_x86_sw_protected_vm, .mem = Mem::priv};

FIXTURE_SETUP(prefault) {
    const unsigned long type = variant->vm_type;
    REQUIRE(Need().pre_fault_memory(type));
    self->size = two_mib + pg(); // upstream's TEST_SIZE
    if (variant->mem != Mem::priv) {
        REQUIRE(Need().shared_gmem(type));
        self->g.emplace(type);
        self->gmem = self->g->vm().create_guest_memfd(self->size, mmap_shared);
        self->host = self->gmem.mmap();
        fill_pattern(self->host.bytes(), host_seed);
        self->seed = host_seed;
        self->uaddr = reinterpret_cast<std::uint64_t>(self->host.get());
        if (variant->mem == Mem::shared_decoy) {
            void* p = ::mmap(nullptr, self->size, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            ASSERT_OK(p);
            self->decoy = Mapping(p, self->size);
            fill_pattern(self->decoy.bytes(), decoy_seed);
            self->uaddr = reinterpret_cast<std::uint64_t>(p);
        }
        self->slot = self->g->map_gmem(self->gmem, base, 0, self->size, self->uaddr);
        return;
    }

    // Private memory, the way the kernel offers it. Legacy: PRIVATE in the
    // per-VM KVM_CAP_MEMORY_ATTRIBUTES, a guest_memfd that can only be
    // private (flags 0: 7.3 x86.c kvm_arch_supports_gmem_init_shared is false
    // for VMs with private memory) and KVM_SET_MEMORY_ATTRIBUTES on the GPAs
    // (api.rst). In-place conversion (series v8, kvm.gmem_in_place_conversion=1):
    // the per-VM attributes are gone (KVM_CAP_MEMORY_ATTRIBUTES 0) and the
    // state belongs to the guest_memfd (KVM_SET_MEMORY_ATTRIBUTES2 on it);
    // INIT_SHARED is allowed then (patch 25), so the host writes the pattern
    // and converts the range to private, which keeps the data (CONV-02).
    REQUIRE(Need().private_gmem(type));
    const kvm::VmTypeInfo* t = kvm::features().vm_type(type);
    const bool legacy =
        (static_cast<std::uint64_t>(t->caps.memory_attributes.value_or(0)) & private_attr) != 0;
    self->g.emplace(type);
    self->legacy_private = legacy;
    if (legacy) {
        self->gmem = self->g->vm().create_guest_memfd(self->size, 0);
        self->seed = 0; // fresh private pages read zero (CONV-01)
        self->uaddr = 0;
        self->slot = self->g->map_gmem(self->gmem, base, 0, self->size, 0);
        ASSERT_OK(self->g->vm().try_set_memory_attributes(base, self->size, private_attr));
        TH_LOG("private: legacy per-VM KVM_SET_MEMORY_ATTRIBUTES, guest_memfd flags 0");
    } else {
        REQUIRE(Need().gmem_flags(type, mmap_shared));
        self->gmem = self->g->vm().create_guest_memfd(self->size, mmap_shared);
        self->host = self->gmem.mmap();
        fill_pattern(self->host.bytes(), host_seed);
        ASSERT_OK(self->gmem.try_set_attributes(0, self->size, private_attr));
        self->seed = host_seed;
        self->uaddr = reinterpret_cast<std::uint64_t>(self->host.get());
        self->slot = self->g->map_gmem(self->gmem, base, 0, self->size, self->uaddr);
        TH_LOG("private: in-place conversion, KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd");
    }
}

FIXTURE_TEARDOWN(prefault) {}

// Upstream's first case, on a vCPU that never ran: the first 2 MiB of the
// slot in one call. All of it is in the slot, so size ends at 0 and gpa at
// the end of the range; asking again maps nothing new and still succeeds
// (RET_PF_SPURIOUS). The guest then reads what was pre-faulted.
TEST_F(prefault, maps_range, "PREFAULT-01") {
    auto& g = *self->g;
    auto r = range_of(base, two_mib);
    ASSERT_OK(pre_fault_counted(g.vm(), g.vcpu(), r, two_mib));
    EXPECT_EQ(r.size, 0u);
    EXPECT_EQ(r.gpa, base + two_mib);
    EXPECT_EQ(r.flags, 0u);

    auto again = range_of(base, two_mib);
    ASSERT_OK(g.vcpu().try_pre_fault_memory(again));
    EXPECT_EQ(again.size, 0u);
    EXPECT_EQ(again.gpa, base + two_mib);

    ASSERT_GUEST_RETURNS(g.run(payload::check_pattern, {base, two_mib, self->seed, 0}), two_mib);
}

// Upstream's second case, after a guest run: [2 MiB, +2 pages) of a slot of
// 2 MiB + 1 page. The first call maps the page inside and succeeds (a page
// was processed) with exactly the outside page left; asking again for that
// leftover, as api.rst suggests, answers ENOENT and changes nothing.
TEST_F(prefault, past_slot_end, "PREFAULT-01") {
    auto& g = *self->g;
    ASSERT_GUEST_DONE(g.run(payload::echo, {1, 2, 3, 4, 5, 6}));

    const std::uint64_t inside = self->size - two_mib; // one page
    auto r = range_of(base + two_mib, 2 * pg());
    ASSERT_OK(pre_fault_counted(g.vm(), g.vcpu(), r, inside));
    EXPECT_EQ(r.gpa, self->end());
    EXPECT_EQ(r.size, 2 * pg() - inside);

    auto left = r;
    EXPECT_ERRNO(g.vcpu().try_pre_fault_memory(left), ENOENT);
    EXPECT_EQ(left.gpa, r.gpa);
    EXPECT_EQ(left.size, r.size);

    EXPECT_GUEST_RETURNS(
        g.run(payload::check_pattern, {base + two_mib, inside, self->seed, two_mib}), inside);
}

// Upstream's third case and more: a range starting where no memslot is
// answers ENOENT with nothing processed, so gpa and size come back as given.
// The GPAs: right after the slot, GPA 0 and one page (below the core slot at
// 1 MiB), just after the core slot, 2 GiB, and beyond any MAXPHYADDR (2^52,
// 2^63: mmu.c kvm_handle_noslot_fault, gfn > kvm_mmu_max_gfn -> emulate).
TEST_F(prefault, outside_memslots, "PREFAULT-01") {
    auto& g = *self->g;
    const std::uint64_t gpas[] = {self->end(), 0,          pg(),      GMEM_GUEST_CORE_END,
                                  1ULL << 31,  1ULL << 52, 1ULL << 63};
    for (const std::uint64_t gpa : gpas) {
        HARNESS_TRACE("gpa 0x%llx, size one page", static_cast<unsigned long long>(gpa));
        auto r = range_of(gpa, pg());
        EXPECT_ERRNO(g.vcpu().try_pre_fault_memory(r), ENOENT);
        EXPECT_EQ(r.gpa, gpa);
        EXPECT_EQ(r.size, pg());
    }
    // The slot is untouched by all that: a pre-fault of all of it still works.
    auto r = range_of(base, self->size);
    EXPECT_OK(g.vcpu().try_pre_fault_memory(r));
    EXPECT_EQ(r.size, 0u);
}

// The argument checks of kvm_vcpu_pre_fault_memory (kvm_main.c) and api.rst,
// at their boundaries: every flag bit; gpa x size over 0, page - 1, page,
// 2^63, 2^64 - page (and the slot's first and last page as gpa). The expected
// answer of each pair follows from the documented rules, in their order:
// unaligned, size 0 or gpa + size overflowing 64 bits -> EINVAL, unchanged;
// gpa outside the memslots -> ENOENT, unchanged; else the part up to the
// slot's end is mapped: success, gpa advanced, size shrunk by it.
TEST_F(prefault, bad_arguments, "PREFAULT-01") {
    auto& g = *self->g;
    const std::uint64_t P = pg();
    for (unsigned bit = 0; bit < 64; ++bit) {
        HARNESS_TRACE("flags bit %u", bit);
        auto r = range_of(base, P, 1ULL << bit);
        EXPECT_ERRNO(g.vcpu().try_pre_fault_memory(r), EINVAL);
        EXPECT_EQ(r.gpa, base);
        EXPECT_EQ(r.size, P);
        EXPECT_EQ(r.flags, 1ULL << bit);
    }

    const std::uint64_t gpas[] = {0, P - 1, P, base, self->end() - P, 1ULL << 63, 0 - P};
    const std::uint64_t sizes[] = {0, P - 1, P, 1ULL << 63, 0 - P};
    for (const std::uint64_t gpa : gpas) {
        for (const std::uint64_t size : sizes) {
            HARNESS_TRACE("gpa 0x%llx, size 0x%llx", static_cast<unsigned long long>(gpa),
                          static_cast<unsigned long long>(size));
            int want_err = 0;
            std::uint64_t want_gpa = gpa, want_size = size;
            if (gpa % P != 0 || size % P != 0 || gpa + size <= gpa) {
                want_err = EINVAL;
            } else if (gpa < base || gpa >= self->end()) {
                want_err = ENOENT;
            } else {
                const std::uint64_t mapped = std::min(size, self->end() - gpa);
                want_gpa = gpa + mapped;
                want_size = size - mapped;
            }
            auto r = range_of(gpa, size);
            auto res = g.vcpu().try_pre_fault_memory(r);
            if (want_err == 0) {
                EXPECT_OK(res);
            } else {
                EXPECT_ERRNO(res, want_err);
            }
            EXPECT_EQ(r.gpa, want_gpa);
            EXPECT_EQ(r.size, want_size);
        }
    }

    // padding[5] is not checked by kvm_main.c and api.rst says nothing of it.
    auto r = range_of(base, P);
    for (auto& w : r.padding)
        w = ~0ULL;
    auto res = g.vcpu().try_pre_fault_memory(r);
    OBSERVE("padding all ones, valid range: %s, %llu bytes left", errno_or_ok(res).c_str(),
            static_cast<unsigned long long>(r.size));
}

// Upstream's race: a second thread deletes the slot while the vCPU
// pre-faults all of it, over several rounds with different delays before the
// delete. Every call must come back (the test's timeout catches a hang) with
// kvm_main.c's invariant: success iff something was mapped, so success means
// a smaller size and a failure an unchanged range. Failures the 7.3 kernel
// can give for this race:
// - ENOENT: the slot was gone already (api.rst);
// - EAGAIN: the slot was being deleted (mmu.c kvm_mmu_faultin_pfn: a slot with
//   KVM_MEMSLOT_INVALID "Punt the error to userspace if this is a prefault");
// - EFAULT, private memory only: the GPA is still private but has no slot
//   (mmu.c kvm_handle_noslot_fault / the private mismatch check in
//   kvm_mmu_faultin_pfn, both -EFAULT with a memory-fault exit).
// After each round the slot is created again and a pre-fault of all of it
// must map everything, and at the end the guest still reads the data.
// A first round deletes the slot before the call, where the answer is exact:
// ENOENT (no memslot, api.rst), except for private memory with the legacy
// per-VM attributes: those belong to the GPA and outlive the slot, so the
// fault is private without a slot, which kvm_handle_noslot_fault (mmu.c)
// answers with EFAULT. In-place conversion keeps the state in the
// guest_memfd, and without a slot the GPA is shared (series v8 patch 9,
// kvm_gmem_is_private: "If this gfn has no associated memslot, there's no
// chance of the gfn being backed by private memory"): ENOENT.
TEST_F_TIMEOUT(prefault, delete_slot_race, 60, "PREFAULT-02") {
    auto& g = *self->g;
    const bool priv = variant->mem == Mem::priv;
    {
        HARNESS_TRACE("slot deleted before the call");
        g.vm().delete_memslot(self->slot);
        auto r = range_of(base, self->size);
        EXPECT_ERRNO(g.vcpu().try_pre_fault_memory(r), self->legacy_private ? EFAULT : ENOENT);
        EXPECT_EQ(r.gpa, base);
        EXPECT_EQ(r.size, self->size);
        g.vm().set_memslot(self->memslot());
    }
    const std::chrono::microseconds delays[] = {
        std::chrono::microseconds{0},   std::chrono::microseconds{0},
        std::chrono::microseconds{20},  std::chrono::microseconds{50},
        std::chrono::microseconds{100}, std::chrono::microseconds{200},
        std::chrono::microseconds{500}, std::chrono::microseconds{1000}};
    std::map<std::string, unsigned> tally;
    for (unsigned round = 0; round < std::size(delays); ++round) {
        HARNESS_TRACE("round %u, delete after %lld us", round,
                      static_cast<long long>(delays[round].count()));
        auto r = range_of(base, self->size);
        Result<void> res;
        {
            SlotDeleter deleter(g.vm(), self->slot, delays[round]);
            deleter.go();
            res = g.vcpu().try_pre_fault_memory(r);
            ASSERT_OK(deleter.join());
        }
        if (res) {
            EXPECT_LT(r.size, self->size);
            EXPECT_EQ(r.gpa + r.size, self->end());
            ++tally[r.size == 0 ? "success, all mapped" : "success, partly mapped"];
        } else {
            const int e = res.error().code;
            const bool allowed = e == ENOENT || e == EAGAIN || (priv && e == EFAULT);
            if (!allowed)
                ::harness::fail_here(
                    __FILE__, __LINE__,
                    "pre-fault racing a slot deletion answered " + res.error().describe() +
                        ", expected success, ENOENT, EAGAIN" + (priv ? " or EFAULT" : ""),
                    false);
            EXPECT_EQ(r.gpa, base);
            EXPECT_EQ(r.size, self->size);
            ++tally[res.error().name()];
        }

        g.vm().set_memslot(self->memslot());
        auto again = range_of(base, self->size);
        ASSERT_OK(g.vcpu().try_pre_fault_memory(again));
        EXPECT_EQ(again.size, 0u);
        EXPECT_EQ(again.gpa, self->end());
    }
    std::string seen;
    for (const auto& [what, n] : tally)
        seen += (seen.empty() ? "" : ", ") + what + " x" + std::to_string(n);
    TH_LOG("pre-fault racing slot deletion, %zu rounds: %s", std::size(delays), seen.c_str());

    ASSERT_GUEST_RETURNS(g.run(payload::check_pattern, {base, self->size, self->seed, 0}),
                         self->size);
}

GMEM_TEST_MAIN
