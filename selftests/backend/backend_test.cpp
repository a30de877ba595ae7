// The memory-backend port against the running kernel's KVM: both designs
// (memory-backend-guest-memfd, seed 000; memory-backend-memfd,guest-memfd=on,
// seed 001) allocate through the KVM accelerator, which asks a real VM.
// The no-KVM and non-KVM accelerator checks are in backend_nokvm_test.
#include "backend_checks.hpp"

#include "gmem/backend/backend.hpp"
#include "gmem/test.hpp"
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"

#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

using namespace gmem::backend;
using backend_checks::snapshot;
using gmem::kvm::Need;
namespace uapi = gmem::uapi;

namespace {

constexpr std::uint64_t pages = 64;
std::uint64_t ram_size() { return pages * gmem::page_size(); }
constexpr std::uint64_t shared_flags = uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;
constexpr unsigned long vm_type = uapi::kvm_x86_default_vm;
constexpr std::uint64_t gmem_gpa = 1ULL << 32; // 4 GiB, as upstream places gmem

KvmAccelerator open_kvm(std::uint64_t mask = ~0ULL) {
    KvmOptions o;
    o.vm_type = vm_type;
    o.gmem_flags_mask = mask;
    return gmem::must(KvmAccelerator::open(o), "opening the KVM accelerator");
}

BackendConfig config_for(BackendType t, std::uint64_t size) {
    return t == BackendType::guest_memfd ? BackendConfig::dedicated("ram0", size)
                                         : BackendConfig::memfd_backend("ram0", size, true);
}

} // namespace

// ---- both designs through the KVM accelerator ----
FIXTURE(backend) {
    std::optional<KvmAccelerator> kvm;
    SimpleCprStore store;
};
FIXTURE_VARIANT(backend) {
    BackendType type;
};
FIXTURE_VARIANT_ADD(backend, guest_memfd) {.type = BackendType::guest_memfd};
FIXTURE_VARIANT_ADD(backend, memfd) {.type = BackendType::memfd};
FIXTURE_SETUP(backend) {
    REQUIRE(Need().vm_type(vm_type));
    self->kvm.emplace(open_kvm());
}
FIXTURE_TEARDOWN(backend) {}

TEST_F(backend, size_zero, "BACKEND-01") {
    const auto before = snapshot(self->store, *self->kvm);
    EXPECT_BACKEND_ERROR(allocate(config_for(variant->type, 0), *self->kvm, self->store),
                         "can't create backend with size 0");
    EXPECT_NOTHING_CREATED(before, self->store, *self->kvm);
    EXPECT_EQ(self->kvm->counters().requests, 0U);
    EXPECT_EQ(self->kvm->counters().kvm_creates, 0U);
}

TEST_F(backend, size_zero_with_cpr_fd, "BACKEND-01") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    // CPR supplies a real guest_memfd of this VM; size 0 is still refused and
    // the supplied fd is neither taken nor closed.
    auto supplied = self->kvm->vm().create_guest_memfd(ram_size(), shared_flags);
    self->store.save_fd("ram0", 0, supplied.fd());
    const auto before = snapshot(self->store, *self->kvm);
    EXPECT_BACKEND_ERROR(allocate(config_for(variant->type, 0), *self->kvm, self->store),
                         "can't create backend with size 0");
    EXPECT_NOTHING_CREATED(before, self->store, *self->kvm);
    EXPECT_EQ(self->kvm->counters().requests, 0U);
    EXPECT_TRUE(backend_checks::fd_is_open(supplied.fd()));
}

TEST_F(backend, share_off, "BACKEND-02") {
    auto cfg = config_for(variant->type, ram_size());
    cfg.share = false;
    const auto before = snapshot(self->store, *self->kvm);
    EXPECT_BACKEND_ERROR(allocate(cfg, *self->kvm, self->store),
                         variant->type == BackendType::guest_memfd
                             ? "can't create backend with share=off"
                             : "In-place guest-memfd must be used with share=on");
    EXPECT_NOTHING_CREATED(before, self->store, *self->kvm);
    EXPECT_EQ(self->kvm->counters().kvm_creates, 0U);
}

