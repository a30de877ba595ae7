// Host mappings of a guest_memfd (MMAP-01..09), for every VM type and creation
// flag set the kernel offers. Expectations: spec/BEHAVIORS.md MMAP, UAPI.md
// "Kernel answers worth knowing", upstream virt/kvm/guest_memfd.c
// (kvm_gmem_mmap, kvm_gmem_fault_user_mapping, kvm_gmem_{set,get}_policy) and
// tools/testing/selftests/kvm/guest_memfd_test.c (test_mmap_*, test_fault_*,
// test_collapse, test_mbind, test_numa_allocation).
#include "gmem/uapi/gmem.hpp"
#include "gmem_common.hpp"

#include <cerrno>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace gmem_test;
using gmem::Mapping;

namespace {

constexpr std::size_t file_pages = 4; // upstream gmem_test() uses page_size * 4

Mapping map_shared(const GuestMemfd& g, std::size_t len) {
    return g.mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
}

} // namespace

FIXTURE(mmap) {
    std::optional<Kvm> kvm;
    Vm vm;
    GuestMemfd gmem;
    std::size_t size = 0;
};
FIXTURE_VARIANT(mmap) {
    unsigned long vm_type;
    std::uint64_t flags;
};
GMEM_FLAG_VARIANTS(mmap);

FIXTURE_SETUP(mmap) {
    GMEM_SETUP_VM(self, variant);
    self->size = file_pages * page();
    self->gmem = self->vm.create_guest_memfd(self->size, variant->flags);
}
FIXTURE_TEARDOWN(mmap) {}

// kvm_gmem_mmap(): no MMAP flag -> -ENODEV. With MMAP the same call succeeds.
TEST_F(mmap, needs_mmap_flag, "MMAP-01") {
    const auto& g = self->gmem;
    if (!has_mmap(variant->flags)) {
        EXPECT_ERRNO(g.try_mmap(page(), PROT_READ | PROT_WRITE, MAP_SHARED), ENODEV);
        EXPECT_ERRNO(g.try_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED), ENODEV);
        EXPECT_ERRNO(g.try_mmap(page(), PROT_READ, MAP_SHARED), ENODEV);
    } else {
        EXPECT_OK(g.try_mmap(page(), PROT_READ | PROT_WRITE, MAP_SHARED));
        EXPECT_OK(g.try_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED));
    }
}

// kvm_gmem_mmap(): without VM_SHARED|VM_MAYSHARE -> -EINVAL (no copy-on-write,
// upstream test_mmap_cow). The MMAP check comes first, so a file without MMAP
// answers ENODEV to MAP_PRIVATE too.
TEST_F(mmap, map_private_fails, "MMAP-02") {
    const int want = has_mmap(variant->flags) ? EINVAL : ENODEV;
    const auto& g = self->gmem;
    EXPECT_ERRNO(g.try_mmap(self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE), want);
    EXPECT_ERRNO(g.try_mmap(page(), PROT_READ, MAP_PRIVATE), want);
}

TEST_F(mmap, read_write, "MMAP-03") {
    GMEM_ONLY_FOR(has_shared(variant->flags),
                  "needs MMAP|INIT_SHARED; this variant's file is created with %s (see %s)",
                  flags_text(variant->flags).c_str(),
                  has_mmap(variant->flags) ? "MMAP-05" : "MMAP-01");
    const Mapping m = map_shared(self->gmem, self->size);
    std::uint8_t* p = m.data();
    std::size_t at = 0;
    // Fresh memory reads zero.
    ASSERT_NO_SIGNAL(SIGBUS, at = nonzero_at(p, self->size));
    EXPECT_EQ(at, self->size);
    // A pattern reads back byte for byte.
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, self->size, 0xa5));
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(p, self->size, 0xa5));
    EXPECT_EQ(at, self->size);
    // So does a second pattern over the first (the pages are written, not cached).
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, self->size, 0x3c));
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(p, self->size, 0x3c));
    EXPECT_EQ(at, self->size);
}

