// GuestVm: VM and vCPU setup for 64-bit long mode, payload loading, the run
// loop and its watchdog, ucall decoding.
//
// The watchdog is a POSIX timer aimed at the running thread (SIGEV_THREAD_ID).
// Its signal handler sets kvm_run::immediate_exit on the vCPU being run by
// that thread, so KVM_RUN returns EINTR whether the signal lands inside
// KVM_RUN or just before the next one: a hung guest cannot be missed.
#include "gmem/guest/guest.hpp"

#include "gmem/kvm/error.hpp"
#include "gmem/uapi/kvm_x86_extra.hpp"
#include "gmem/uapi/x86.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

// glibc before 2.41 spells the thread id of SIGEV_THREAD_ID only this way.
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

namespace gmem::guest {
namespace {

namespace x86 = uapi::x86;

constexpr std::uint64_t core_size = GMEM_GUEST_CORE_END - GMEM_GUEST_CORE_GPA;
// The stacks share [code area end, GMEM_GUEST_STACK_TOP): one per vCPU.
constexpr std::uint64_t guest_stack_size =
    (GMEM_GUEST_STACK_TOP - GMEM_GUEST_CODE_GPA - GMEM_GUEST_CODE_MAX) / GuestVm::max_vcpus;
static_assert(guest_stack_size >= 0x4000, "each vCPU needs a stack of at least 16 KiB");
constexpr std::uint64_t max_guest_va = 1ULL << 47; // lower canonical half

std::string hex(std::uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}

// ---- watchdog ----
thread_local uapi::kvm_run* t_running = nullptr;
thread_local volatile sig_atomic_t t_fired = 0;

int watchdog_signal() { return SIGRTMIN + 4; }

void watchdog_handler(int) {
    t_fired = 1;
    if (auto* run = t_running) run->immediate_exit = 1;
}

void install_watchdog_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa{};
        sa.sa_handler = watchdog_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: KVM_RUN must come back with EINTR
        ::sigaction(watchdog_signal(), &sa, nullptr);
    });
}

// One armed one-shot timer for the duration of a run() / resume() call.
class Watchdog {
  public:
    Watchdog(uapi::kvm_run* run, std::chrono::milliseconds limit) : run_(run) {
        install_watchdog_handler();
        t_fired = 0;
        run_->immediate_exit = 0;
        t_running = run_;
        struct sigevent sev{};
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = watchdog_signal();
        sev.sigev_notify_thread_id = ::gettid();
        if (::timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) {
            const Errno e = Errno::last();
            t_running = nullptr;
            throw Error("timer_create for the guest watchdog", e);
        }
        const auto ms = std::max<long long>(1, limit.count());
        struct itimerspec its{};
        its.it_value.tv_sec = static_cast<time_t>(ms / 1000);
        its.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
        ::timer_settime(timer_, 0, &its, nullptr);
    }
    ~Watchdog() {
        ::timer_delete(timer_); // a signal already generated is delivered before this returns
        t_running = nullptr;
        run_->immediate_exit = 0;
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
    bool fired() const { return t_fired != 0; }

  private:
    uapi::kvm_run* run_;
    timer_t timer_{};
};

// ---- ucall records ----
std::optional<std::string> check_record(const gmem_ucall& u) {
    if (u.magic != GMEM_UCALL_MAGIC) return "bad magic " + hex(u.magic);
    if (u.version != GMEM_UCALL_VERSION)
        return "version " + std::to_string(u.version) + ", expected " +
               std::to_string(GMEM_UCALL_VERSION);
    if (u.size != sizeof(gmem_ucall))
        return "size " + std::to_string(u.size) + ", expected " + std::to_string(sizeof(gmem_ucall));
    if (u.kind < GMEM_UCALL_SYNC || u.kind > GMEM_UCALL_EXCEPTION)
        return "unknown kind " + std::to_string(u.kind);
    if (u.nvalues > GMEM_UCALL_MAX_VALUES) return "nvalues " + std::to_string(u.nvalues);
    if (u.text_len > GMEM_UCALL_TEXT_MAX) return "text_len " + std::to_string(u.text_len);
    return std::nullopt;
}

// "expr\0name0\0name1" -> {expr, name0, name1}, never reading past text_len.
std::vector<std::string> split_text(const gmem_ucall& u) {
    std::vector<std::string> parts;
    const std::size_t n = std::min<std::size_t>(u.text_len, sizeof(u.text));
    std::size_t start = 0;
    for (std::size_t i = 0; i <= n; ++i) {
        if (i == n || u.text[i] == '\0') {
            if (i > start || i < n) parts.emplace_back(u.text + start, i - start);
            start = i + 1;
        }
    }
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    return parts;
}

} // namespace