TEST_F(backend, creates_shared_guest_memfd, "BACKEND-03 BACKEND-04 CPR-02") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    const auto cfg = config_for(variant->type, ram_size()); // share left at its default
    EXPECT_FALSE(cfg.share.has_value());
    const std::size_t fds_before = backend_checks::open_fds();
    auto b = allocate(cfg, *self->kvm, self->store);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(self->kvm->counters().kvm_creates, 1U);
    EXPECT_EQ(self->kvm->counters().created, 1U);
    EXPECT_EQ(backend_checks::open_fds(), fds_before + 1); // exactly the block's fd
    EXPECT_FALSE(b->fd_from_cpr);
    // A guest_memfd of this VM: KVM binds it in a KVM_MEM_GUEST_MEMFD slot,
    // which it refuses for any other file (SLOT-02, SLOT-03)...
    const auto slot = gmem::kvm::Memslot::for_gmem(1, gmem_gpa, ram_size(), b->fd.get());
    EXPECT_OK(self->kvm->vm().try_set_memslot(slot));
    EXPECT_OK(self->kvm->vm().try_delete_memslot(slot.slot));
    struct statfs sfs {};
    ASSERT_OK(::fstatfs(b->fd.get(), &sfs));
    OBSERVE("fstatfs f_type 0x%lx", static_cast<unsigned long>(sfs.f_type));
    // ...of the requested size...
    struct stat st {};
    ASSERT_OK(::fstat(b->fd.get(), &st));
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), ram_size());
    // ...created with MMAP (the mapping exists) and INIT_SHARED (touching it
    // does not SIGBUS; fresh memory reads zero).
    std::uint8_t* p = b->host.data();
    EXPECT_NO_SIGNAL(SIGBUS, harness::poke(p, 0xa5));
    EXPECT_NO_SIGNAL(SIGBUS, (void)harness::peek(p + ram_size() - 1));
    EXPECT_EQ(harness::peek(p + ram_size() - 1), 0);
    // Saved for CPR under (name, 0).
    ASSERT_EQ(self->store.entries().size(), 1U);
    EXPECT_TRUE((self->store.entries()[0] == SimpleCprStore::Entry{"ram0", 0, b->fd.get()}));
}

TEST_F(backend, kvm_refuses_creation, "BACKEND-08") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    // page size + 1 passes the backend's own checks (not 0); the kernel
    // refuses a size that is not page aligned with EINVAL (UAPI.md, CREATE-02).
    const auto before = snapshot(self->store, *self->kvm);
    auto r = allocate(config_for(variant->type, gmem::page_size() + 1), *self->kvm, self->store);
    EXPECT_BACKEND_ERROR(r, "Error creating KVM guest_memfd: Invalid argument");
    if (!r) EXPECT_EQ(r.error().err.code, EINVAL);
    EXPECT_EQ(self->kvm->counters().kvm_creates, 1U); // the kernel was asked...
    EXPECT_NOTHING_CREATED(before, self->store, *self->kvm); // ...and nothing was left
}

TEST_F(backend, ram_flags, "BACKEND-09") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    struct Case {
        const char* what;
        bool reserve, priv;
        std::uint32_t flags;
    };
    const Case cases[] = {
        {"share=on", true, false, ram_flag::shared},
        {"share=on,reserve=off", false, false, ram_flag::shared | ram_flag::noreserve},
        {"share=on,private guest_memfd attached", true, true,
         ram_flag::shared | ram_flag::guest_memfd},
    };
    for (const auto& k : cases) {
        HARNESS_TRACE("%s", k.what);
        if (k.priv && variant->type == BackendType::memfd) continue; // refused: BACKEND-07
        SimpleCprStore store;
        auto cfg = config_for(variant->type, ram_size());
        cfg.reserve = k.reserve;
        cfg.guest_memfd_private = k.priv;
        auto b = allocate(cfg, *self->kvm, store);
        ASSERT_TRUE(b.has_value());
        EXPECT_EQ(b->flags, k.flags);
        EXPECT_TRUE(b->aligned);
        TH_LOG("%s: RAM flags %s", k.what, ram_flags_name(b->flags).c_str());
        const std::string vmflags = backend_checks::smaps_vmflags(b->host.get());
        EXPECT_TRUE(backend_checks::has_vmflag(vmflags, "sh"));
        OBSERVE("%s: VmFlags%s", k.what, vmflags.c_str());
    }
}

