// Every numeric argument of the guest_memfd interfaces at its boundaries
// (the boundary part of "parity with the kernel's own selftests"): creation
// sizes, fallocate ranges, mmap offsets and lengths, memslot binding offsets
// and sizes, the memslot flag bits, and the ranges of the legacy per-VM
// KVM_SET_MEMORY_ATTRIBUTES. Each table sweeps the same values (below: 0, 1,
// page-1, page, file size - page, file size, file size + page, 2^31, 2^32,
// 2^63 - page, 2^63, 2^64 - page) for each numeric argument, every pair of
// them where there are two, so the sums that overflow 63 and 64 bits are in.
//
// The expected answer of each row comes from a rule function below that
// follows the kernel's checks in the order the kernel makes them, each line
// citing the function it mirrors (Linux 7.3.4: virt/kvm/guest_memfd.c,
// virt/kvm/kvm_main.c, mm/mmap.c, fs/open.c, arch/x86). No rule depends on
// the release: the one answer that differs between releases (the binding
// whose signed offset + size wraps, SLOT-04) is a bug fixed in 7.2, so older
// kernels FAIL that row and the message names the fix. A failing row is named
// with its values, both answers and the rule it broke. With
// GMEM_SWEEP_TABLE=1 in the environment every row's answer is printed.
//
// One VM and one 4-page guest_memfd per table (the fixture), for every VM
// type and creation flag set, like the other gmem programs.
#include "gmem_common.hpp"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <source_location>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

using namespace gmem_test;
using gmem::kvm::Memslot;
namespace uapi = gmem::uapi;

namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr u64 file_pages = 4; // upstream guest_memfd_test's gmem_test() size
constexpr u64 bit63 = 1ULL << 63;

u64 pg() {
    return page();
}
u64 file_size() {
    return file_pages * pg();
}

// A value of the sweep with the name it is shown by.
struct Value {
    const char* name;
    u64 v;
};

// The boundary values of the brief, in this order, for a file of file_size().
std::vector<Value> boundary_values() {
    const u64 p = pg(), s = file_size();
    return {
        {"0", 0},
        {"1", 1},
        {"page-1", p - 1},
        {"page", p},
        {"size-page", s - p},
        {"size", s},
        {"size+page", s + p},
        {"2^31", 1ULL << 31},
        {"2^32", 1ULL << 32},
        {"2^63-page", bit63 - p},
        {"2^63", bit63},
        {"2^64-page", 0 - p},
    };
}

std::string show(const Value& x) {
    return harness::strf("%s (%#llx)", x.name, static_cast<unsigned long long>(x.v));
}

bool aligned(u64 v) {
    return v % pg() == 0;
}

// An expected answer: 0 (success) or an errno, and the kernel check that
// decides it.
struct Expect {
    int err;
    std::string rule;
};

std::string answer_name(int err) {
    return err == 0 ? std::string("OK") : gmem::Errno{err}.name();
}

template <class T> int answer_of(const gmem::Result<T>& r) {
    return r ? 0 : r.error().code;
}

// One table: each row's actual answer against its expected one. A mismatch
// fails the test with the row's values, both answers and the rule; after
// `shown_max` mismatches the rest are only counted. The destructor logs the
// table's totals (rows, answers seen) and fails once more for unshown rows.
class Table {
  public:
    explicit Table(std::string title, std::source_location loc = std::source_location::current())
        : title_(std::move(title)), loc_(loc), dump_(std::getenv("GMEM_SWEEP_TABLE") != nullptr) {}
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    ~Table() {
        std::string seen;
        for (const auto& [name, n] : answers_)
            seen += harness::strf("%s%s x%u", seen.empty() ? "" : ", ", name.c_str(), n);
        TH_LOG("%s: %u rows (%s), %u differ from the expected answer", title_.c_str(), rows_,
               seen.c_str(), mismatches_);
        if (mismatches_ > shown_max)
            harness::fail_here(loc_.file_name(), static_cast<int>(loc_.line()),
                               harness::strf("%s: %u more rows differ (not shown)", title_.c_str(),
                                             mismatches_ - shown_max),
                               false);
    }

