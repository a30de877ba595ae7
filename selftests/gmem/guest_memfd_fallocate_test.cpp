// fallocate on a guest_memfd (FALLOC-01..04), for every VM type and creation
// flag set the kernel offers. Expectations: spec/BEHAVIORS.md FALLOC, UAPI.md
// "Kernel answers worth knowing", upstream virt/kvm/guest_memfd.c
// (kvm_gmem_fallocate, kvm_gmem_allocate, kvm_gmem_punch_hole), fs/open.c
// (vfs_fallocate) and tools/testing/selftests/kvm/guest_memfd_test.c
// (test_fallocate, test_invalid_punch_hole).
#include "gmem_common.hpp"

#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>

using namespace gmem_test;

namespace {

constexpr std::size_t file_pages = 4;
constexpr int keep = FALLOC_FL_KEEP_SIZE;
constexpr int punch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

// Mode bits of include/uapi/linux/falloc.h by name, for messages.
const char* falloc_bit_name(int bit) {
    switch (bit) {
    case 0x01:
        return "KEEP_SIZE";
    case 0x02:
        return "PUNCH_HOLE";
    case 0x04:
        return "NO_HIDE_STALE";
    case 0x08:
        return "COLLAPSE_RANGE";
    case 0x10:
        return "ZERO_RANGE";
    case 0x20:
        return "INSERT_RANGE";
    case 0x40:
        return "UNSHARE_RANGE";
    case 0x80:
        return "WRITE_ZEROES";
    default:
        return "unnamed bit";
    }
}

} // namespace

FIXTURE(falloc) {
    std::optional<Kvm> kvm;
    Vm vm;
    GuestMemfd gmem;
    off_t size = 0;
};
FIXTURE_VARIANT(falloc) {
    unsigned long vm_type;
    std::uint64_t flags;
};
GMEM_FLAG_VARIANTS(falloc);

FIXTURE_SETUP(falloc) {
    GMEM_SETUP_VM(self, variant);
    self->size = static_cast<off_t>(file_pages * page());
    self->gmem =
        self->vm.create_guest_memfd(static_cast<std::uint64_t>(self->size), variant->flags);
}
FIXTURE_TEARDOWN(falloc) {}

