// CPR fd reuse for real (CPR-02 … CPR-05): the program re-executes itself
// (cpr-exec) or starts a fresh image that receives the state over a UNIX
// socket (cpr-transfer: CPR-04's transfer checks and CPR-05's binding rule
// each in a test of its own, so that each ID's verdict is its own). The new
// image is this same binary entered with a stage argument; it prints one line
// per check ("ok: …" / "FAIL: …") and exits 0 only if every check held. The
// test in the old image asserts that.
#include "gmem/backend/accel.hpp"
#include "gmem/backend/backend.hpp"
#include "gmem/backend/cpr_fd_store.hpp"
#include "gmem/cpr/transport.hpp"
#include "gmem/guest/expect.hpp"
#include "gmem/guest/payloads.hpp"
#include "gmem/test.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace backend = gmem::backend;
namespace cpr = gmem::cpr;
using gmem::Fd;
using gmem::kvm::Need;

namespace {

constexpr std::uint64_t shared_flags =
    gmem::uapi::guest_memfd_flag_mmap | gmem::uapi::guest_memfd_flag_init_shared;
constexpr std::uint64_t seed = 0xC0FFEE;
constexpr const char* ram_name = "ram0";

std::uint64_t ram_size() { return 16 * gmem::page_size(); }

// What the old image tells the new one to expect.
struct Expect {
    unsigned long long dev, ino, size;
    int extra;             // stage-specific: the socket fd (transfer)
    std::string inherited; // old image: fds >= 3 it got without close-on-exec, "a,b"
};

std::set<int> open_fds() {
    std::set<int> fds;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return fds;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') fds.insert(std::atoi(e->d_name));
    fds.erase(::dirfd(d));
    ::closedir(d);
    return fds;
}

// ---- the new image ----
int failures = 0;
void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
    if (!ok) ++failures;
}

// The backend allocates again with the loaded store: it must find (ram0, 0),
// reuse that fd (same inode), create nothing, and see the old bytes.
std::optional<backend::RamBlock> reuse_ram(cpr::FdStore& store, const Expect& want) {
    auto accel = backend::KvmAccelerator::open();
    if (!accel) {
        check(false, "KvmAccelerator::open: " + accel.error().describe());
        return std::nullopt;
    }
    backend::FdStoreRef ref(store);
    auto ram = backend::allocate(backend::BackendConfig::dedicated(ram_name, want.size), *accel, ref);
    if (!ram) {
        check(false, "allocate after restart: " + ram.error().message);
        return std::nullopt;
    }
    check(ram->fd_from_cpr, "the backend took its fd from the CPR store");
    check(accel->counters().kvm_creates == 0,
          "no guest_memfd was created (KVM_CREATE_GUEST_MEMFD issued " +
              std::to_string(accel->counters().kvm_creates) + " times)");
    struct stat st{};
    ::fstat(ram->fd.get(), &st);
    check(st.st_dev == want.dev && st.st_ino == want.ino,
          harness::strf("same inode: st_dev/st_ino %llu/%llu, before restart %llu/%llu",
                        static_cast<unsigned long long>(st.st_dev),
                        static_cast<unsigned long long>(st.st_ino), want.dev, want.ino));
    const auto bad = gmem::guest::first_mismatch(ram->host.bytes().first(want.size), seed);
    check(!bad, bad ? harness::strf("guest RAM differs at offset %zu", *bad)
                    : std::string("guest RAM contents intact"));
    return std::move(*ram);
}

int stage_exec(const Expect& want) {
    // Before anything else opens an fd: what survived exec.
    const std::set<int> at_start = open_fds();
    auto store = cpr::exec_load();
    if (!store) {
        check(false, "exec_load: " + store.error().message);
        return 1;
    }
    const int saved = store->find(ram_name, 0);
    check(saved >= 0, "the store came through exec with (ram0, 0)");
    std::set<int> expected = {0, 1, 2, saved};
    // fds the test's own environment passed down without close-on-exec (the
    // old image lists them): not ours, so not a leak.
    if (const char* inh = std::getenv("GMEM_CPR_TEST_INHERITED")) {
        for (const char* p = inh; *p;) {
            expected.insert(std::atoi(p));
            const char* comma = std::strchr(p, ',');
            if (!comma) break;
            p = comma + 1;
        }
    }
    std::string listed;
    for (int fd : at_start) {
        char target[256] = {};
        const std::string link = "/proc/self/fd/" + std::to_string(fd);
        (void)!::readlink(link.c_str(), target, sizeof(target) - 1);
        listed += harness::strf(" %d=%s", fd, target);
    }
    std::printf("fds after exec:%s\n", listed.c_str());
    // The state memfd was open at start and is closed by exec_load.
    std::set<int> now = open_fds();
    check(now == expected, "after loading the state only stdin/out/err and the saved fd are open");
    check((::fcntl(saved, F_GETFD) & FD_CLOEXEC) != 0, "the saved fd has close-on-exec again");
    check(std::getenv(cpr::state_env) == nullptr, "the state variable is gone");
    reuse_ram(*store, want);
    return failures ? 1 : 0;
}