    // Returns true when the row answered as expected.
    bool check(const std::string& row, const Expect& want, int got,
               std::source_location loc = std::source_location::current()) {
        ++rows_;
        ++answers_[answer_name(got)];
        if (dump_)
            TH_LOG("%s: %s -> %s (expected %s: %s)", title_.c_str(), row.c_str(),
                   answer_name(got).c_str(), answer_name(want.err).c_str(), want.rule.c_str());
        if (got == want.err) return true;
        if (++mismatches_ <= shown_max)
            harness::fail_here(loc.file_name(), static_cast<int>(loc.line()),
                               harness::strf("%s: %s: expected %s (%s), got %s", title_.c_str(),
                                             row.c_str(), describe(want.err).c_str(), want.rule.c_str(),
                                             describe(got).c_str()),
                               false);
        return false;
    }

  private:
    static constexpr unsigned shown_max = 16;
    static std::string describe(int err) {
        return err == 0 ? std::string("success") : gmem::Errno{err}.describe();
    }
    std::string title_;
    std::source_location loc_;
    bool dump_;
    unsigned rows_ = 0, mismatches_ = 0;
    std::map<std::string, unsigned> answers_;
};

// ---------------------------------------------------------------- rules --

// KVM_CREATE_GUEST_MEMFD with flags the VM offers (the fixture's gate).
Expect expect_create(u64 size) {
    // guest_memfd.c kvm_gmem_create(): "loff_t size = args->size" and
    // "size <= 0 || !PAGE_ALIGNED(size)" -> -EINVAL (same test since 6.8): a
    // size of 2^63 or more is a negative loff_t. Nothing bounds a positive
    // size: the file is created with that i_size and no memory.
    if (static_cast<i64>(size) <= 0) return {EINVAL, "kvm_gmem_create: loff_t size <= 0"};
    if (!aligned(size)) return {EINVAL, "kvm_gmem_create: size not page aligned"};
    return {0, "kvm_gmem_create: positive page-aligned size"};
}

// fallocate(mode, offset, len) on the 4-page file; punch = PUNCH_HOLE|KEEP_SIZE,
// else KEEP_SIZE (both modes guest_memfd supports, FALLOC-02).
Expect expect_fallocate(bool punch, u64 offset, u64 len) {
    const i64 o = static_cast<i64>(offset), l = static_cast<i64>(len);
    // fs/open.c vfs_fallocate(): "offset < 0 || len <= 0" -> -EINVAL.
    if (o < 0 || l <= 0) return {EINVAL, "vfs_fallocate: loff_t offset < 0 or len <= 0"};
    // vfs_fallocate(): check_add_overflow(offset, len, &sum) -> -EFBIG (6.18
    // and older test the signed sum "< 0" instead: the same answer); "sum >
    // s_maxbytes" cannot add a case, s_maxbytes being MAX_LFS_FILESIZE on
    // guest_memfd's pseudo mount (fs/libfs.c pseudo_fs_fill_super).
    i64 sum = 0;
    if (__builtin_add_overflow(o, l, &sum))
        return {EFBIG, "vfs_fallocate: offset + len overflows loff_t"};
    // guest_memfd.c kvm_gmem_fallocate(): !PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len) -> -EINVAL.
    if (!aligned(offset) || !aligned(len))
        return {EINVAL, "kvm_gmem_fallocate: offset or len not page aligned"};
    // kvm_gmem_punch_hole(): no size check, truncating nothing succeeds.
    if (punch) return {0, "kvm_gmem_punch_hole: any aligned range"};
    // kvm_gmem_allocate(): "offset + len > i_size_read(inode)" -> -EINVAL.
    if (sum > static_cast<i64>(file_size()))
        return {EINVAL, "kvm_gmem_allocate: offset + len beyond the file"};
    return {0, "kvm_gmem_allocate: inside the file"};
}