// ------------------------------------------------------------ validation --
std::optional<std::string> validate(const Payload& p) {
    const auto& img = p.image;
    if (img.size() < sizeof(gmem_payload_header))
        return "image of " + std::to_string(img.size()) + " bytes is smaller than its header";
    gmem_payload_header h{};
    std::memcpy(&h, img.data(), sizeof(h));
    if (h.magic != GMEM_PAYLOAD_MAGIC) return "bad header magic " + hex(h.magic);
    if (h.version != GMEM_PAYLOAD_VERSION) return "header version " + std::to_string(h.version);
    if (h.header_size != sizeof(h)) return "header size " + std::to_string(h.header_size);
    if (h.load_addr != GMEM_GUEST_CODE_GPA)
        return "linked at " + hex(h.load_addr) + ", expected " + hex(GMEM_GUEST_CODE_GPA);
    const std::uint64_t end = h.load_addr + img.size();
    if (img.size() > GMEM_GUEST_CODE_MAX || h.image_end > GMEM_GUEST_CODE_GPA + GMEM_GUEST_CODE_MAX)
        return "image of " + std::to_string(img.size()) + " bytes exceeds the code area";
    if (h.image_end != end)
        return "image_end " + hex(h.image_end) + " but the flat image ends at " + hex(end);
    if (h.entry < h.load_addr + sizeof(h) || h.entry >= end)
        return "entry " + hex(h.entry) + " outside the image";
    const std::uint64_t table_bytes = x86::exception_vectors * sizeof(std::uint64_t);
    if (h.exception_stubs < h.load_addr + sizeof(h) || h.exception_stubs + table_bytes > end ||
        h.exception_stubs % 8 != 0)
        return "exception stub table " + hex(h.exception_stubs) + " outside the image";
    for (unsigned v = 0; v < x86::exception_vectors; ++v) {
        std::uint64_t stub = 0;
        std::memcpy(&stub, img.data() + (h.exception_stubs - h.load_addr) + v * 8, 8);
        if (stub < h.load_addr + sizeof(h) || stub >= end)
            return "exception stub for vector " + std::to_string(v) + " at " + hex(stub) +
                   " outside the image";
    }
    return std::nullopt;
}

// ------------------------------------------------------------- GuestVm --
namespace {
// Plain-memory slots go through the v1 ioctl, which every KVM has: only
// guest_memfd slots need KVM_SET_USER_MEMORY_REGION2 (Linux 6.8+), and the
// framework must work on kernels without it (e.g. the 6.1 negative control).
void set_plain_slot(const kvm::Vm& vm, const kvm::Memslot& s, SrcLoc loc) {
    uapi::kvm_userspace_memory_region r{};
    r.slot = s.slot;
    r.flags = s.flags;
    r.guest_phys_addr = s.gpa;
    r.memory_size = s.size;
    r.userspace_addr = s.userspace_addr;
    must(vm.try_set_region_v1(r),
         "KVM_SET_USER_MEMORY_REGION(slot " + std::to_string(s.slot) + ", gpa " + hex(s.gpa) +
             ", size " + hex(s.size) + ")",
         loc);
}
} // namespace

GuestVm::GuestVm(unsigned long vm_type, SrcLoc loc)
    : kvm_(kvm::Kvm::open(kvm::Kvm::default_path, loc)), vm_(kvm_.create_vm(vm_type, loc)) {
    init(loc);
}

GuestVm::GuestVm(kvm::Kvm kvm, kvm::Vm vm, SrcLoc loc) : kvm_(std::move(kvm)), vm_(std::move(vm)) {
    init(loc);
}