// The RAM block's guest_memfd at 4 GiB, bound as QEMU binds RAM: the fd plus
// the block's host address (some KVMs serve guest faults from the address).
gmem::kvm::Memslot gmem_slot(const backend::RamBlock& ram, const gmem::kvm::GuestMemfd& gmem) {
    return gmem::kvm::Memslot::for_gmem(1, GMEM_GUEST_GMEM_GPA, gmem.size(), gmem.fd(), 0,
                                        reinterpret_cast<std::uint64_t>(ram.host.get()));
}

// The state as the old image sent it: the store with (ram0, 0) and (vm, 0),
// the RAM block reused from it (CPR-04's checks, printed as they go).
struct Transferred {
    std::vector<Fd> owned;
    std::optional<cpr::FdStore> store;
    std::optional<backend::RamBlock> ram;
};

Transferred receive_transfer(const Expect& want) {
    Transferred t;
    Fd sock(want.extra);
    auto store = cpr::receive_state(sock.get(), t.owned);
    if (!store) {
        check(false, "receive_state: " + store.error().message);
        return t;
    }
    t.store = std::move(*store);
    check(t.store->find(ram_name, 0) >= 0 && t.store->find("vm", 0) >= 0,
          "the store arrived with (ram0, 0) and (vm, 0)");
    t.ram = reuse_ram(*t.store, want);
    return t;
}

// CPR-04: the saved fds reach another process over SCM_RIGHTS; same inode,
// same contents (reuse_ram's checks).
int stage_transfer(const Expect& want) {
    const Transferred t = receive_transfer(want);
    return failures || !t.ram ? 1 : 0;
}

// CPR-05's setup in the new image: the transferred state, a dup of the RAM
// block's guest_memfd to bind. Null (with a FAIL line) when the RAM block
// could not be reused.
struct Bindable {
    Transferred t;
    std::optional<gmem::kvm::GuestMemfd> gmem;
};

Bindable bindable(const Expect& want) {
    Bindable b{receive_transfer(want), std::nullopt};
    if (!b.t.ram) {
        check(false, "the RAM block could not be reused after the transfer (see above): CPR-05 not checked");
        return b;
    }
    const int slot_fd = ::fcntl(b.t.ram->fd.get(), F_DUPFD_CLOEXEC, 0);
    b.gmem.emplace(Fd(slot_fd), want.size, shared_flags);
    return b;
}

// CPR-05: the transferred guest_memfd stays bound to the VM that created it.
int stage_transfer_bound(const Expect& want) {
    Bindable b = bindable(want);
    if (!b.gmem) return 1;
    // virt/kvm/guest_memfd.c kvm_gmem_prepare_memory_region() (7.3):
    // "if (f->kvm != kvm) goto err" returns -EINVAL: a gmem file binds only
    // into the VM that created it.
    auto kvm = gmem::kvm::Kvm::open();
    auto fresh = kvm.create_vm();
    auto r = fresh.try_set_memslot(gmem_slot(*b.t.ram, *b.gmem));
    check(!r && r.error().code == EINVAL,
          std::string("binding the reused guest_memfd into a fresh VM fails EINVAL: ") +
              (r ? "it succeeded" : r.error().describe()));
    return failures ? 1 : 0;
}

// CPR-05, the VM's own fd travelled too: api.rst ("General description")
// says VM ioctls must come from the process that created the VM, and
// virt/kvm/kvm_main.c kvm_vm_ioctl() enforces it first thing: "if (kvm->mm !=
// current->mm || kvm->vm_dead) return -EIO". This process has another mm, so
// binding (KVM_SET_USER_MEMORY_REGION2) and making a vCPU (KVM_CREATE_VCPU)
// through the travelled VM fd both answer EIO.
int stage_transfer_vm_fd(const Expect& want) {
    Bindable b = bindable(want);
    if (!b.gmem) return 1;
    const int vm_fd = ::fcntl(b.t.store->find("vm", 0), F_DUPFD_CLOEXEC, 0);
    auto kvm = gmem::kvm::Kvm::open();
    auto mmap_size = kvm.try_vcpu_mmap_size();
    auto vm = gmem::kvm::Vm::adopt(Fd(vm_fd), gmem::uapi::kvm_x86_default_vm,
                                   static_cast<std::size_t>(mmap_size.value_or(0)));
    auto bound = vm.try_set_memslot(gmem_slot(*b.t.ram, *b.gmem));
    check(!bound && bound.error().code == EIO,
          std::string("binding the guest_memfd through the VM fd that travelled fails EIO: ") +
              (bound ? "it succeeded" : bound.error().describe()));
    if (bound) (void)vm.try_delete_memslot(1);
    auto vcpu = vm.try_create_vcpu(0);
    check(!vcpu && vcpu.error().code == EIO,
          std::string("KVM_CREATE_VCPU through the VM fd that travelled fails EIO: ") +
              (vcpu ? "it succeeded" : vcpu.error().describe()));
    return failures ? 1 : 0;
}