TEST_F(falloc, keep_size_allocate, "FALLOC-01") {
    const auto& g = self->gmem;
    EXPECT_OK(g.try_fallocate(keep, 0, self->size));
    EXPECT_OK(g.try_fallocate(keep, opage(), opage()));
    EXPECT_OK(g.try_fallocate(keep, self->size - opage(), opage()));
    // Again over allocated pages: still fine.
    EXPECT_OK(g.try_fallocate(keep, 0, self->size));
    // After a hole, allocating restores it (upstream test_fallocate's last step).
    ASSERT_OK(g.try_fallocate(punch, opage(), opage()));
    EXPECT_OK(g.try_fallocate(keep, opage(), opage()));
    // KEEP_SIZE: the size is what it was created with.
    const struct stat st = gmem::must(g.try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(st.st_size, self->size);
    if (has_shared(variant->flags)) {
        // Allocated-but-never-written pages read zero.
        const gmem::Mapping m = g.mmap(static_cast<std::size_t>(self->size));
        std::size_t at = 0;
        ASSERT_NO_SIGNAL(SIGBUS, at = nonzero_at(m.data(), m.size()));
        EXPECT_EQ(at, m.size());
    }
}

// kvm_gmem_fallocate(): !(mode & KEEP_SIZE) -> -EOPNOTSUPP; mode & ~(KEEP_SIZE
// | PUNCH_HOLE) -> -EOPNOTSUPP. COLLAPSE_RANGE and INSERT_RANGE are sent
// without KEEP_SIZE: the VFS refuses them combined with other bits itself
// (EINVAL before Linux 6.13, EOPNOTSUPP after), which is not guest_memfd's
// answer; alone they reach guest_memfd, which lacks KEEP_SIZE -> EOPNOTSUPP.
TEST_F(falloc, unsupported_modes, "FALLOC-02") {
    const auto& g = self->gmem;
    const off_t len = opage();
    // Control: the range is fine for a supported mode.
    ASSERT_OK(g.try_fallocate(keep, 0, len));

    EXPECT_ERRNO(g.try_fallocate(0, 0, len), EOPNOTSUPP);
    EXPECT_ERRNO(g.try_fallocate(FALLOC_FL_PUNCH_HOLE, 0, len), EOPNOTSUPP);
    EXPECT_ERRNO(g.try_fallocate(FALLOC_FL_ZERO_RANGE, 0, len), EOPNOTSUPP);
    for (int shift = 2; shift < 31; ++shift) {
        const int bit = 1 << shift;
        const bool exclusive = bit == FALLOC_FL_COLLAPSE_RANGE || bit == FALLOC_FL_INSERT_RANGE;
        const int mode = exclusive ? bit : (keep | bit);
        HARNESS_TRACE("mode %#x (%s%s)", mode, exclusive ? "" : "KEEP_SIZE|", falloc_bit_name(bit));
        EXPECT_ERRNO(g.try_fallocate(mode, 0, len), EOPNOTSUPP);
    }
    EXPECT_ERRNO(g.try_fallocate(punch | FALLOC_FL_ZERO_RANGE, 0, len), EOPNOTSUPP);
}

// kvm_gmem_fallocate(): !PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len) -> -EINVAL,
// checked before the mode is acted on. The 10 offset/length pairs are
// upstream test_invalid_punch_hole's; upstream test_fallocate adds
// (page-1, page) as an 11th. Both punching and allocating.
TEST_F(falloc, unaligned_ranges, "FALLOC-03") {
    const auto& g = self->gmem;
    const off_t ps = opage();
    const struct {
        off_t offset, len;
    } pairs[] = {
        {0, 1},      {0, ps - 1}, {0, ps + 1},  {1, 1},       {1, ps - 1},  {1, ps},
        {1, ps + 1}, {ps, 1},     {ps, ps - 1}, {ps, ps + 1}, {ps - 1, ps},
    };
    for (const int mode : {punch, keep}) {
        // Control: aligned, the same mode succeeds.
        ASSERT_OK(g.try_fallocate(mode, ps, ps));
        for (const auto& pr : pairs) {
            HARNESS_TRACE("%s offset %#llx length %#llx",
                          mode == punch ? "PUNCH_HOLE" : "KEEP_SIZE",
                          static_cast<unsigned long long>(pr.offset),
                          static_cast<unsigned long long>(pr.len));
            EXPECT_ERRNO(g.try_fallocate(mode, pr.offset, pr.len), EINVAL);
        }
    }
}

// kvm_gmem_allocate(): offset + len > i_size -> -EINVAL ("dedicated guest is
// immutable by default"); kvm_gmem_punch_hole() has no such check and
// truncating nothing succeeds (upstream test_fallocate asserts both ways).
TEST_F(falloc, at_and_past_end, "FALLOC-04") {
    const auto& g = self->gmem;
    const off_t ps = opage();
    const off_t end = self->size;
    EXPECT_ERRNO(g.try_fallocate(keep, end, ps), EINVAL);
    EXPECT_ERRNO(g.try_fallocate(keep, end + ps, ps), EINVAL);
    EXPECT_ERRNO(g.try_fallocate(keep, end - ps, 2 * ps), EINVAL); // straddles the end
    EXPECT_ERRNO(g.try_fallocate(keep, 0, end + ps), EINVAL);

    EXPECT_OK(g.try_fallocate(punch, end, ps));
    EXPECT_OK(g.try_fallocate(punch, end + ps, ps));
    EXPECT_OK(g.try_fallocate(punch, end - ps, 2 * ps));
    EXPECT_OK(g.try_fallocate(punch, 0, end + 16 * ps));

    const struct stat st = gmem::must(g.try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(st.st_size, end);
}

GMEM_TEST_MAIN