// mmap(NULL, len, RW, MAP_SHARED, gmem, offset) as a raw system call.
Expect expect_mmap(u64 offset, u64 len, bool has_mmap_flag) {
    const u64 p = pg();
    // arch/x86/kernel/sys_x86_64.c mmap: "off & ~PAGE_MASK" -> -EINVAL.
    if (!aligned(offset)) return {EINVAL, "sys_mmap: offset not page aligned"};
    // mm/mmap.c do_mmap(): "!len" -> -EINVAL; "len = PAGE_ALIGN(len); if
    // (!len)" -> -ENOMEM. Its pgoff + pages overflow check (-EOVERFLOW)
    // cannot trigger here: both are below 2^52.
    if (len == 0) return {EINVAL, "do_mmap: len 0"};
    const u64 alen = (len + p - 1) & ~(p - 1);
    if (alen == 0) return {ENOMEM, "do_mmap: PAGE_ALIGN(len) wraps to 0"};
    // __get_unmapped_area(): "len > TASK_SIZE" -> -ENOMEM. TASK_SIZE is below
    // 2^57 on x86-64 (5-level paging) and above 2^32 (4-level); no value of
    // the sweep lies between, so 2^57 stands for it here.
    if (alen > (1ULL << 57)) return {ENOMEM, "__get_unmapped_area: len > TASK_SIZE"};
    // do_mmap() -> file_mmap_ok(): a guest_memfd inode is S_IFREG, so the
    // limit is MAX_LFS_FILESIZE (2^63 - 1): "pgoff > (maxsize - len) >> PAGE_SHIFT"
    // -> -EOVERFLOW, i.e. offset + len reaches 2^63.
    const u64 maxsize = bit63 - 1;
    if (alen > maxsize || (offset / p) > ((maxsize - alen) / p))
        return {EOVERFLOW, "file_mmap_ok: offset + len beyond MAX_LFS_FILESIZE"};
    // guest_memfd.c kvm_gmem_mmap(): no GUEST_MEMFD_FLAG_MMAP -> -ENODEV;
    // it does not look at the offset or the size (MMAP-04 faults instead).
    if (!has_mmap_flag) return {ENODEV, "kvm_gmem_mmap: file created without MMAP"};
    return {0, "kvm_gmem_mmap: MAP_SHARED, any offset"};
}

// The fix that a kernel accepting a binding beyond the file lacks: before it,
// kvm_gmem_bind() took "loff_t offset" and tested "offset < 0 ||
// !PAGE_ALIGNED(offset) || offset + size > i_size_read(inode)", so an offset
// below 2^63 whose sum with the size reaches 2^63 wrapped negative (the kernel
// builds with -fno-strict-overflow) and the binding lay beyond the file.
// Upstream fixed it in 7.2 ("KVM guest_memfd changes for 7.2" pull; 7.3's
// kvm_gmem_prepare_memory_region takes "uoff_t offset") and sent the fix to
// stable (7.1.4); its guest_memfd_test test_invalid_binding (offset
// ALIGN_DOWN(INT64_MAX, page), size 4 pages) fails without it. A bug, not an
// ABI change: such a kernel FAILs here (spec SLOT-04).
constexpr const char* unsigned_binding_fix =
    "\"KVM: guest_memfd: Treat memslot binding offset+size as unsigned values\" (Linux 7.2, stable 7.1.4)";

constexpr u64 slot_gpa = 1ULL << 32;   // above 4 GiB, as upstream places gmem
constexpr u64 slot_uaddr = 1ULL << 30; // page aligned; see expect_binding
constexpr u64 max_nr_pages = (1ULL << 31) - 1; // include/linux/kvm_host.h KVM_MEM_MAX_NR_PAGES