// BACKEND-10, host side: the RAM is the MAP_SHARED mapping of the gmem fd at
// offset 0, a gmem slot bound to that fd is accepted, and a second mapping of
// the fd sees the bytes written through the RAM.
TEST_F(backend, mmap_access_host, "BACKEND-10") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    auto b = allocate(config_for(variant->type, ram_size()), *self->kvm, self->store);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->fd_offset, 0U);
    struct stat st {};
    ASSERT_OK(::fstat(b->fd.get(), &st));
    auto m = backend_checks::maps_entry(b->host.get());
    ASSERT_TRUE(m.has_value());
    EXPECT_STREQ(m->perms, "rw-s");
    EXPECT_EQ(m->offset, 0U);
    EXPECT_EQ(m->inode, static_cast<unsigned long long>(st.st_ino));
    TH_LOG("RAM mapping: %s offset %llx inode %llu %s", m->perms.c_str(), m->offset, m->inode,
           m->path.c_str());

    const auto& vm = self->kvm->vm();
    // userspace_addr 0: an MMAP gmem slot needs no userspace address (SLOT-01).
    auto slot = gmem::kvm::Memslot::for_gmem(1, gmem_gpa, ram_size(), b->fd.get());
    EXPECT_OK(vm.try_set_memslot(slot));
    EXPECT_OK(vm.try_delete_memslot(slot.slot));
    slot.userspace_addr = reinterpret_cast<std::uint64_t>(b->host.get()); // as QEMU passes it
    EXPECT_OK(vm.try_set_memslot(slot));

    for (std::uint64_t i = 0; i < ram_size(); ++i) b->host.data()[i] = static_cast<std::uint8_t>(i * 7 + 1);
    gmem::Mapping second(::mmap(nullptr, ram_size(), PROT_READ, MAP_SHARED, b->fd.get(), 0), ram_size());
    ASSERT_NE(second.get(), MAP_FAILED);
    EXPECT_EQ(std::memcmp(second.data(), b->host.data(), ram_size()), 0);
    EXPECT_EQ(second.data()[ram_size() - 1], static_cast<std::uint8_t>((ram_size() - 1) * 7 + 1));
    EXPECT_OK(vm.try_delete_memslot(slot.slot));
}

// BACKEND-10, guest side. PLACE FOR THE GUEST ROUND TRIP (lib/guest): bind the
// block's fd in a gmem slot at gmem_gpa, write a pattern through b->host, run
// a payload that checks every byte and writes a new pattern, then compare
// through b->host.
// The backend's RAM and a memslot bound to its fd are one set of pages: the
// host writes through the backend's mapping, guest code reads the same bytes
// through a KVM_MEM_GUEST_MEMFD slot, writes new ones, and the host sees them
// through the mapping. The slot is bound the way QEMU binds a RAM block: the
// gmem fd at offset 0 plus the block's host address as userspace_addr. The
// accelerator shares the guest's VM (a guest_memfd binds only into the VM
// that created it, SLOT-03).
TEST_F(backend, mmap_access_guest_round_trip, "BACKEND-10") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    gmem::guest::GuestVm g(vm_type);
    auto vm = g.vm().try_dup();
    ASSERT_OK(vm);
    KvmAccelerator accel(std::move(*vm));
    auto ram = allocate(config_for(variant->type, ram_size()), accel, self->store);
    ASSERT_TRUE(ram.has_value());
    ASSERT_EQ(accel.counters().created, 1U);

    const std::uint64_t len = ram_size();
    gmem::guest::fill_pattern(ram->host.bytes().first(len), 0x1111);
    const int slot_fd = ::fcntl(ram->fd.get(), F_DUPFD_CLOEXEC, 0);
    ASSERT_OK(slot_fd);
    const gmem::kvm::GuestMemfd view(gmem::Fd(slot_fd), len, shared_flags);
    g.map_gmem(view, GMEM_GUEST_GMEM_GPA, 0, len,
               reinterpret_cast<std::uint64_t>(ram->host.get()));

    // Guest code is slow on some KVMs (tens of us per word under PVM), so the
    // guest walks the first and the last page of the block, not all of it.
    const std::uint64_t page = gmem::page_size();
    for (const std::uint64_t off : {std::uint64_t{0}, len - page}) {
        HARNESS_TRACE("page at offset 0x%llx of the block", static_cast<unsigned long long>(off));
        auto r = g.run(gmem::guest::payload::check_pattern,
                       {GMEM_GUEST_GMEM_GPA + off, page, 0x1111, off});
        ASSERT_GUEST_RETURNS(r, page);
        r = g.run(gmem::guest::payload::fill_pattern,
                  {GMEM_GUEST_GMEM_GPA + off, page, 0x2222, off});
        ASSERT_GUEST_RETURNS(r, page);
        const auto bad = gmem::guest::first_mismatch(ram->host.bytes().subspan(off, page), 0x2222,
                                                     off);
        EXPECT_FALSE(bad.has_value());
        if (bad) TH_LOG("first byte the host sees differently: offset 0x%llx",
                        static_cast<unsigned long long>(off + *bad));
    }
}