void GuestVm::init(SrcLoc loc) {
    void* mem = ::mmap(nullptr, core_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) throw Error("mmap of the guest core memory", Errno::last(), loc);
    core_ = Mapping(mem, core_size);
    kvm::Memslot core{};
    core.slot = 0;
    core.gpa = GMEM_GUEST_CORE_GPA;
    core.size = core_size;
    core.userspace_addr = reinterpret_cast<std::uint64_t>(mem);
    set_plain_slot(vm_, core, loc);

    // GDT: null, flat 64-bit code, flat data, 64-bit TSS (two slots).
    auto* gdt = reinterpret_cast<std::uint64_t*>(core_at(GMEM_GUEST_GDT_GPA));
    gdt[GMEM_GUEST_SEL_CODE / 8] = x86::segment_descriptor(
        0, 0xfffff, x86::seg_type_code_xr_accessed, true, 0, true, true, false, true);
    gdt[GMEM_GUEST_SEL_DATA / 8] = x86::segment_descriptor(
        0, 0xfffff, x86::seg_type_data_rw_accessed, true, 0, true, false, true, true);
    constexpr std::uint32_t tss_limit = 0x67;
    gdt[GMEM_GUEST_SEL_TSS / 8] =
        x86::segment_descriptor(static_cast<std::uint32_t>(GMEM_GUEST_TSS_GPA), tss_limit,
                                x86::seg_type_tss64_busy, false, 0, true, false, false, false);
    gdt[GMEM_GUEST_SEL_TSS / 8 + 1] = GMEM_GUEST_TSS_GPA >> 32;
    // TSS: IST1 (offset 36) is the exception stack, so that even a fault on
    // a broken stack reaches the stubs; no I/O bitmap (offset 102 = limit+1).
    std::uint8_t* tss = core_at(GMEM_GUEST_TSS_GPA);
    const std::uint64_t ist1 = GMEM_GUEST_EXC_STACK_TOP;
    std::memcpy(tss + 36, &ist1, 8);
    const std::uint16_t iomap = tss_limit + 1;
    std::memcpy(tss + 102, &iomap, 2);

    next_table_ = GMEM_GUEST_PT_GPA + x86::page_size_4k; // the PML4 is the first page
    map_gpa(0, GMEM_GUEST_IDENTITY_MAPPED, loc);

    // CPUID as the kernel selftests do (all that KVM supports). Some KVM
    // flavours (e.g. the PVM module) refuse KVM_GET_SUPPORTED_CPUID; the long
    // mode setup does not depend on it, so the vCPU then keeps KVM's default
    // CPUID and the note says so.
    {
        const std::size_t n = uapi::kvm_max_cpuid_entries;
        std::vector<std::uint8_t> buf(sizeof(uapi::kvm_cpuid2) + n * sizeof(uapi::kvm_cpuid_entry2));
        auto* hdr = reinterpret_cast<uapi::kvm_cpuid2*>(buf.data());
        hdr->nent = static_cast<std::uint32_t>(n);
        if (::ioctl(kvm_.fd(), uapi::ioctl::get_supported_cpuid, buf.data()) == 0) {
            cpuid_ = std::move(buf);
            cpuid_note_ = "KVM_SET_CPUID2 with " + std::to_string(hdr->nent) +
                          " entries from KVM_GET_SUPPORTED_CPUID";
        } else {
            cpuid_note_ = "KVM default CPUID (KVM_GET_SUPPORTED_CPUID failed: " +
                          Errno::last().describe() + ")";
        }
    }
    vcpus_.reserve(max_vcpus);
    vcpus_.push_back(VcpuState{vm_.create_vcpu(0, loc), {}, false, false});
    setup_vcpu(vcpus_.back().vcpu, loc);
}

unsigned GuestVm::add_vcpu(SrcLoc loc) {
    if (vcpus_.size() >= max_vcpus)
        throw Error("GuestVm::add_vcpu: at most " + std::to_string(max_vcpus) + " vCPUs",
                    Errno{E2BIG}, loc);
    const auto id = static_cast<unsigned>(vcpus_.size());
    auto v = vm_.create_vcpu(id, loc);
    setup_vcpu(v, loc);
    vcpus_.push_back(VcpuState{std::move(v), {}, false, false});
    return id;
}