// kvm_gmem_fault_user_mapping(): pgoff >= i_size -> VM_FAULT_SIGBUS. Upstream
// test_fault_overflow maps four times the file.
TEST_F(mmap, beyond_eof_sigbus, "MMAP-04") {
    GMEM_ONLY_FOR(has_shared(variant->flags),
                  "needs MMAP|INIT_SHARED so that the inside is accessible; this variant's file "
                  "is created with %s (see %s)",
                  flags_text(variant->flags).c_str(),
                  has_mmap(variant->flags) ? "MMAP-05" : "MMAP-01");
    const std::size_t map_len = 4 * self->size;
    const Mapping m = map_shared(self->gmem, map_len);
    std::uint8_t* p = m.data();
    const std::size_t size = self->size;
    std::size_t at = 0;
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, size, 0x77));
    EXPECT_SIGNAL(SIGBUS, harness::poke(p + size, 1));
    EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p + size));
    EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p + size + page() - 1));
    EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p + map_len - 1));
    // Writing the whole mapping stops at the end of the file...
    EXPECT_SIGNAL(SIGBUS, fill_pattern(p, map_len, 0x77));
    // ...and the inside stays accessible, with its data.
    EXPECT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(p, size, 0x77));
    EXPECT_EQ(at, size);
    EXPECT_NO_SIGNAL(SIGBUS, harness::poke(p + size - 1, 0x11));
    EXPECT_NO_SIGNAL(SIGBUS, at = harness::peek(p + size - 1));
    EXPECT_EQ(at, 0x11u);
}

// kvm_gmem_fault_user_mapping(): a file without INIT_SHARED -> VM_FAULT_SIGBUS
// for every page (upstream test_fault_private). With in-place conversion the
// pages of such a file start private, which SIGBUSes as well (CONV-01).
TEST_F(mmap, private_pages_sigbus, "MMAP-05") {
    GMEM_ONLY_FOR(has_mmap(variant->flags) && !has_shared(variant->flags),
                  "checks MMAP without INIT_SHARED; this variant's file is created with %s",
                  flags_text(variant->flags).c_str());
    const Mapping m = map_shared(self->gmem, self->size);
    std::uint8_t* p = m.data();
    for (std::size_t pg = 0; pg < file_pages; ++pg) {
        HARNESS_TRACE("page %zu", pg);
        EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p + pg * page()));
        EXPECT_SIGNAL(SIGBUS, harness::poke(p + pg * page(), 1));
        EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p + pg * page() + page() - 1));
    }
    // fallocate does not make them accessible: allocation is not sharing.
    ASSERT_OK(self->gmem.try_fallocate(FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(self->size)));
    EXPECT_SIGNAL(SIGBUS, (void)harness::peek(p));
}

// kvm_gmem_punch_hole(): truncate_inode_pages_range over exactly the range;
// the page refaults as a fresh zeroed page (upstream test_mmap_supported).
TEST_F(mmap, punch_hole_zeroes_exactly, "MMAP-06") {
    GMEM_ONLY_FOR(has_shared(variant->flags),
                  "needs MMAP|INIT_SHARED to see the bytes; this variant's file is created with %s",
                  flags_text(variant->flags).c_str());
    const std::size_t size = self->size;
    const Mapping m1 = map_shared(self->gmem, size);
    const Mapping m2 = map_shared(self->gmem, size);
    std::size_t at = 0;
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(m1.data(), size, 0xc3));
    // Punch page 1 (a hole with data on both sides).
    ASSERT_OK(
        self->gmem.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, opage(), opage()));
    for (const Mapping* m : {&m1, &m2}) {
        HARNESS_TRACE("mapping %d", m == &m1 ? 1 : 2);
        std::uint8_t* p = m->data();
        ASSERT_NO_SIGNAL(SIGBUS, at = nonzero_at(p + page(), page()));
        EXPECT_EQ(at, page());
        ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(p, page(), 0xc3));
        EXPECT_EQ(at, page());
        ASSERT_NO_SIGNAL(
            SIGBUS, at = pattern_mismatch(p + 2 * page(), size - 2 * page(), 0xc3, 2 * page()));
        EXPECT_EQ(at, size - 2 * page());
    }
    // The hole can be written again, and both mappings see it.
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(m2.data() + page(), page(), 0x1e, page()));
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m1.data() + page(), page(), 0x1e, page()));
    EXPECT_EQ(at, page());
    // A multi-page hole at the end.
    ASSERT_OK(self->gmem.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 2 * opage(),
                                       2 * opage()));
    ASSERT_NO_SIGNAL(SIGBUS, at = nonzero_at(m2.data() + 2 * page(), 2 * page()));
    EXPECT_EQ(at, 2 * page());
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m2.data(), page(), 0xc3));
    EXPECT_EQ(at, page());
}

