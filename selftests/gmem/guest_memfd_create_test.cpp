// KVM_CREATE_GUEST_MEMFD and the file it returns (CREATE-01..05), for every VM
// type and creation flag set the kernel offers. Expectations: spec/BEHAVIORS.md
// CREATE, spec UAPI.md "Kernel answers worth knowing", and upstream
// virt/kvm/guest_memfd.c (kvm_gmem_create, kvm_gmem_setattr, kvm_gmem_release)
// with tools/testing/selftests/kvm/guest_memfd_test.c.
#include "gmem/uapi/gmem.hpp"
#include "gmem_common.hpp"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <vector>

using namespace gmem_test;

FIXTURE(create) {
    std::optional<Kvm> kvm;
    Vm vm;
};
FIXTURE_VARIANT(create) {
    unsigned long vm_type;
    std::uint64_t flags;
};
GMEM_FLAG_VARIANTS(create);

FIXTURE_SETUP(create) {
    GMEM_SETUP_VM(self, variant);
}
FIXTURE_TEARDOWN(create) {}

// kvm_gmem_create(): "size <= 0 || !PAGE_ALIGNED(size)" -> -EINVAL.
TEST_F(create, size_zero, "CREATE-01") {
    // Control: these flags with a one-page file are accepted, so the EINVAL
    // below is about the size and not about the flags.
    ASSERT_OK(self->vm.try_create_guest_memfd(page(), variant->flags));
    EXPECT_ERRNO(self->vm.try_create_guest_memfd(0, variant->flags), EINVAL);
}

TEST_F(create, unaligned_sizes, "CREATE-02") {
    ASSERT_OK(self->vm.try_create_guest_memfd(page(), variant->flags));
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t s = 1; s < page(); ++s)
        sizes.push_back(s);
    sizes.push_back(page() + 1);

    int shown = 0;
    for (const std::uint64_t size : sizes) {
        const auto create_guest_memfd_of_size =
            self->vm.try_create_guest_memfd(size, variant->flags);
        if (!create_guest_memfd_of_size && create_guest_memfd_of_size.error() == EINVAL) continue;
        HARNESS_TRACE("size %#llx (%llu)", static_cast<unsigned long long>(size),
                      static_cast<unsigned long long>(size));
        EXPECT_ERRNO(create_guest_memfd_of_size, EINVAL);
        if (++shown == 8) {
            TH_LOG("further unexpected answers not shown");
            break;
        }
    }
}