// KVM_SET_USER_MEMORY_REGION2(slot 1, GUEST_MEMFD, gpa 4 GiB, size, uaddr
// 1 GiB, the 4-page file at offset) on a VM without slots.
Expect expect_binding(u64 offset, u64 size) {
    // virt/kvm/kvm_main.c kvm_set_memory_region(), in its order:
    // "mem->memory_size & (PAGE_SIZE - 1)" -> -EINVAL.
    if (!aligned(size)) return {EINVAL, "kvm_set_memory_region: size not page aligned"};
    // userspace_addr: aligned, untagged and access_ok(addr, size) are all it
    // asks (no mapping needed at this point); access_ok fails when addr +
    // size passes TASK_SIZE_MAX (< 2^57), which only the sizes from 2^63 -
    // page reach, and those fail KVM_MEM_MAX_NR_PAGES below anyway.
    if (size > (1ULL << 57)) return {EINVAL, "kvm_set_memory_region: !access_ok(userspace_addr, size)"};
    // "guest_memfd_offset & (PAGE_SIZE - 1) || guest_memfd_offset +
    // memory_size < guest_memfd_offset" -> -EINVAL (the unsigned sum).
    if (!aligned(offset)) return {EINVAL, "kvm_set_memory_region: gmem offset not page aligned"};
    if (offset + size < offset)
        return {EINVAL, "kvm_set_memory_region: gmem offset + size wraps 2^64"};
    // "guest_phys_addr + memory_size < guest_phys_addr" -> -EINVAL.
    if (slot_gpa + size < slot_gpa) return {EINVAL, "kvm_set_memory_region: gpa + size wraps"};
    // "(memory_size >> PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES" -> -EINVAL.
    if (size / pg() > max_nr_pages)
        return {EINVAL, "kvm_set_memory_region: more than KVM_MEM_MAX_NR_PAGES"};
    // "!mem->memory_size" deletes slot 1, which does not exist -> -EINVAL.
    if (size == 0) return {EINVAL, "kvm_set_memory_region: size 0 deletes a slot that is absent"};
    // guest_memfd.c kvm_gmem_prepare_memory_region() (7.3; kvm_gmem_bind()
    // in 7.2): "!PAGE_ALIGNED(offset) || offset + size > i_size_read(inode)"
    // with uoff_t offset and size -> -EINVAL.
    if (offset + size > file_size()) {
        // The rows where the signed loff_t sum of older kernels wraps: a
        // kernel accepting them lacks the fix, which the message names.
        if (static_cast<i64>(offset) >= 0 && static_cast<i64>(offset + size) < 0)
            return {EINVAL, std::string("kvm_gmem_prepare_memory_region: uoff_t offset + size beyond the file "
                                        "(the signed sum wraps; a kernel accepting it lacks ") +
                                unsigned_binding_fix + ")"};
        return {EINVAL, "kvm_gmem_prepare_memory_region: uoff_t offset + size beyond the file"};
    }
    // arch/x86/kvm/x86.c kvm_arch_prepare_memory_region(): the last gfn
    // beyond kvm_mmu_max_gfn() -> -EINVAL; gpa 4 GiB + at most 4 GiB stays
    // far below any MAXPHYADDR.
    return {0, "the binding fits the file"};
}

// KVM_SET_MEMORY_ATTRIBUTES on the VM fd, flags 0.
Expect expect_attributes(u64 address, u64 size, u64 attributes, u64 supported) {
    // virt/kvm/kvm_main.c kvm_vm_ioctl_set_mem_attributes():
    // "attrs->attributes & ~kvm_supported_mem_attributes(kvm)" -> -EINVAL.
    if (attributes & ~supported)
        return {EINVAL, "kvm_vm_ioctl_set_mem_attributes: attribute not supported"};
    // "attrs->size == 0 || attrs->address + attrs->size < attrs->address" -> -EINVAL.
    if (size == 0) return {EINVAL, "kvm_vm_ioctl_set_mem_attributes: size 0"};
    if (address + size < address)
        return {EINVAL, "kvm_vm_ioctl_set_mem_attributes: address + size wraps 2^64"};
    // "!PAGE_ALIGNED(attrs->address) || !PAGE_ALIGNED(attrs->size)" -> -EINVAL.
    if (!aligned(address) || !aligned(size))
        return {EINVAL, "kvm_vm_ioctl_set_mem_attributes: address or size not page aligned"};
    // No memslot or GPA-width check: any such range of gfns is accepted.
    return {0, "kvm_vm_set_mem_attributes: any aligned range"};
}

} // namespace

FIXTURE(boundary) {
    std::optional<Kvm> kvm;
    Vm vm;
    GuestMemfd gmem; // 4 pages, the variant's flags
};
FIXTURE_VARIANT(boundary) {
    unsigned long vm_type;
    std::uint64_t flags;
};
GMEM_FLAG_VARIANTS(boundary);

FIXTURE_SETUP(boundary) {
    GMEM_SETUP_VM(self, variant);
    self->gmem = self->vm.create_guest_memfd(file_size(), variant->flags);
}
FIXTURE_TEARDOWN(boundary) {}

// KVM_CREATE_GUEST_MEMFD at every size of the sweep; a file that is created
// has exactly the requested st_size (CREATE-03).
TEST_F(boundary, create_sizes, "CREATE-01 CREATE-02") {
    Table t("KVM_CREATE_GUEST_MEMFD size");
    for (const Value& size : boundary_values()) {
        const std::string row = "size " + show(size);
        const auto g = self->vm.try_create_guest_memfd(size.v, variant->flags);
        t.check(row, expect_create(size.v), answer_of(g));
        if (!g) continue;
        HARNESS_TRACE("%s", row.c_str());
        const struct stat st = gmem::must(g->try_fstat(), "fstat of a guest_memfd");
        EXPECT_EQ(static_cast<u64>(st.st_size), size.v);
    }
}