TEST_F(backend, prealloc_populates, "BACKEND-11") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    auto cfg = config_for(variant->type, ram_size());
    auto plain = allocate(cfg, *self->kvm, self->store);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(backend_checks::resident_pages(plain->host.get(), ram_size()), 0); // control
    cfg.id = "ram1";
    cfg.prealloc = true;
    auto pre = allocate(cfg, *self->kvm, self->store);
    ASSERT_TRUE(pre.has_value());
    EXPECT_EQ(backend_checks::resident_pages(pre->host.get(), ram_size()), static_cast<long>(pages));
    struct stat st {};
    ASSERT_OK(::fstat(pre->fd.get(), &st));
    OBSERVE("prealloc=on: st_blocks %lld for %llu bytes", static_cast<long long>(st.st_blocks),
            static_cast<unsigned long long>(ram_size()));
}

TEST_F(backend, prealloc_without_reserve, "BACKEND-11") {
    auto cfg = config_for(variant->type, ram_size());
    cfg.prealloc = true;
    cfg.reserve = false;
    const auto before = snapshot(self->store, *self->kvm);
    EXPECT_BACKEND_ERROR(allocate(cfg, *self->kvm, self->store),
                         "'prealloc=on' and 'reserve=off' are incompatible");
    EXPECT_NOTHING_CREATED(before, self->store, *self->kvm);
    EXPECT_EQ(self->kvm->counters().requests, 0U);
}

TEST_F(backend, cpr_fd_reused, "CPR-02") {
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    const auto cfg = config_for(variant->type, ram_size());
    auto first = allocate(cfg, *self->kvm, self->store);
    ASSERT_TRUE(first.has_value());
    std::memset(first->host.data(), 0x3c, ram_size());
    struct stat st1 {};
    ASSERT_OK(::fstat(first->fd.get(), &st1));
    first->host.reset();
    const int fdnum = first->fd.release(); // the store keeps it, as across cpr-exec
    const unsigned creates = self->kvm->counters().kvm_creates;

    auto second = allocate(cfg, *self->kvm, self->store);
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->fd_from_cpr);
    EXPECT_EQ(second->fd.get(), fdnum);
    EXPECT_EQ(self->kvm->counters().kvm_creates, creates); // no guest_memfd created
    EXPECT_EQ(self->store.entries().size(), 1U);
    struct stat st2 {};
    ASSERT_OK(::fstat(second->fd.get(), &st2));
    EXPECT_EQ(st2.st_ino, st1.st_ino);
    EXPECT_EQ(harness::peek(second->host.data() + ram_size() - 1), 0x3c);
}