bool parse_expect(int argc, char** argv, Expect& e) {
    if (argc != 7) return false;
    char* end = nullptr;
    e.dev = std::strtoull(argv[2], &end, 10);
    e.ino = std::strtoull(argv[3], &end, 10);
    e.size = std::strtoull(argv[4], &end, 10);
    e.extra = std::atoi(argv[5]);
    return std::string(argv[6]) == "end";
}

// ---- the old image ----
struct Restarted {
    int status = -1;
    std::string out;
};

// Forks; the child runs before_exec, then execs this binary with `stage` and
// the expectations; stdout and stderr of the new image come back here.
Restarted restart(const char* stage, const Expect& e, const std::function<void()>& before_exec,
                  int keep_fd = -1) {
    int p[2];
    Restarted res;
    if (::pipe2(p, O_CLOEXEC) != 0) return res;
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(p[1], 1);
        ::dup2(p[1], 2);
        ::setenv("GMEM_CPR_TEST_INHERITED", e.inherited.c_str(), 1);
        if (keep_fd >= 0) ::fcntl(keep_fd, F_SETFD, 0);
        before_exec();
        const std::string a[] = {std::to_string(e.dev), std::to_string(e.ino),
                                 std::to_string(e.size), std::to_string(e.extra)};
        ::execl("/proc/self/exe", "cpr_exec_test", stage, a[0].c_str(), a[1].c_str(),
                a[2].c_str(), a[3].c_str(), "end", static_cast<char*>(nullptr));
        std::printf("FAIL: exec: %s\n", std::strerror(errno));
        std::fflush(stdout);
        ::_exit(127);
    }
    ::close(p[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof(buf))) > 0) res.out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    ::waitpid(pid, &res.status, 0);
    return res;
}

void report(const Restarted& r) {
    // Indented, so that its "observe: " lines are not read as this test's
    // own observations (OBSERVE below reports them once).
    std::string said;
    for (size_t at = 0; at < r.out.size();) {
        const size_t end = std::min(r.out.find('\n', at), r.out.size());
        said += "  " + r.out.substr(at, end - at) + "\n";
        at = end + 1;
    }
    TH_LOG("new image said:\n%s", said.c_str());
    size_t pos = 0;
    while ((pos = r.out.find("observe: ", pos)) != std::string::npos) {
        const size_t end = r.out.find('\n', pos);
        OBSERVE("new image: %s", r.out.substr(pos + 9, end - pos - 9).c_str());
        pos = end;
    }
    ASSERT_TRUE(WIFEXITED(r.status));
    EXPECT_EQ(WEXITSTATUS(r.status), 0);
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos);
    EXPECT_NE(r.out.find("ok: guest RAM contents intact"), std::string::npos);
}

struct Ram {
    backend::KvmAccelerator accel;
    backend::RamBlock block;
    Expect expect;
};

std::string inherited_fds() {
    std::string out;
    for (int fd : open_fds())
        if (fd > 2 && !(::fcntl(fd, F_GETFD) & FD_CLOEXEC))
            out += (out.empty() ? "" : ",") + std::to_string(fd);
    return out;
}

std::optional<Ram> make_ram(cpr::FdStore& store) {
    const std::string inherited = inherited_fds(); // before we open anything
    auto accel = backend::KvmAccelerator::open();
    if (!accel) return std::nullopt;
    backend::FdStoreRef ref(store);
    auto ram = backend::allocate(backend::BackendConfig::dedicated(ram_name, ram_size()), *accel, ref);
    if (!ram) return std::nullopt;
    gmem::guest::fill_pattern(ram->host.bytes().first(ram_size()), seed);
    struct stat st{};
    ::fstat(ram->fd.get(), &st);
    Expect e{static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
             ram_size(), -1, inherited};
    return Ram{std::move(*accel), std::move(*ram), e};
}

} // namespace