// fallocate at every offset x length of the sweep, KEEP_SIZE and
// PUNCH_HOLE|KEEP_SIZE; the file keeps its size throughout.
TEST_F(boundary, fallocate_ranges, "FALLOC-03 FALLOC-04") {
    const auto values = boundary_values();
    for (const bool punch : {false, true}) {
        Table t(punch ? "fallocate PUNCH_HOLE|KEEP_SIZE" : "fallocate KEEP_SIZE");
        const int mode = punch ? (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) : FALLOC_FL_KEEP_SIZE;
        for (const Value& off : values) {
            for (const Value& len : values) {
                const auto r = self->gmem.try_fallocate(mode, static_cast<off_t>(off.v),
                                                        static_cast<off_t>(len.v));
                t.check("offset " + show(off) + ", len " + show(len),
                        expect_fallocate(punch, off.v, len.v), answer_of(r));
            }
        }
    }
    const struct stat st = gmem::must(self->gmem.try_fstat(), "fstat of a guest_memfd");
    EXPECT_EQ(static_cast<u64>(st.st_size), file_size());
}

// mmap(MAP_SHARED) at every offset x length of the sweep. Where it maps, the
// first byte faults in (inside the file, INIT_SHARED) or raises SIGBUS
// (beyond the end: MMAP-04; a file without INIT_SHARED: MMAP-05).
TEST_F(boundary, mmap_ranges, "MMAP-10") {
    const auto values = boundary_values();
    const bool mmap_flag = has_mmap(variant->flags);
    Table t("mmap MAP_SHARED");
    for (const Value& off : values) {
        for (const Value& len : values) {
            const std::string row = "offset " + show(off) + ", len " + show(len);
            // The system call itself, so that the kernel (not the C library)
            // sees every offset; syscall(2) gives -1 and errno on failure.
            errno = 0;
            const long p = ::syscall(SYS_mmap, nullptr, len.v, PROT_READ | PROT_WRITE, MAP_SHARED,
                                     self->gmem.fd(), off.v);
            const int got = p == -1 ? errno : 0;
            const gmem::Mapping m =
                p == -1 ? gmem::Mapping() : gmem::Mapping(reinterpret_cast<void*>(p), len.v);
            if (!t.check(row, expect_mmap(off.v, len.v, mmap_flag), got) || p == -1) continue;
            // kvm_gmem_fault_user_mapping(): "pgoff << PAGE_SHIFT >= i_size" ->
            // SIGBUS; no INIT_SHARED -> SIGBUS; else the page faults in.
            HARNESS_TRACE("%s: touching the first byte", row.c_str());
            if (off.v >= file_size() || !has_shared(variant->flags))
                EXPECT_SIGNAL(SIGBUS, (void)harness::peek(m.data()));
            else
                EXPECT_NO_SIGNAL(SIGBUS, (void)harness::peek(m.data()));
        }
    }
}

// KVM_SET_USER_MEMORY_REGION2 binding the 4-page file at every offset x size
// of the sweep. A binding that is made is deleted again before the next row.
TEST_F(boundary, binding_ranges, "SLOT-04") {
    const Vm& vm = self->vm;
    const auto values = boundary_values();
    Table t("KVM_SET_USER_MEMORY_REGION2 binding");
    for (const Value& off : values) {
        for (const Value& size : values) {
            const std::string row = "offset " + show(off) + ", size " + show(size);
            const Memslot s =
                Memslot::for_gmem(1, slot_gpa, size.v, self->gmem.fd(), off.v, slot_uaddr);
            const auto r = vm.try_set_memslot(s);
            t.check(row, expect_binding(off.v, size.v), answer_of(r));
            if (r) {
                HARNESS_TRACE("%s: deleting the slot again", row.c_str());
                ASSERT_OK(vm.try_delete_memslot(1));
            }
        }
    }
    // Control: the whole file binds (the rows above did not leave it bound).
    EXPECT_OK(vm.try_set_memslot(
        Memslot::for_gmem(1, slot_gpa, file_size(), self->gmem.fd(), 0, slot_uaddr)));
}