// ---- memory-backend-guest-memfd: the per-VM flag check ----
FIXTURE(dedicated) {
    SimpleCprStore store;
};
FIXTURE_SETUP(dedicated) { REQUIRE(Need().vm_type(vm_type)); }
FIXTURE_TEARDOWN(dedicated) {}

TEST_F(dedicated, flags_from_kernel, "BACKEND-04") {
    auto kvm = open_kvm();
    const auto* info = gmem::kvm::features().vm_type(vm_type);
    ASSERT_TRUE(info != nullptr);
    EXPECT_EQ(kvm.kernel_gmem_flags(),
              static_cast<std::uint64_t>(info->caps.guest_memfd_flags.value_or(0)));
    TH_LOG("per-VM KVM_CAP_GUEST_MEMFD_FLAGS: %s",
           gmem::kvm::gmem_flags_name(kvm.kernel_gmem_flags()).c_str());
    if ((kvm.kernel_gmem_flags() & shared_flags) == shared_flags)
        SKIP("this kernel offers MMAP|INIT_SHARED for %s: the refusal is checked with a masked "
             "answer (dedicated.refuses_when_kernel_lacks_*_masked)",
             gmem::kvm::vm_type_name(vm_type).c_str());
    const auto before = snapshot(self->store, kvm);
    EXPECT_BACKEND_ERROR(allocate(BackendConfig::dedicated("ram0", ram_size()), kvm, self->store),
                         "KVM does not support using guest_memfd for shared memory");
    EXPECT_NOTHING_CREATED(before, self->store, kvm);
    EXPECT_EQ(kvm.counters().kvm_creates, 0U);
}

static void refuses_masked(SimpleCprStore& store, std::uint64_t drop) {
    auto kvm = open_kvm(~drop);
    TH_LOG("SIMULATED older kernel: the real per-VM answer %s is masked to %s",
           gmem::kvm::gmem_flags_name(kvm.kernel_gmem_flags()).c_str(),
           gmem::kvm::gmem_flags_name(kvm.supported_gmem_flags()).c_str());
    const auto before = snapshot(store, kvm);
    EXPECT_BACKEND_ERROR(allocate(BackendConfig::dedicated("ram0", ram_size()), kvm, store),
                         "KVM does not support using guest_memfd for shared memory");
    EXPECT_NOTHING_CREATED(before, store, kvm);
    EXPECT_EQ(kvm.counters().kvm_creates, 0U); // decided from the capability alone
}

TEST_F(dedicated, refuses_when_kernel_lacks_mmap_masked, "BACKEND-04") {
    refuses_masked(self->store, uapi::guest_memfd_flag_mmap);
}
TEST_F(dedicated, refuses_when_kernel_lacks_init_shared_masked, "BACKEND-04") {
    refuses_masked(self->store, uapi::guest_memfd_flag_init_shared);
}

// ---- memory-backend-memfd,guest-memfd=on ----
FIXTURE(inplace) {
    std::optional<KvmAccelerator> kvm;
    SimpleCprStore store;
};
FIXTURE_SETUP(inplace) {
    REQUIRE(Need().vm_type(vm_type));
    self->kvm.emplace(open_kvm());
}
FIXTURE_TEARDOWN(inplace) {}

TEST_F(inplace, private_guest_memfd, "BACKEND-07") {
    backend_checks::expect_inplace_refuses_private(*self->kvm, self->store, ram_size());
}

TEST_F(inplace, unsupported_properties, "BACKEND-07") {
    backend_checks::expect_inplace_refuses_properties(*self->kvm, self->store, ram_size());
}

TEST_F(inplace, seed_usage_accepted, "BACKEND-07") {
    // Seed 001's own usage, memory-backend-memfd,guest-memfd=on,share=on,
    // leaves seal at its default: that is not "seal configured".
    REQUIRE(Need().gmem_flags(vm_type, shared_flags));
    auto cfg = BackendConfig::memfd_backend("ram0", ram_size(), true);
    cfg.share = true;
    auto b = allocate(cfg, *self->kvm, self->store);
    EXPECT_TRUE(b.has_value());
    if (!b) TH_LOG("error: %s", b.error().message.c_str());
}

GMEM_TEST_MAIN
