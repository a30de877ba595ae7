// The memory-backend port without KVM: the no-KVM stub accelerator, a non-KVM
// accelerator ("tcg"), the checks that are decided before any accelerator is
// asked, and the plain memfd path. Never opens /dev/kvm, so it runs in the
// GMEM_WITH_KVM=OFF build and on machines without KVM.
#include "backend_checks.hpp"

#include "gmem/backend/backend.hpp"
#include "gmem/backend/cpr_fd_store.hpp"
#include "harness/harness.hpp"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

using namespace gmem::backend;
using backend_checks::snapshot;

namespace {

constexpr std::uint64_t pages = 16;
std::uint64_t size_of_ram() { return pages * gmem::page_size(); }

// An fd that CPR hands over (a memfd of the right size), owned by the test
// until an allocation takes it.
gmem::Fd cpr_memfd(std::uint64_t size) {
    gmem::Fd fd(::memfd_create("cpr-supplied", MFD_CLOEXEC));
    if (fd && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) fd.reset();
    return fd;
}

} // namespace

// ---- both designs, with the stub accelerator ----
FIXTURE(nokvm) {
    StubAccelerator stub;
    SimpleCprStore store;
};
FIXTURE_VARIANT(nokvm) {
    BackendType type;
};
FIXTURE_VARIANT_ADD(nokvm, guest_memfd) {.type = BackendType::guest_memfd};
FIXTURE_VARIANT_ADD(nokvm, memfd) {.type = BackendType::memfd};
FIXTURE_SETUP(nokvm) {}
FIXTURE_TEARDOWN(nokvm) {}

static BackendConfig config_for(BackendType t, std::uint64_t size) {
    return t == BackendType::guest_memfd ? BackendConfig::dedicated("ram0", size)
                                         : BackendConfig::memfd_backend("ram0", size, true);
}

TEST_F(nokvm, size_zero, "BACKEND-01") {
    const auto before = snapshot(self->store, self->stub);
    EXPECT_BACKEND_ERROR(allocate(config_for(variant->type, 0), self->stub, self->store),
                         "can't create backend with size 0");
    EXPECT_NOTHING_CREATED(before, self->store, self->stub);
    EXPECT_EQ(self->stub.counters().requests, 0U); // refused before the accelerator was asked
}

TEST_F(nokvm, size_zero_with_cpr_fd, "BACKEND-01") {
    gmem::Fd supplied = cpr_memfd(size_of_ram());
    ASSERT_TRUE(supplied.valid());
    self->store.save_fd("ram0", 0, supplied.get());
    const auto before = snapshot(self->store, self->stub);
    EXPECT_BACKEND_ERROR(allocate(config_for(variant->type, 0), self->stub, self->store),
                         "can't create backend with size 0");
    EXPECT_NOTHING_CREATED(before, self->store, self->stub);
    EXPECT_EQ(self->stub.counters().requests, 0U);
    EXPECT_TRUE(backend_checks::fd_is_open(supplied.get())); // the CPR fd was not closed
}

TEST_F(nokvm, share_off, "BACKEND-02") {
    auto cfg = config_for(variant->type, size_of_ram());
    cfg.share = false;
    const auto before = snapshot(self->store, self->stub);
    EXPECT_BACKEND_ERROR(allocate(cfg, self->stub, self->store),
                         variant->type == BackendType::guest_memfd
                             ? "can't create backend with share=off"
                             : "In-place guest-memfd must be used with share=on");
    EXPECT_NOTHING_CREATED(before, self->store, self->stub);
    EXPECT_EQ(self->stub.counters().requests, 0U);
}

// ---- the dedicated backend ----
FIXTURE(dedicated) {
    SimpleCprStore store;
};
FIXTURE_SETUP(dedicated) {}
FIXTURE_TEARDOWN(dedicated) {}

TEST_F(dedicated, share_defaults_on, "BACKEND-03") {
    const auto cfg = BackendConfig::dedicated("ram0", size_of_ram());
    EXPECT_FALSE(cfg.share.has_value());
    EXPECT_TRUE(cfg.effective_share());
    // With share unset the share=off check passes and the accelerator is asked.
    StubAccelerator stub;
    EXPECT_BACKEND_ERROR(allocate(cfg, stub, self->store),
                         "guest_memfd is not supported for this configuration");
    EXPECT_EQ(stub.counters().requests, 1U);
}

TEST_F(dedicated, share_default_maps_shared, "BACKEND-03 BACKEND-09 CPR-02") {
    // A CPR-supplied fd lets the allocation complete without any accelerator:
    // the default share=on gives a SHARED block mapped MAP_SHARED.
    gmem::Fd supplied = cpr_memfd(size_of_ram());
    ASSERT_TRUE(supplied.valid());
    const int fdnum = supplied.release(); // now the store's, as after cpr-exec
    self->store.save_fd("ram0", 0, fdnum);
    StubAccelerator stub;
    auto b = allocate(BackendConfig::dedicated("ram0", size_of_ram()), stub, self->store);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(stub.counters().requests, 0U);
    EXPECT_TRUE(b->fd_from_cpr);
    EXPECT_EQ(b->fd.get(), fdnum);
    EXPECT_EQ(b->flags, ram_flag::shared);
    auto m = backend_checks::maps_entry(b->host.get());
    ASSERT_TRUE(m.has_value());
    EXPECT_STREQ(m->perms, "rw-s");
}