// Every flag bit 0..31 on KVM_SET_USER_MEMORY_REGION (v1) and _REGION2 (v2)
// (upstream set_memory_region_test test_invalid_memory_region_flags), and on
// v2 each bit together with GUEST_MEMFD (READONLY|GUEST_MEMFD and
// LOG_DIRTY_PAGES|GUEST_MEMFD among them). A slot that is made is deleted
// again before the next row.
TEST_F(boundary, memslot_flag_bits, "SLOT-06") {
    const Vm& vm = self->vm;
    // x86.c kvm_vm_ioctl_check_extension(KVM_CAP_READONLY_MEM): "kvm ?
    // kvm_arch_has_readonly_mem(kvm) : 1", the very test
    // check_memory_region_flags() makes before offering KVM_MEM_READONLY.
    const bool readonly = vm.check_extension(uapi::cap::readonly_mem) != 0;
    TH_LOG("%s: KVM_CAP_READONLY_MEM on the VM = %d", gmem::kvm::vm_type_name(variant->vm_type).c_str(),
           readonly ? 1 : 0);
    const u64 size = 2 * pg();
    auto bit_name = [](unsigned bit) {
        switch (1U << bit) {
        case uapi::kvm_mem_log_dirty_pages:
            return std::string("LOG_DIRTY_PAGES");
        case uapi::kvm_mem_readonly:
            return std::string("READONLY");
        case uapi::kvm_mem_guest_memfd:
            return std::string("GUEST_MEMFD");
        default:
            return harness::strf("bit %u", bit);
        }
    };
    auto deleted = [&](const std::string& row) {
        HARNESS_TRACE("%s: deleting the slot again", row.c_str());
        ASSERT_OK(vm.try_delete_memslot(1));
    };

    Table v1t("KVM_SET_USER_MEMORY_REGION (v1) flags");
    Table v2t("KVM_SET_USER_MEMORY_REGION2 flags");
    Table gmt("KVM_SET_USER_MEMORY_REGION2 GUEST_MEMFD|flag");
    for (unsigned bit = 0; bit < 32; ++bit) {
        const std::uint32_t f = 1U << bit;
        // virt/kvm/kvm_main.c kvm_vm_ioctl(KVM_SET_USER_MEMORY_REGION):
        // "mem.flags & ~KVM_SET_USER_MEMORY_REGION_V1_FLAGS" (LOG_DIRTY_PAGES
        // | READONLY) -> -EINVAL; then check_memory_region_flags():
        // LOG_DIRTY_PAGES always, READONLY where kvm_arch_has_readonly_mem().
        Expect v1want{EINVAL, "v1 ioctl: not LOG_DIRTY_PAGES or READONLY"};
        if (f == uapi::kvm_mem_log_dirty_pages)
            v1want = {0, "check_memory_region_flags: LOG_DIRTY_PAGES"};
        else if (f == uapi::kvm_mem_readonly)
            v1want = readonly ? Expect{0, "check_memory_region_flags: READONLY offered"}
                              : Expect{EINVAL, "check_memory_region_flags: READONLY not offered"};
        uapi::kvm_userspace_memory_region v1{};
        v1.slot = 1;
        v1.flags = f;
        v1.guest_phys_addr = slot_gpa;
        v1.memory_size = size;
        v1.userspace_addr = slot_uaddr;
        const std::string row1 = "flags " + bit_name(bit);
        const auto r1 = vm.try_set_region_v1(v1);
        v1t.check(row1, v1want, answer_of(r1));
        if (r1) deleted(row1);

        // v2, a plain slot (the GUEST_MEMFD bit alone binds the file):
        // check_memory_region_flags() offers LOG_DIRTY_PAGES, GUEST_MEMFD
        // (CONFIG_KVM_GUEST_MEMFD, which the gate asked for) and READONLY
        // where kvm_arch_has_readonly_mem(); everything else -> -EINVAL.
        Expect v2want{EINVAL, "check_memory_region_flags: bit not offered"};
        if (f == uapi::kvm_mem_log_dirty_pages)
            v2want = {0, "check_memory_region_flags: LOG_DIRTY_PAGES"};
        else if (f == uapi::kvm_mem_guest_memfd)
            v2want = {0, "check_memory_region_flags: GUEST_MEMFD (binds the file)"};
        else if (f == uapi::kvm_mem_readonly)
            v2want = readonly ? Expect{0, "check_memory_region_flags: READONLY offered"}
                              : Expect{EINVAL, "check_memory_region_flags: READONLY not offered"};
        Memslot plain = Memslot::for_gmem(1, slot_gpa, size, self->gmem.fd(), 0, slot_uaddr);
        plain.flags = f;
        const std::string row2 = "flags " + bit_name(bit);
        const auto r2 = vm.try_set_memslot(plain);
        v2t.check(row2, v2want, answer_of(r2));
        if (r2) deleted(row2);

        // v2 with GUEST_MEMFD: check_memory_region_flags() drops
        // LOG_DIRTY_PAGES ("Dirty logging private memory is not currently
        // supported") and does not add READONLY ("GUEST_MEMFD is
        // incompatible with read-only memslots", since 6.8) -> -EINVAL.
        Expect gmwant{EINVAL, "check_memory_region_flags: bit not offered with GUEST_MEMFD"};
        if (f == uapi::kvm_mem_guest_memfd)
            gmwant = {0, "GUEST_MEMFD alone: a valid binding"};
        else if (f == uapi::kvm_mem_log_dirty_pages)
            gmwant = {EINVAL, "check_memory_region_flags: no dirty logging with GUEST_MEMFD"};
        else if (f == uapi::kvm_mem_readonly)
            gmwant = {EINVAL, "check_memory_region_flags: no READONLY with GUEST_MEMFD"};
        Memslot gm = Memslot::for_gmem(1, slot_gpa, size, self->gmem.fd(), 0, slot_uaddr);
        gm.flags |= f;
        const std::string row3 = "flags GUEST_MEMFD|" + bit_name(bit);
        const auto r3 = vm.try_set_memslot(gm);
        gmt.check(row3, gmwant, answer_of(r3));
        if (r3) deleted(row3);
    }
}