TEST_F(mmap, mappings_share_pages, "MMAP-07") {
    GMEM_ONLY_FOR(has_shared(variant->flags),
                  "needs MMAP|INIT_SHARED to see the bytes; this variant's file is created with %s",
                  flags_text(variant->flags).c_str());
    const std::size_t size = self->size;
    const Mapping m1 = map_shared(self->gmem, size);
    const Mapping m2 = map_shared(self->gmem, size);
    ASSERT_NE(m1.data(), m2.data());
    std::size_t at = 0;
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(m1.data(), size, 0x21));
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m2.data(), size, 0x21));
    EXPECT_EQ(at, size);
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(m2.data(), size, 0x42));
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m1.data(), size, 0x42));
    EXPECT_EQ(at, size);

    // A forked child maps the inherited fd anew: it sees the parent's bytes,
    // and the parent sees what the child writes.
    const GuestMemfd& g = self->gmem;
    const bool child_ok = harness::run_in_child([&] {
        const Mapping mc = map_shared(g, size);
        std::size_t cat = 0;
        ASSERT_NO_SIGNAL(SIGBUS, cat = pattern_mismatch(mc.data(), size, 0x42));
        EXPECT_EQ(cat, size);
        ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(mc.data(), size, 0x84));
    });
    ASSERT_TRUE(child_ok);
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m1.data(), size, 0x84));
    EXPECT_EQ(at, size);
    ASSERT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(m2.data(), size, 0x84));
    EXPECT_EQ(at, size);
}

// Upstream test_collapse: a PMD-aligned mapping at a PMD-aligned offset;
// MADV_HUGEPAGE is accepted, MADV_COLLAPSE answers EINVAL (guest_memfd folios
// are never collapsed into host page tables), MADV_DONTNEED then a re-touch
// works and, the mapping being a shared file mapping, keeps the data.
TEST_F(mmap, madvise, "MMAP-08") {
    GMEM_ONLY_FOR(has_shared(variant->flags),
                  "needs MMAP|INIT_SHARED to touch the pages; this variant's file is created "
                  "with %s",
                  flags_text(variant->flags).c_str());
    REQUIRE(Need().thp());
    const std::size_t pmd = gmem::kvm::features().thp_pmd_size;
    ASSERT_GT(pmd, page());
    const GuestMemfd g = self->vm.create_guest_memfd(pmd, variant->flags);
    // Reserve twice the size, then map the file MAP_FIXED at the aligned
    // address inside; unmapping the reservation unmaps both.
    void* res = ::mmap(nullptr, 2 * pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_OK(res);
    const Mapping reservation(res, 2 * pmd);
    const auto aligned = (reinterpret_cast<std::uintptr_t>(res) + pmd - 1) & ~(pmd - 1);
    void* fixed = ::mmap(reinterpret_cast<void*>(aligned), pmd, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_FIXED, g.fd(), 0);
    ASSERT_OK(fixed);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(fixed), aligned);
    auto* p = static_cast<std::uint8_t*>(fixed);

    // Populate by reads (upstream: avoids dirtying the pages before collapse).
    std::size_t at = 0;
    ASSERT_NO_SIGNAL(SIGBUS, at = nonzero_at(p, pmd));
    EXPECT_EQ(at, pmd);
    EXPECT_OK(::madvise(p, pmd, gmem::uapi::madv_hugepage));
    EXPECT_ERRNO(::madvise(p, pmd, gmem::uapi::madv_collapse), EINVAL);

    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, pmd, 0x69));
    EXPECT_OK(::madvise(p, pmd, gmem::uapi::madv_dontneed));
    EXPECT_NO_SIGNAL(SIGBUS, at = pattern_mismatch(p, pmd, 0x69));
    EXPECT_EQ(at, pmd);
}

namespace {
long sys_mbind(void* addr, unsigned long len, int mode, const unsigned long* nodemask,
               unsigned long maxnode, unsigned flags) {
    return ::syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
}
long sys_get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, void* addr,
                       unsigned long flags) {
    return ::syscall(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags);
}
long sys_move_pages(int pid, unsigned long count, void** pages, const int* nodes, int* status,
                    int flags) {
    return ::syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}
} // namespace