// 64-bit long mode on the core slot's GDT, IDT, TSS and page tables; CPUID
// as vCPU 0 got it.
void GuestVm::setup_vcpu(const kvm::Vcpu& vcpu, SrcLoc loc) {
    if (!cpuid_.empty()) must(vcpu.try_set_cpuid2(cpuid_.data()), "KVM_SET_CPUID2", loc);
    constexpr std::uint32_t tss_limit = 0x67;
    auto s = must(vcpu.try_get_sregs(), "KVM_GET_SREGS", loc);
    uapi::kvm_segment code{};
    code.limit = 0xffffffff;
    code.selector = GMEM_GUEST_SEL_CODE;
    code.type = x86::seg_type_code_xr_accessed;
    code.present = 1;
    code.s = 1;
    code.l = 1;
    code.g = 1;
    uapi::kvm_segment data{};
    data.limit = 0xffffffff;
    data.selector = GMEM_GUEST_SEL_DATA;
    data.type = x86::seg_type_data_rw_accessed;
    data.present = 1;
    data.s = 1;
    data.db = 1;
    data.g = 1;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    uapi::kvm_segment tr{};
    tr.base = GMEM_GUEST_TSS_GPA;
    tr.limit = tss_limit;
    tr.selector = GMEM_GUEST_SEL_TSS;
    tr.type = x86::seg_type_tss64_busy;
    tr.present = 1;
    s.tr = tr;
    s.gdt.base = GMEM_GUEST_GDT_GPA;
    s.gdt.limit = 0xfff;
    s.idt.base = GMEM_GUEST_IDT_GPA;
    s.idt.limit = x86::exception_vectors * 16 - 1;
    s.cr0 = x86::cr0_pe | x86::cr0_mp | x86::cr0_et | x86::cr0_ne | x86::cr0_wp | x86::cr0_am |
            x86::cr0_pg;
    s.cr4 = x86::cr4_pae;
    s.cr3 = GMEM_GUEST_PT_GPA;
    s.efer = x86::efer_lme | x86::efer_lma;
    must(vcpu.try_set_sregs(s), "KVM_SET_SREGS (64-bit long mode)", loc);
}

std::uint8_t* GuestVm::core_at(std::uint64_t gpa) const {
    return core_.data() + (gpa - GMEM_GUEST_CORE_GPA);
}

Result<void> GuestVm::try_map_gpa(std::uint64_t gpa, std::uint64_t size) {
    if (size == 0) return {};
    if (gpa >= max_guest_va || size > max_guest_va - gpa) return std::unexpected(Errno{EINVAL});
    const std::uint64_t first = gpa & ~(x86::page_size_2m - 1);
    const std::uint64_t last = gpa + size - 1;
    auto table = [&](std::uint64_t* entry) -> std::uint64_t* {
        if (!(*entry & x86::pte_present)) {
            if (next_table_ >= GMEM_GUEST_PT_END) return nullptr;
            // Fresh anonymous memory reads zero: the new table is empty.
            *entry = next_table_ | x86::pte_present | x86::pte_writable;
            next_table_ += x86::page_size_4k;
        }
        return reinterpret_cast<std::uint64_t*>(core_at(*entry & x86::pte_addr_mask));
    };
    auto* pml4 = reinterpret_cast<std::uint64_t*>(core_at(GMEM_GUEST_PT_GPA));
    for (std::uint64_t a = first; a <= last && a >= first; a += x86::page_size_2m) {
        std::uint64_t* pdpt = table(&pml4[(a >> 39) & 511]);
        std::uint64_t* pd = pdpt ? table(&pdpt[(a >> 30) & 511]) : nullptr;
        if (!pd) return std::unexpected(Errno{ENOMEM}); // page-table area used up
        pd[(a >> 21) & 511] = a | x86::pte_present | x86::pte_writable | x86::pte_large;
    }
    return {};
}

void GuestVm::map_gpa(std::uint64_t gpa, std::uint64_t size, SrcLoc loc) {
    must(try_map_gpa(gpa, size), "mapping GPA " + hex(gpa) + "+" + hex(size) + " in the guest",
         loc);
}

Result<std::uint32_t> GuestVm::try_map_gmem(const kvm::GuestMemfd& gmem, std::uint64_t gpa,
                                            std::uint64_t offset, std::uint64_t size,
                                            std::uint64_t userspace_addr) {
    const auto s =
        kvm::Memslot::for_gmem(next_slot_, gpa, size, gmem.fd(), offset, userspace_addr);
    if (auto r = vm_.try_set_memslot(s); !r) return std::unexpected(r.error());
    if (auto r = try_map_gpa(gpa, size); !r) {
        (void)vm_.try_delete_memslot(s.slot);
        return std::unexpected(r.error());
    }
    return next_slot_++;
}