TEST(stub_refuses, "BACKEND-05") {
    StubAccelerator stub;
    SimpleCprStore store;
    const auto before = snapshot(store, stub);
    auto r = allocate(BackendConfig::dedicated("ram0", size_of_ram()), stub, store);
    EXPECT_BACKEND_ERROR(r, "guest_memfd is not supported for this configuration");
    if (!r) EXPECT_EQ(r.error().result, -ENOSYS);
    EXPECT_NOTHING_CREATED(before, store, stub);
    EXPECT_EQ(stub.counters().kvm_queries, 0U);
}

TEST(stub_is_default_without_kvm, "BACKEND-05") {
    if (built_with_kvm)
        SKIP("this build has the KVM accelerator (GMEM_WITH_KVM=ON); the stub default is "
             "checked by the GMEM_WITH_KVM=OFF build (preset nokvm)");
    EXPECT_STREQ(std::string{default_accelerator_name()}, "stub");
    auto def = make_accelerator(default_accelerator_name());
    ASSERT_TRUE(def.has_value());
    EXPECT_STREQ(std::string{(*def)->name()}, "stub");
    SimpleCprStore store;
    auto r = allocate(BackendConfig::dedicated("ram0", size_of_ram()), **def, store);
    EXPECT_BACKEND_ERROR(r, "guest_memfd is not supported for this configuration");
    if (!r) EXPECT_EQ(r.error().result, -ENOSYS);
    // The KVM accelerator is not compiled: asking for it fails without touching /dev/kvm.
    const std::size_t kvm_before = backend_checks::kvm_fds();
    auto k = make_accelerator("kvm");
    EXPECT_FALSE(k.has_value());
    if (!k) {
        TH_LOG("make_accelerator(\"kvm\"): \"%s\"", k.error().message.c_str());
        EXPECT_EQ(k.error().result, -ENOSYS);
    }
    EXPECT_EQ(backend_checks::kvm_fds(), kvm_before);
}

// ---- a non-KVM accelerator (review of seed 001) ----
FIXTURE(tcg) {
    SimpleCprStore store;
};
FIXTURE_VARIANT(tcg) {
    BackendType type;
};
FIXTURE_VARIANT_ADD(tcg, guest_memfd) {.type = BackendType::guest_memfd};
FIXTURE_VARIANT_ADD(tcg, memfd) {.type = BackendType::memfd};
FIXTURE_SETUP(tcg) {}
FIXTURE_TEARDOWN(tcg) {}

TEST_F(tcg, requires_kvm, "BACKEND-06") {
    auto accel = make_accelerator("tcg");
    ASSERT_TRUE(accel.has_value());
    const std::size_t kvm_before = backend_checks::kvm_fds();
    const auto before = snapshot(self->store, **accel);
    EXPECT_BACKEND_ERROR(allocate(config_for(variant->type, size_of_ram()), **accel, self->store),
                         "guest-memfd requires KVM accelerator");
    EXPECT_NOTHING_CREATED(before, self->store, **accel);
    // No KVM question was asked: no capability query, no creation ioctl, no
    // /dev/kvm or KVM VM fd opened at any point.
    EXPECT_EQ((*accel)->counters().kvm_queries, 0U);
    EXPECT_EQ((*accel)->counters().kvm_creates, 0U);
    EXPECT_EQ(backend_checks::kvm_fds(), kvm_before);
    // The memfd design decides in the backend, before calling the accelerator at all.
    if (variant->type == BackendType::memfd) EXPECT_EQ((*accel)->counters().requests, 0U);
    else EXPECT_EQ((*accel)->counters().requests, 1U);
}

TEST(stub_is_not_kvm_for_inplace, "BACKEND-06") {
    // kvm_enabled() is false in a build without KVM: the in-place memfd
    // backend stops at the accelerator check and never calls the stub.
    StubAccelerator stub;
    SimpleCprStore store;
    EXPECT_BACKEND_ERROR(allocate(BackendConfig::memfd_backend("ram0", size_of_ram(), true), stub,
                                  store),
                         "guest-memfd requires KVM accelerator");
    EXPECT_EQ(stub.counters().requests, 0U);
}

// ---- memory-backend-memfd,guest-memfd=on: what cannot be combined ----
FIXTURE(inplace) {
    NonKvmAccelerator accel;
    SimpleCprStore store;
};
FIXTURE_SETUP(inplace) {}
FIXTURE_TEARDOWN(inplace) {}

TEST_F(inplace, private_guest_memfd, "BACKEND-07") {
    backend_checks::expect_inplace_refuses_private(self->accel, self->store, size_of_ram());
}

TEST_F(inplace, hugetlb_hugetlbsize_seal, "BACKEND-07") {
    backend_checks::expect_inplace_refuses_properties(self->accel, self->store, size_of_ram());
}