TEST(backend_saves_then_exec_reuses, "CPR-02 CPR-03") {
    REQUIRE(Need().gmem_flags(gmem::uapi::kvm_x86_default_vm, shared_flags));
    cpr::FdStore store;
    auto ram = make_ram(store);
    ASSERT_TRUE(ram.has_value());
    // CPR-02, first half: an empty store means create and save under (ram0, 0).
    EXPECT_EQ(store.find(ram_name, 0), ram->block.fd.get());
    EXPECT_EQ(ram->accel.counters().created, 1U);
    // An fd nobody saved: exec must close it (all our fds are close-on-exec).
    auto unsaved = ram->accel.vm().try_create_guest_memfd(gmem::page_size(), shared_flags);
    ASSERT_OK(unsaved);
    const Restarted r = restart("--cpr-exec-stage2", ram->expect, [&] {
        auto st = cpr::exec_prepare(store);
        if (!st) {
            std::printf("FAIL: exec_prepare: %s\n", st.error().message.c_str());
            std::fflush(stdout);
            ::_exit(1);
        }
        (void)st->release(); // the number is in the environment for the new image
    });
    report(r);
}

namespace {

// Sends the store with (ram0, 0) and (vm, 0) over a socket to a fresh image
// of this binary started with `stage` (ASSERTs fail the calling test).
Restarted transfer_to(const char* stage) {
    cpr::FdStore store;
    auto ram = make_ram(store);
    ASSERT_TRUE(ram.has_value());
    store.save("vm", 0, ram->accel.vm().fd());
    int sv[2];
    ASSERT_OK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    Fd mine(sv[0]), theirs(sv[1]);
    Expect e = ram->expect;
    e.extra = theirs.get();
    // The new image has only stdin/out/err and the socket: the saved fds can
    // only reach it as SCM_RIGHTS.
    auto sent = cpr::send_state(mine.get(), store);
    ASSERT_TRUE(sent.has_value());
    return restart(stage, e, [] {}, theirs.get());
}

} // namespace

TEST(transfer_to_another_process, "CPR-04") {
    REQUIRE(Need().gmem_flags(gmem::uapi::kvm_x86_default_vm, shared_flags));
    const Restarted r = transfer_to("--cpr-transfer-stage2");
    report(r);
    EXPECT_NE(r.out.find("ok: the store arrived with (ram0, 0) and (vm, 0)"), std::string::npos);
    EXPECT_NE(r.out.find("ok: same inode: "), std::string::npos);
}

TEST(transferred_gmem_stays_bound, "CPR-05") {
    REQUIRE(Need().gmem_flags(gmem::uapi::kvm_x86_default_vm, shared_flags));
    const Restarted r = transfer_to("--cpr-transfer-bound-stage2");
    report(r);
    EXPECT_NE(r.out.find("ok: binding the reused guest_memfd into a fresh VM fails EINVAL"),
              std::string::npos);
}

// The new process's VM ioctls on the travelled VM fd: EIO (kvm_vm_ioctl).
TEST(transferred_vm_fd_in_new_process, "CPR-05") {
    REQUIRE(Need().gmem_flags(gmem::uapi::kvm_x86_default_vm, shared_flags));
    const Restarted r = transfer_to("--cpr-transfer-vmfd-stage2");
    report(r);
    EXPECT_NE(r.out.find("ok: binding the guest_memfd through the VM fd that travelled fails EIO"),
              std::string::npos);
    EXPECT_NE(r.out.find("ok: KVM_CREATE_VCPU through the VM fd that travelled fails EIO"),
              std::string::npos);
}

int main(int argc, char** argv) {
    if (argc > 1 && (std::strcmp(argv[1], "--cpr-exec-stage2") == 0 ||
                     std::strcmp(argv[1], "--cpr-transfer-stage2") == 0 ||
                     std::strcmp(argv[1], "--cpr-transfer-bound-stage2") == 0 ||
                     std::strcmp(argv[1], "--cpr-transfer-vmfd-stage2") == 0)) {
        Expect e{};
        if (!parse_expect(argc, argv, e)) {
            std::fprintf(stderr, "%s: bad stage arguments\n", argv[0]);
            return 2;
        }
        try {
            if (std::strcmp(argv[1], "--cpr-exec-stage2") == 0) return stage_exec(e);
            if (std::strcmp(argv[1], "--cpr-transfer-stage2") == 0) return stage_transfer(e);
            if (std::strcmp(argv[1], "--cpr-transfer-bound-stage2") == 0) return stage_transfer_bound(e);
            return stage_transfer_vm_fd(e);
        } catch (const std::exception& ex) {
            std::printf("FAIL: %s\n", ex.what());
            return 1;
        }
    }
    return gmem::run_tests_after_probe(argc, argv);
}