// KVM_SET_MEMORY_ATTRIBUTES (legacy, per-VM) at every address x size of the
// sweep, where the VM type offers PRIVATE. Every row with attributes 0
// first: clearing a range that holds no attribute returns before touching
// any gfn (kvm_range_has_memory_attributes() finds no entry), whatever its
// size. Then PRIVATE, only on rows the kernel must refuse before doing any
// work or whose range is at most 16 pages: a valid PRIVATE range costs one
// xarray entry per page (kvm_vm_set_mem_attributes() reserves them one by
// one), 2^51 of them for 2^63 bytes.
TEST_F(boundary, attribute_ranges, "CONV-13") {
    REQUIRE(Need().memory_attributes(variant->vm_type, uapi::kvm_memory_attribute_private));
    GMEM_ONLY_FOR(variant->flags == 0,
                  "per-VM attributes do not depend on the guest_memfd flags: the %s variant "
                  "with no flags sweeps them",
                  gmem::kvm::vm_type_name(variant->vm_type).c_str());
    const Vm& vm = self->vm;
    const u64 supported = static_cast<u64>(vm.check_extension(uapi::cap::memory_attributes));
    const auto values = boundary_values();
    for (const u64 attrs : {u64{0}, uapi::kvm_memory_attribute_private}) {
        Table t(attrs ? "KVM_SET_MEMORY_ATTRIBUTES PRIVATE" : "KVM_SET_MEMORY_ATTRIBUTES 0");
        unsigned left_out = 0;
        for (const Value& addr : values) {
            for (const Value& size : values) {
                const Expect want = expect_attributes(addr.v, size.v, attrs, supported);
                if (attrs && want.err == 0 && size.v > 16 * pg()) {
                    ++left_out;
                    continue;
                }
                const auto r = vm.try_set_memory_attributes(addr.v, size.v, attrs);
                t.check("address " + show(addr) + ", size " + show(size), want, answer_of(r));
            }
        }
        if (left_out)
            TH_LOG("PRIVATE: %u valid rows larger than 16 pages not issued (covered with "
                   "attributes 0)",
                   left_out);
    }
}