// f_type: GUEST_MEMFD_MAGIC (UAPI.md) from Linux 6.19, whose guest_memfd.c
// mounts its own pseudo filesystem (kvm_gmem_init_mount); 6.8..6.18 put the
// inode on the anon_inode mount, which an older kernel may answer instead.
TEST_F(create, inodes_and_stat, "CREATE-03") {
    const std::uint64_t sizes[] = {page(), 2 * page(), 4 * page()};
    std::vector<GuestMemfd> files;
    std::vector<struct stat> st;
    for (const std::uint64_t size : sizes) {
        files.push_back(self->vm.create_guest_memfd(size, variant->flags));
        st.push_back(gmem::must(files.back().try_fstat(), "fstat of a guest_memfd"));
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
        HARNESS_TRACE("file %zu of size %#llx", i, static_cast<unsigned long long>(sizes[i]));
        EXPECT_EQ(st[i].st_size, sizes[i]);
        EXPECT_EQ(st[i].st_blksize, page());
        const struct statfs sfs = gmem::must(files[i].try_fstatfs(), "fstatfs of a guest_memfd");
        const long f_type = static_cast<long>(sfs.f_type);
        if (f_type == gmem::uapi::anon_inode_fs_magic && !kernel_at_least(6, 19)) {
            if (i == 0)
                TH_LOG("f_type is ANON_INODE_FS_MAGIC: before Linux 6.19 a guest_memfd lives "
                       "on the anon_inode mount (the \"guest_memfd\" filesystem came with the "
                       "6.19 NUMA mempolicy series)");
        } else {
            EXPECT_EQ(f_type, gmem::uapi::guest_memfd_magic);
        }
        for (std::size_t j = 0; j < i; ++j)
            EXPECT_NE(st[i].st_ino, st[j].st_ino);
    }
    // Creating the later files did not change the first one.
    const struct stat again = gmem::must(files[0].try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(again.st_size, sizes[0]);
    EXPECT_EQ(again.st_ino, st[0].st_ino);
}

// read/write/pread/pwrite must fail (upstream test_file_read_write asserts
// only that); which errno each gives is not documented and is observed.
// ftruncate: kvm_gmem_setattr() returns -EINVAL, and the size stays.
TEST_F(create, file_io_fails, "CREATE-04") {
    const std::uint64_t size = 4 * page();
    const GuestMemfd g = self->vm.create_guest_memfd(size, variant->flags);
    char buf[64] = {};
    std::string seen;
    auto must_fail = [&](const char* what, ssize_t r, int err) {
        HARNESS_TRACE("%s on a guest_memfd", what);
        EXPECT_EQ(r, -1);
        seen += std::string(seen.empty() ? "" : ", ") + what + " " +
                (r == -1 ? gmem::Errno{err}.name() : "succeeded");
    };
    errno = 0;
    ssize_t r = ::read(g.fd(), buf, sizeof buf);
    must_fail("read", r, errno);
    errno = 0;
    r = ::write(g.fd(), buf, sizeof buf);
    must_fail("write", r, errno);
    errno = 0;
    r = ::pread(g.fd(), buf, sizeof buf, 0);
    must_fail("pread", r, errno);
    errno = 0;
    r = ::pwrite(g.fd(), buf, sizeof buf, 0);
    must_fail("pwrite", r, errno);
    OBSERVE("%s", seen.c_str());

    EXPECT_ERRNO(::ftruncate(g.fd(), static_cast<off_t>(2 * size)), EINVAL);
    EXPECT_ERRNO(::ftruncate(g.fd(), opage()), EINVAL);
    EXPECT_ERRNO(::ftruncate(g.fd(), 0), EINVAL);
    const struct stat st = gmem::must(g.try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(st.st_size, size);
}

// The file holds a reference on its VM (kvm_gmem_create takes kvm_get_kvm,
// kvm_gmem_release drops it): with the VM and /dev/kvm fds closed it still
// mmaps, faults and punches holes.
TEST_F(create, file_keeps_vm_alive, "CREATE-05") {
    const std::size_t size = 4 * page();
    const GuestMemfd g = self->vm.create_guest_memfd(size, variant->flags);
    const int vm_fd = self->vm.fd();
    const int kvm_fd = self->kvm->fd();
    self->vm = Vm{};
    self->kvm.reset();
    // The VM fd really is gone from this process.
    ASSERT_ERRNO(::fcntl(vm_fd, F_GETFD), EBADF);
    ASSERT_ERRNO(::fcntl(kvm_fd, F_GETFD), EBADF);

    EXPECT_OK(g.try_fallocate(FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)));
    EXPECT_OK(g.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, opage(), opage()));
    const struct stat st = gmem::must(g.try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(st.st_size, size);

    if (!has_mmap(variant->flags)) {
        TH_LOG("no MMAP flag: fallocate checked, mmap and faults not applicable");
        return;
    }
    auto m = g.try_mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED);
    ASSERT_OK(m);
    if (!has_shared(variant->flags)) {
        TH_LOG("MMAP without INIT_SHARED: pages are private, faults not applicable (MMAP-05)");
        return;
    }
    std::uint8_t* p = m->data();
    std::size_t bad = 0;
    ASSERT_NO_SIGNAL(SIGBUS, fill_pattern(p, size, 0x5a));
    ASSERT_NO_SIGNAL(SIGBUS, bad = pattern_mismatch(p, size, 0x5a));
    EXPECT_EQ(bad, size);
    ASSERT_OK(g.try_fallocate(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, opage(), opage()));
    ASSERT_NO_SIGNAL(SIGBUS, bad = nonzero_at(p + page(), page()));
    EXPECT_EQ(bad, page());
    ASSERT_NO_SIGNAL(SIGBUS, bad = pattern_mismatch(p, page(), 0x5a));
    EXPECT_EQ(bad, page());
    ASSERT_NO_SIGNAL(SIGBUS, bad = pattern_mismatch(p + 2 * page(), 2 * page(), 0x5a, 2 * page()));
    EXPECT_EQ(bad, 2 * page());
}

GMEM_TEST_MAIN