std::uint32_t GuestVm::map_gmem(const kvm::GuestMemfd& gmem, std::uint64_t gpa,
                                std::uint64_t offset, std::uint64_t size,
                                std::uint64_t userspace_addr, SrcLoc loc) {
    return must(try_map_gmem(gmem, gpa, offset, size, userspace_addr),
                "binding guest_memfd [" + hex(offset) + ", +" + hex(size) + ") at GPA " + hex(gpa),
                loc);
}

std::uint32_t GuestVm::map_memory(std::uint64_t gpa, void* host, std::uint64_t size, SrcLoc loc) {
    kvm::Memslot s{};
    s.slot = next_slot_;
    s.gpa = gpa;
    s.size = size;
    s.userspace_addr = reinterpret_cast<std::uint64_t>(host);
    set_plain_slot(vm_, s, loc);
    map_gpa(gpa, size, loc);
    return next_slot_++;
}

void GuestVm::unmap(std::uint32_t slot, SrcLoc loc) {
    auto r = vm_.try_delete_memslot(slot);
    if (!r && r.error().code == ENOTTY) { // no region2: a plain slot, delete it the v1 way
        kvm::Memslot s{};
        s.slot = slot;
        set_plain_slot(vm_, s, loc);
        return;
    }
    must(std::move(r), "deleting memslot " + std::to_string(slot), loc);
}

void GuestVm::load(const Payload& p, SrcLoc loc) {
    if (auto why = validate(p))
        throw Error("loading guest payload '" + std::string(p.name ? p.name : "?") + "': " + *why,
                    Errno{ENOEXEC}, loc);
    // The same image again: leave the code under vCPUs that may be running it.
    if (loaded_image_ == p.image.data()) return;
    gmem_payload_header h{};
    std::memcpy(&h, p.image.data(), sizeof(h));
    std::memcpy(core_at(GMEM_GUEST_CODE_GPA), p.image.data(), p.image.size());
    // IDT: one 64-bit interrupt gate per exception vector, on IST1.
    auto* idt = reinterpret_cast<std::uint64_t*>(core_at(GMEM_GUEST_IDT_GPA));
    for (unsigned v = 0; v < x86::exception_vectors; ++v) {
        std::uint64_t stub = 0;
        std::memcpy(&stub, p.image.data() + (h.exception_stubs - h.load_addr) + v * 8, 8);
        idt[2 * v] = (stub & 0xffff) | (std::uint64_t{GMEM_GUEST_SEL_CODE} << 16) |
                     (1ULL << 32) /* IST1 */ |
                     (std::uint64_t{x86::gate_type_interrupt64} << 40) | (1ULL << 47) |
                     (((stub >> 16) & 0xffff) << 48);
        idt[2 * v + 1] = stub >> 32;
    }
    loaded_image_ = p.image.data();
}

RunResult GuestVm::run(const Payload& p, std::initializer_list<std::uint64_t> args,
                       const RunOptions& opt, SrcLoc loc) {
    return run_on(0, p, args, opt, loc);
}

RunResult GuestVm::resume(const RunOptions& opt, SrcLoc loc) { return resume_on(0, opt, loc); }

RunResult GuestVm::run_on(unsigned index, const Payload& p,
                          std::initializer_list<std::uint64_t> args, const RunOptions& opt,
                          SrcLoc loc) {
    if (index >= vcpus_.size())
        throw Error("GuestVm::run_on: no vCPU " + std::to_string(index), Errno{EINVAL}, loc);
    VcpuState& st = vcpus_[index];
    const kvm::Vcpu& vcpu_ = st.vcpu;
    if (args.size() > 6)
        throw Error("guest payload '" + std::string(p.name ? p.name : "?") + "' given " +
                        std::to_string(args.size()) + " arguments (at most 6)",
                    Errno{E2BIG}, loc);
    // An exit the previous run stopped at (a ucall OUT, an MMIO read) is only
    // complete once KVM_RUN is entered again (api.rst, KVM_EXIT_IO/MMIO): with
    // immediate_exit set, KVM finishes it without entering the guest, so it
    // cannot land on the fresh registers below.
    if (st.ran) {
        uapi::kvm_run* rp = vcpu_.run_page();
        rp->immediate_exit = 1;
        (void)vcpu_.try_run(); // EINTR by design
        rp->immediate_exit = 0;
    }
    st.ran = true;
    load(p, loc);
    st.payload_name = p.name ? p.name : "?";
    gmem_payload_header h{};
    std::memcpy(&h, p.image.data(), sizeof(h));
    std::uint64_t a[6] = {};
    std::copy(args.begin(), args.end(), a);
    uapi::kvm_regs r{};
    r.rdi = a[0];
    r.rsi = a[1];
    r.rdx = a[2];
    r.rcx = a[3];
    r.r8 = a[4];
    r.r9 = a[5];
    r.rip = h.entry;
    // Each vCPU its own stack, downwards from the top of the core slot.
    r.rsp = GMEM_GUEST_STACK_TOP - index * guest_stack_size;
    r.rflags = 0x2; // bit 1 is reserved-1; interrupts off
    must(vcpu_.try_set_regs(r), "KVM_SET_REGS", loc);
    st.can_resume = false;
    return run_loop(st, opt);
}