// Upstream test_mbind and test_numa_allocation (guest_memfd.c implements
// .set_policy/.get_policy with a shared policy on the inode): the policy set
// by mbind is what get_mempolicy(MPOL_F_ADDR) reports, a bad mode is EINVAL,
// and pages allocated after the policy was set land on the policy's node,
// also after a hole was punched and the policy changed. Nodes 0 and 1.
TEST_F(mmap, numa_policy, "MMAP-09") {
    GMEM_ONLY_FOR(has_mmap(variant->flags),
                  "needs MMAP to mbind the mapping; this variant's file is created with %s",
                  flags_text(variant->flags).c_str());
    REQUIRE(Need().numa_nodes(2));
    const std::size_t size = self->size;
    const Mapping m = map_shared(self->gmem, size);
    std::uint8_t* p = m.data();
    const unsigned long node0 = 1, node1 = 2;
    const unsigned long maxnode = 8 * sizeof(unsigned long);
    int mode = -1;
    unsigned long mask = 0;

    ASSERT_OK(sys_mbind(p, 2 * page(), MPOL_INTERLEAVE, &node0, maxnode, 0));
    ASSERT_OK(sys_get_mempolicy(&mode, &mask, maxnode, p, MPOL_F_ADDR));
    EXPECT_EQ(mode, MPOL_INTERLEAVE);
    EXPECT_EQ(mask, node0);

    ASSERT_OK(sys_mbind(p + 2 * page(), 2 * page(), MPOL_BIND, &node0, maxnode, 0));
    ASSERT_OK(sys_get_mempolicy(&mode, &mask, maxnode, p + 2 * page(), MPOL_F_ADDR));
    EXPECT_EQ(mode, MPOL_BIND);
    EXPECT_EQ(mask, node0);

    ASSERT_OK(sys_mbind(p, size, MPOL_DEFAULT, nullptr, 0, 0));
    mask = ~0UL;
    ASSERT_OK(sys_get_mempolicy(&mode, &mask, maxnode, p, MPOL_F_ADDR));
    EXPECT_EQ(mode, MPOL_DEFAULT);
    EXPECT_EQ(mask, 0UL);

    EXPECT_ERRNO(sys_mbind(p, page(), 999, &node0, maxnode, 0), EINVAL);

    if (!has_shared(variant->flags)) {
        TH_LOG("MMAP without INIT_SHARED: policies checked, placement needs host faults");
        return;
    }
    void* pages[file_pages];
    int status[file_pages];
    for (std::size_t i = 0; i < file_pages; ++i)
        pages[i] = p + i * page();
    // Placement follows the policy from Linux 6.19, whose NUMA mempolicy
    // series gave guest_memfd .set_policy/.get_policy and allocates folios
    // with the inode's shared policy (a feature added on purpose, not a fix).
    // Before, mbind stores a VMA policy that get_mempolicy reports, but
    // guest_memfd allocates without it (Debian's 6.18.15 put every page on
    // node 0): the placement is observed there, not asserted.
    if (!kernel_at_least(6, 19)) {
        ASSERT_OK(sys_mbind(p, 2 * page(), MPOL_BIND, &node1, maxnode, 0));
        ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, size, 0x99));
        for (int& s : status)
            s = -1;
        ASSERT_OK(sys_move_pages(0, file_pages, pages, nullptr, status, 0));
        OBSERVE("before Linux 6.19 (no guest_memfd mempolicy): pages 0-1 bound to node 1 landed on nodes "
                "%d %d, pages 2-3 (no policy) on %d %d",
                status[0], status[1], status[2], status[3]);
        return;
    }
    auto placement = [&](int first_two, int last_two) {
        HARNESS_TRACE("pages 0-1 bound to node %d, pages 2-3 to node %d", first_two, last_two);
        ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, size, 0x99));
        for (int& s : status)
            s = -1;
        ASSERT_OK(sys_move_pages(0, file_pages, pages, nullptr, status, 0));
        EXPECT_EQ(status[0], first_two);
        EXPECT_EQ(status[1], first_two);
        EXPECT_EQ(status[2], last_two);
        EXPECT_EQ(status[3], last_two);
    };
    ASSERT_OK(sys_mbind(p, 2 * page(), MPOL_BIND, &node1, maxnode, 0));
    ASSERT_OK(sys_mbind(p + 2 * page(), 2 * page(), MPOL_BIND, &node0, maxnode, 0));
    placement(1, 0);
    // Punch everything, swap the nodes, re-fault.
    ASSERT_OK(self->gmem.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0,
                                       static_cast<off_t>(size)));
    ASSERT_OK(sys_mbind(p, 2 * page(), MPOL_BIND, &node0, maxnode, 0));
    ASSERT_OK(sys_mbind(p + 2 * page(), 2 * page(), MPOL_BIND, &node1, maxnode, 0));
    placement(0, 1);
}

GMEM_TEST_MAIN