// ---- RAM flags and prealloc on the plain memfd path (no accelerator) ----
FIXTURE(memfd) {
    StubAccelerator stub;
    SimpleCprStore store;
};
FIXTURE_SETUP(memfd) {}
FIXTURE_TEARDOWN(memfd) {}

TEST_F(memfd, ram_flags, "BACKEND-09") {
    struct Case {
        const char* what;
        bool share, reserve, priv;
        std::uint32_t flags;
        const char* perms;
    };
    const Case cases[] = {
        {"share=on", true, true, false, ram_flag::shared, "rw-s"},
        {"share=on,reserve=off", true, false, false, ram_flag::shared | ram_flag::noreserve, "rw-s"},
        {"share=on,private gmem", true, true, true, ram_flag::shared | ram_flag::guest_memfd, "rw-s"},
        {"share=off", false, true, false, ram_flag::private_, "rw-p"},
    };
    for (const auto& k : cases) {
        HARNESS_TRACE("%s", k.what);
        SimpleCprStore store;
        auto cfg = BackendConfig::memfd_backend(std::string("ram-") + k.what, size_of_ram(), false);
        cfg.share = k.share;
        cfg.reserve = k.reserve;
        cfg.guest_memfd_private = k.priv;
        auto b = allocate(cfg, self->stub, store);
        ASSERT_TRUE(b.has_value());
        EXPECT_EQ(b->flags, k.flags);
        EXPECT_TRUE(b->aligned);
        TH_LOG("%s: %s", k.what, ram_flags_name(b->flags).c_str());
        auto m = backend_checks::maps_entry(b->host.get());
        ASSERT_TRUE(m.has_value());
        EXPECT_STREQ(m->perms, k.perms);
        EXPECT_EQ(m->offset, 0U);
        const std::string vmflags = backend_checks::smaps_vmflags(b->host.get());
        OBSERVE("%s: VmFlags%s", k.what, vmflags.c_str());
    }
    EXPECT_EQ(self->stub.counters().requests, 0U);
}

TEST_F(memfd, prealloc_populates, "BACKEND-11") {
    auto cfg = BackendConfig::memfd_backend("ram0", size_of_ram(), false);
    auto plain = allocate(cfg, self->stub, self->store);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(backend_checks::resident_pages(plain->host.get(), plain->size), 0); // control
    cfg.id = "ram1";
    cfg.prealloc = true;
    auto pre = allocate(cfg, self->stub, self->store);
    ASSERT_TRUE(pre.has_value());
    EXPECT_EQ(backend_checks::resident_pages(pre->host.get(), pre->size), static_cast<long>(pages));
    struct stat st {};
    ASSERT_OK(::fstat(pre->fd.get(), &st));
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_blocks) * 512U, size_of_ram());
}

TEST_F(memfd, prealloc_without_reserve, "BACKEND-11") {
    auto cfg = BackendConfig::memfd_backend("ram0", size_of_ram(), false);
    cfg.prealloc = true;
    cfg.reserve = false;
    const auto before = snapshot(self->store, self->stub);
    EXPECT_BACKEND_ERROR(allocate(cfg, self->stub, self->store),
                         "'prealloc=on' and 'reserve=off' are incompatible");
    EXPECT_NOTHING_CREATED(before, self->store, self->stub);
}

TEST_F(memfd, cpr_save_then_reuse, "CPR-02") {
    const auto cfg = BackendConfig::memfd_backend("ram0", size_of_ram(), false);
    auto first = allocate(cfg, self->stub, self->store);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(self->store.entries().size(), 1U);
    EXPECT_TRUE((self->store.entries()[0] == SimpleCprStore::Entry{"ram0", 0, first->fd.get()}));
    std::memset(first->host.data(), 0x5a, first->size);
    struct stat st1 {};
    ASSERT_OK(::fstat(first->fd.get(), &st1));
    // The "old process" lets go of its mapping; the fd stays with the store.
    first->host.reset();
    const int fdnum = first->fd.release();
    auto second = allocate(cfg, self->stub, self->store);
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->fd_from_cpr);
    EXPECT_EQ(second->fd.get(), fdnum);
    EXPECT_EQ(self->store.entries().size(), 1U); // not saved again
    struct stat st2 {};
    ASSERT_OK(::fstat(second->fd.get(), &st2));
    EXPECT_EQ(st2.st_ino, st1.st_ino);
    EXPECT_EQ(harness::peek(second->host.data() + second->size - 1), 0x5a);
}

TEST_F(memfd, cpr_fd_store_adapter, "CPR-02") {
    // The same allocation through the CPR area's FdStore.
    gmem::cpr::FdStore fds;
    FdStoreRef store(fds);
    const auto cfg = BackendConfig::memfd_backend("ram0", size_of_ram(), false);
    auto first = allocate(cfg, self->stub, store);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(fds.size(), 1U);
    EXPECT_EQ(fds.find("ram0", 0), first->fd.get());
    first->host.reset();
    const int fdnum = first->fd.release();
    auto second = allocate(cfg, self->stub, store);
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->fd_from_cpr);
    EXPECT_EQ(second->fd.get(), fdnum);
    EXPECT_EQ(fds.size(), 1U);
}

TEST_HARNESS_MAIN