// KVM_SET_MEMORY_ATTRIBUTES's other arguments (CONV-13), in the order
// virt/kvm/kvm_main.c kvm_vm_ioctl_set_mem_attributes() checks them: "if
// (attrs->flags) return -EINVAL" (every bit of the u64 flags), then
// "attrs->attributes & ~kvm_supported_mem_attributes(kvm)" -> -EINVAL (every
// bit the VM does not offer, from its KVM_CAP_MEMORY_ATTRIBUTES); then a
// range already in the requested state returns success before doing any work
// (kvm_vm_set_mem_attributes: "Nothing to do if the entire range has the
// desired attributes"), so setting it twice succeeds twice.
TEST_F(boundary, attribute_flags_and_bits, "CONV-13") {
    REQUIRE(Need().memory_attributes(variant->vm_type, uapi::kvm_memory_attribute_private));
    GMEM_ONLY_FOR(variant->flags == 0,
                  "per-VM attributes do not depend on the guest_memfd flags: the %s variant "
                  "with no flags checks them",
                  gmem::kvm::vm_type_name(variant->vm_type).c_str());
    const Vm& vm = self->vm;
    const u64 supported = static_cast<u64>(vm.check_extension(uapi::cap::memory_attributes));
    auto call = [&](u64 flags, u64 attrs) {
        uapi::kvm_memory_attributes a{};
        a.address = slot_gpa;
        a.size = pg();
        a.attributes = attrs;
        a.flags = flags;
        return answer_of(vm.try_set_memory_attributes_raw(a));
    };
    Table flags_t("KVM_SET_MEMORY_ATTRIBUTES flags bit");
    Table attrs_t("KVM_SET_MEMORY_ATTRIBUTES attribute bit");
    for (unsigned bit = 0; bit < 64; ++bit) {
        const u64 b = u64{1} << bit;
        flags_t.check(harness::strf("flags bit %u, attributes 0", bit),
                      {EINVAL, "kvm_vm_ioctl_set_mem_attributes: flags is not used, must be 0"}, call(b, 0));
        flags_t.check(harness::strf("flags bit %u, attributes PRIVATE", bit),
                      {EINVAL, "kvm_vm_ioctl_set_mem_attributes: flags checked first"},
                      call(b, uapi::kvm_memory_attribute_private));
        if (b & supported) continue;
        attrs_t.check(harness::strf("attribute bit %u (KVM_CAP_MEMORY_ATTRIBUTES = %#llx)", bit,
                                    static_cast<unsigned long long>(supported)),
                      {EINVAL, "kvm_vm_ioctl_set_mem_attributes: attribute not supported"}, call(0, b));
    }
    // The same state twice: the second call finds nothing to do.
    for (const u64 attrs : {uapi::kvm_memory_attribute_private, uapi::kvm_memory_attribute_private, u64{0}, u64{0}})
        attrs_t.check(harness::strf("[%#llx, +page) to %s", static_cast<unsigned long long>(slot_gpa),
                                    attrs ? "PRIVATE" : "0"),
                      {0, "kvm_vm_set_mem_attributes: valid (a range already in that state: nothing to do)"},
                      call(0, attrs));
}

// PRIVATE where the VM offers no attribute (CONV-13): a VM type without
// private memory (kvm_supported_mem_attributes() is PRIVATE only where
// kvm_arch_has_private_mem()), or any VM type once in-place conversion is
// on (the series' kvm_supported_vm_mem_attributes() returns 0 when
// gmem_in_place_conversion: the per-VM ioctl is refused, conversion goes
// through the guest_memfd). Where the ioctl exists (attributes 0 on a range
// holding none succeeds), PRIVATE -> -EINVAL.
TEST_F(boundary, private_refused_without_vm_attributes, "CONV-13") {
    GMEM_ONLY_FOR(variant->flags == 0,
                  "per-VM attributes do not depend on the guest_memfd flags: the %s variant "
                  "with no flags checks them",
                  gmem::kvm::vm_type_name(variant->vm_type).c_str());
    const Vm& vm = self->vm;
    const long supported = vm.check_extension(uapi::cap::memory_attributes);
    if (supported & static_cast<long>(uapi::kvm_memory_attribute_private))
        SKIP("%s offers PRIVATE (KVM_CAP_MEMORY_ATTRIBUTES %#lx): attribute_flags_and_bits checks it",
             gmem::kvm::vm_type_name(variant->vm_type).c_str(), supported);
    const auto zero = vm.try_set_memory_attributes(slot_gpa, pg(), 0);
    if (!zero && zero.error().code == ENOTTY)
        SKIP("KVM_SET_MEMORY_ATTRIBUTES answers ENOTTY: this kernel has no per-VM attributes "
             "(CONFIG_KVM_VM_MEMORY_ATTRIBUTES off)");
    ASSERT_OK(zero);
    const auto* t = gmem::kvm::features().vm_type(variant->vm_type);
    TH_LOG("%s: KVM_CAP_MEMORY_ATTRIBUTES %#lx, in-place conversion %s",
           gmem::kvm::vm_type_name(variant->vm_type).c_str(), supported,
           t && t->in_place_conversion ? "on" : "off");
    EXPECT_ERRNO(vm.try_set_memory_attributes(slot_gpa, pg(), uapi::kvm_memory_attribute_private), EINVAL);
}

GMEM_TEST_MAIN