RunResult GuestVm::resume_on(unsigned index, const RunOptions& opt, SrcLoc loc) {
    if (index >= vcpus_.size())
        throw Error("GuestVm::resume_on: no vCPU " + std::to_string(index), Errno{EINVAL}, loc);
    VcpuState& st = vcpus_[index];
    if (!st.can_resume)
        throw Error("GuestVm::resume: the last run did not stop at a SYNC", Errno{EINVAL}, loc);
    st.can_resume = false;
    return run_loop(st, opt);
}

RunResult GuestVm::run_loop(VcpuState& st, const RunOptions& opt) {
    const kvm::Vcpu& vcpu_ = st.vcpu;
    RunResult res;
    res.payload = st.payload_name;
    uapi::kvm_run* run = vcpu_.run_page();
    const std::size_t run_size = vm_.vcpu_mmap_size();
    auto stop_rip = [&] {
        if (auto regs = vcpu_.try_get_regs()) res.rip = regs->rip;
    };
    Watchdog dog(run, opt.timeout);
    for (;;) {
        auto rr = vcpu_.try_run();
        res.exit_reason = run->exit_reason;
        if (!rr) {
            if (rr.error() == EINTR) {
                if (dog.fired()) {
                    res.outcome = Outcome::timeout;
                    res.timeout = opt.timeout;
                    stop_rip();
                    return res;
                }
                run->immediate_exit = 0;
                continue; // another signal: go on
            }
            res.err = rr.error();
            if (rr.error() == EFAULT && run->exit_reason == uapi::kvm_exit_memory_fault) {
                res.outcome = Outcome::memory_fault;
                res.gpa = run->memory_fault.gpa;
                res.size = run->memory_fault.size;
                res.flags = run->memory_fault.flags;
            } else {
                res.outcome = Outcome::run_error;
            }
            stop_rip();
            return res;
        }
        switch (run->exit_reason) {
        case uapi::kvm_exit_io: {
            const auto& io = run->io;
            res.port = io.port;
            res.is_write = io.direction == uapi::kvm_exit_io_out;
            res.size = io.size;
            const bool ucall_shape = io.port == GMEM_UCALL_PORT && res.is_write && io.size == 4 &&
                                     io.count == 1 && io.data_offset >= sizeof(uapi::kvm_run) &&
                                     io.data_offset + 4 <= run_size;
            if (io.port != GMEM_UCALL_PORT) {
                res.outcome = Outcome::unexpected_io;
                stop_rip();
                return res;
            }
            if (!ucall_shape) {
                res.outcome = Outcome::bad_ucall;
                res.detail = std::string(res.is_write ? "OUT" : "IN") + " of " +
                             std::to_string(io.size) + " byte(s) x" + std::to_string(io.count) +
                             " (a ucall is one 4-byte OUT)";
                stop_rip();
                return res;
            }
            std::uint32_t gpa = 0;
            std::memcpy(&gpa, reinterpret_cast<const std::uint8_t*>(run) + io.data_offset, 4);
            if (gpa < GMEM_GUEST_CORE_GPA || gpa + sizeof(gmem_ucall) > GMEM_GUEST_CORE_END) {
                res.outcome = Outcome::bad_ucall;
                res.gpa = gpa;
                res.detail = "record GPA " + hex(gpa) + " is outside the core slot [" +
                             hex(GMEM_GUEST_CORE_GPA) + ", " + hex(GMEM_GUEST_CORE_END) + ")";
                stop_rip();
                return res;
            }
            gmem_ucall u{};
            std::memcpy(&u, core_at(gpa), sizeof(u));
            u.file[sizeof(u.file) - 1] = '\0';
            if (auto why = check_record(u)) {
                res.outcome = Outcome::bad_ucall;
                res.gpa = gpa;
                res.detail = "record at GPA " + hex(gpa) + ": " + *why;
                stop_rip();
                return res;
            }
            res.values.assign(u.values, u.values + u.nvalues);
            switch (u.kind) {
            case GMEM_UCALL_SYNC:
                res.syncs.push_back(res.values);
                if (opt.on_sync && !opt.on_sync(res.values)) {
                    res.outcome = Outcome::sync;
                    st.can_resume = true;
                    stop_rip();
                    return res;
                }
                continue;
            case GMEM_UCALL_DONE:
                res.outcome = Outcome::done;
                res.ret = res.values.empty() ? 0 : res.values[0];
                stop_rip();
                return res;
            case GMEM_UCALL_ASSERT: {
                res.outcome = Outcome::guest_assert;
                res.file = u.file;
                res.line = u.line;
                const auto parts = split_text(u);
                res.expr = parts.empty() ? "" : parts[0];
                for (std::size_t i = 0; i < res.values.size(); ++i)
                    res.named.push_back({i + 1 < parts.size() ? parts[i + 1]
                                                              : "value " + std::to_string(i),
                                         res.values[i]});
                stop_rip();
                return res;
            }
            case GMEM_UCALL_EXCEPTION:
                res.outcome = Outcome::exception;
                res.vector = static_cast<unsigned>(u.values[0]);
                res.error_code = u.values[1];
                res.rip = u.values[2];
                res.cr2 = u.values[3];
                return res;
            }
            break; // not reached: check_record() bounds the kind
        }
        case uapi::kvm_exit_mmio:
            res.outcome = Outcome::mmio;
            res.gpa = run->mmio.phys_addr;
            res.size = run->mmio.len;
            res.is_write = run->mmio.is_write != 0;
            stop_rip();
            return res;
        case uapi::kvm_exit_shutdown:
            res.outcome = Outcome::shutdown;
            stop_rip();
            return res;
        case uapi::kvm_exit_internal_error: {
            res.outcome = Outcome::internal_error;
            res.suberror = run->internal.suberror;
            const std::uint32_t n = std::min<std::uint32_t>(run->internal.ndata, 16);
            res.data.assign(run->internal.data, run->internal.data + n);
            stop_rip();
            return res;
        }
        case uapi::kvm_exit_fail_entry:
            res.outcome = Outcome::fail_entry;
            res.data = {run->fail_entry.hardware_entry_failure_reason, run->fail_entry.cpu};
            stop_rip();
            return res;
        case uapi::kvm_exit_hlt:
            res.outcome = Outcome::halted;
            stop_rip();
            return res;
        case uapi::kvm_exit_hypercall: {
            const std::span<const std::uint64_t> hargs(run->hypercall.args, 6);
            if (opt.on_hypercall) {
                if (auto ret = opt.on_hypercall(run->hypercall.nr, hargs)) {
                    run->hypercall.ret = *ret;
                    continue;
                }
            }
            res.outcome = Outcome::hypercall;
            res.hypercall_nr = run->hypercall.nr;
            res.values.assign(hargs.begin(), hargs.end());
            stop_rip();
            return res;
        }
        case uapi::kvm_exit_memory_fault: // with a successful KVM_RUN: not expected, report it
            res.outcome = Outcome::memory_fault;
            res.gpa = run->memory_fault.gpa;
            res.size = run->memory_fault.size;
            res.flags = run->memory_fault.flags;
            stop_rip();
            return res;
        default:
            res.outcome = Outcome::other_exit;
            stop_rip();
            return res;
        }
        res.outcome = Outcome::other_exit;
        return res;
    }
}

// ------------------------------------------------------------- pattern --
void fill_pattern(std::span<std::uint8_t> bytes, std::uint64_t seed, std::uint64_t pos) {
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = gmem_pattern_byte(seed, pos + i);
}

std::optional<std::size_t> first_mismatch(std::span<const std::uint8_t> bytes, std::uint64_t seed,
                                          std::uint64_t pos) {
    for (std::size_t i = 0; i < bytes.size(); ++i)
        if (bytes[i] != gmem_pattern_byte(seed, pos + i)) return i;
    return std::nullopt;
}

} // namespace gmem::guest
