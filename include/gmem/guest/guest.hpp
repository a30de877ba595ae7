// Guest code on a vCPU. GuestVm owns a VM with one vCPU in 64-bit long mode
// and a core memslot (GDT, IDT, TSS, page tables, payload code, stack), loads
// an embedded payload (payloads.hpp), runs it with a watchdog and decodes what
// came back (ucalls and unexpected exits) into a RunResult:
//
//   GuestVm g(vm_type);
//   auto gmem = g.vm().create_guest_memfd(size, MMAP | INIT_SHARED);
//   g.map_gmem(gmem, GMEM_GUEST_GMEM_GPA, 0, size);          // userspace_addr 0
//   auto r = g.run(payload::check_pattern, {GMEM_GUEST_GMEM_GPA, size, seed});
//   EXPECT_GUEST_DONE(r);                                     // expect.hpp
//
// Layout and the ucall record: gmem/guest/abi.h. Guest physical [0, 8 GiB) is
// identity-mapped from the start; map_gpa() maps more.
#pragma once

#include "gmem/errno.hpp"
#include "gmem/guest/abi.h"
#include "gmem/kvm/fd.hpp"
#include "gmem/kvm/kvm.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::guest {

using SrcLoc = std::source_location;

// A flat payload image built from guest-code/ and embedded in the program.
struct Payload {
    const char* name;
    std::span<const std::uint8_t> image;
};

// Why an image cannot be loaded (bad magic or version, wrong load address,
// entry or stub table outside the image, too large); nullopt when it can.
std::optional<std::string> validate(const Payload& p);

enum class Outcome {
    done,           // the payload returned (DONE ucall)
    sync,           // stopped at a SYNC because on_sync said so; resume() goes on
    guest_assert,   // a GUEST_ASSERT* failed in the guest
    exception,      // an unexpected guest exception (vector, error code, rip, cr2)
    timeout,        // the watchdog stopped a guest that did not finish in time
    bad_ucall,      // an OUT to the ucall port without a valid record
    unexpected_io,  // port I/O other than a ucall
    mmio,           // access to a GPA that no memslot backs (KVM_EXIT_MMIO)
    memory_fault,   // KVM_EXIT_MEMORY_FAULT (KVM_RUN failed with EFAULT)
    shutdown,       // KVM_EXIT_SHUTDOWN (triple fault)
    internal_error, // KVM_EXIT_INTERNAL_ERROR
    fail_entry,     // KVM_EXIT_FAIL_ENTRY
    halted,         // HLT outside the mini library's final halt
    hypercall,      // KVM_EXIT_HYPERCALL that no on_hypercall handler took
    other_exit,     // any other exit reason
    run_error,      // KVM_RUN failed and no exit explains it
};
std::string_view outcome_name(Outcome o); // "done", "guest_assert", ...

struct NamedValue {
    std::string name; // the guest's expression text for it
    std::uint64_t value = 0;
};

// What one run() / resume() ended with. Fields beyond outcome are filled
// where they apply to it; describe() renders the whole story in one line.
struct RunResult {
    std::string payload;
    Outcome outcome = Outcome::run_error;
    std::uint64_t ret = 0;                           // done: the payload's return value
    std::vector<std::uint64_t> values;               // the last ucall's values
    std::vector<std::vector<std::uint64_t>> syncs;   // every SYNC of this call, in order
    std::string file;                                // guest_assert: guest source file
    unsigned line = 0;                               //               and line
    std::string expr;                                //               and expression
    std::vector<NamedValue> named;                   //               and compared values
    unsigned vector = 0;                             // exception
    std::uint64_t error_code = 0;
    std::uint64_t cr2 = 0;
    std::uint64_t rip = 0;           // where the guest stopped (exception: the faulting rip)
    std::uint32_t exit_reason = 0;   // kvm_run::exit_reason at the stop
    std::uint64_t gpa = 0;           // mmio, memory_fault
    std::uint64_t size = 0;          // mmio (length), memory_fault
    bool is_write = false;           // mmio, unexpected_io (OUT)
    std::uint64_t flags = 0;         // memory_fault
    std::uint16_t port = 0;          // unexpected_io, bad_ucall
    std::uint32_t suberror = 0;      // internal_error
    std::uint64_t hypercall_nr = 0;  // hypercall: nr; its args are in `values`
    std::vector<std::uint64_t> data; // internal_error data / fail_entry reason
    Errno err{};                     // run_error, memory_fault: KVM_RUN's errno
    std::chrono::milliseconds timeout{0}; // timeout: the watchdog's limit
    std::string detail;              // bad_ucall: what was wrong with it

    bool ok() const { return outcome == Outcome::done; }
    std::string describe() const;
};

struct RunOptions {
    // The watchdog: the whole run() / resume() call, SYNC handling included.
    std::chrono::milliseconds timeout{10000};
    // Called at every SYNC with its values. Return true to resume the guest,
    // false to stop there (Outcome::sync). Without it, SYNCs are recorded in
    // RunResult::syncs and the guest resumes.
    std::function<bool(std::span<const std::uint64_t>)> on_sync{};
    // Called at every KVM_EXIT_HYPERCALL (hypercalls userspace enabled with
    // KVM_CAP_EXIT_HYPERCALL) with nr and args[0..5]. Return the value for
    // hypercall.ret to resume the guest, nullopt to stop (Outcome::hypercall).
    // Without it every such exit stops the run.
    std::function<std::optional<std::uint64_t>(std::uint64_t nr,
                                                std::span<const std::uint64_t> args)>
        on_hypercall{};
};

class GuestVm {
  public:
    // A VM of this type with one vCPU in long mode and the core slot. Throws
    // gmem::Error naming the failed step (e.g. KVM_CREATE_VM: EINVAL).
    explicit GuestVm(unsigned long vm_type = uapi::kvm_x86_default_vm,
                     SrcLoc loc = SrcLoc::current());
    // Builds on a VM that exists already (e.g. one whose fd arrived by a CPR
    // transfer). It must have no memslot 0 and no vCPU 0 yet.
    GuestVm(kvm::Kvm kvm, kvm::Vm vm, SrcLoc loc = SrcLoc::current());

    const kvm::Kvm& kvm() const { return kvm_; }
    const kvm::Vm& vm() const { return vm_; }
    const kvm::Vcpu& vcpu() const { return vcpus_.front().vcpu; }
    const kvm::Vcpu& vcpu(unsigned index) const { return vcpus_.at(index).vcpu; }
    unsigned vcpu_count() const { return static_cast<unsigned>(vcpus_.size()); }
    // One more vCPU (id = its index), in long mode like vCPU 0, with its own
    // stack; at most max_vcpus in all. Returns its index.
    unsigned add_vcpu(SrcLoc loc = SrcLoc::current());
    static constexpr unsigned max_vcpus = 16;
    // How CPUID was set up: "KVM_SET_CPUID2 with N supported entries", or
    // why it was left at KVM's default (e.g. KVM_GET_SUPPORTED_CPUID: EINVAL).
    const std::string& cpuid_note() const { return cpuid_note_; }

    // Binds [offset, offset + size) of a guest_memfd at gpa in a new slot
    // (KVM_MEM_GUEST_MEMFD; userspace_addr 0 = no host address at all) and
    // maps the GPAs in the guest page tables. Returns the slot number.
    Result<std::uint32_t> try_map_gmem(const kvm::GuestMemfd& gmem, std::uint64_t gpa,
                                       std::uint64_t offset, std::uint64_t size,
                                       std::uint64_t userspace_addr = 0);
    std::uint32_t map_gmem(const kvm::GuestMemfd& gmem, std::uint64_t gpa, std::uint64_t offset,
                           std::uint64_t size, std::uint64_t userspace_addr = 0,
                           SrcLoc loc = SrcLoc::current());
    // An ordinary slot over host memory the caller owns (kept alive by it).
    std::uint32_t map_memory(std::uint64_t gpa, void* host, std::uint64_t size,
                             SrcLoc loc = SrcLoc::current());
    void unmap(std::uint32_t slot, SrcLoc loc = SrcLoc::current());
    // Identity-maps [gpa, gpa + size) in the guest page tables (2 MiB pages).
    Result<void> try_map_gpa(std::uint64_t gpa, std::uint64_t size);
    void map_gpa(std::uint64_t gpa, std::uint64_t size, SrcLoc loc = SrcLoc::current());

    // Loads the payload, puts args (at most 6) in rdi, rsi, rdx, rcx, r8, r9
    // and runs until it returns, fails or the watchdog fires. Throws
    // gmem::Error only for host-side problems (bad image, ioctl failures
    // outside KVM_RUN); whatever the guest does is in the result.
    RunResult run(const Payload& p, std::initializer_list<std::uint64_t> args = {},
                  const RunOptions& opt = {}, SrcLoc loc = SrcLoc::current());
    // Continues a run stopped at a SYNC.
    RunResult resume(const RunOptions& opt = {}, SrcLoc loc = SrcLoc::current());
    // The same on vCPU `index`. Different vCPUs may run at once, from one
    // thread each, as long as they run the same payload (loading another
    // rewrites the code under the running ones) and do not fault at once
    // (exceptions share one IST stack).
    RunResult run_on(unsigned index, const Payload& p,
                     std::initializer_list<std::uint64_t> args = {}, const RunOptions& opt = {},
                     SrcLoc loc = SrcLoc::current());
    RunResult resume_on(unsigned index, const RunOptions& opt = {},
                        SrcLoc loc = SrcLoc::current());

  private:
    struct VcpuState {
        kvm::Vcpu vcpu;
        std::string payload_name;
        bool can_resume = false;
        bool ran = false; // KVM_RUN was entered at least once
    };
    void init(SrcLoc loc);
    void setup_vcpu(const kvm::Vcpu& v, SrcLoc loc);
    RunResult run_loop(VcpuState& st, const RunOptions& opt);
    void load(const Payload& p, SrcLoc loc);
    std::uint8_t* core_at(std::uint64_t gpa) const;

    kvm::Kvm kvm_;
    kvm::Vm vm_;
    Mapping core_;
    std::vector<VcpuState> vcpus_;
    std::vector<std::uint8_t> cpuid_; // what vCPU 0 got, for the others
    std::uint64_t next_table_ = 0;    // next free page-table page (GPA)
    std::uint32_t next_slot_ = 1;
    std::string cpuid_note_;
    const std::uint8_t* loaded_image_ = nullptr; // the payload in the code area
};

// The shared data pattern (abi.h) on the host side: writes bytes with pattern
// positions pos, pos + 1, ...; first_mismatch gives the index of the first
// byte that differs, nullopt when all match.
void fill_pattern(std::span<std::uint8_t> bytes, std::uint64_t seed, std::uint64_t pos = 0);
std::optional<std::size_t> first_mismatch(std::span<const std::uint8_t> bytes,
                                          std::uint64_t seed, std::uint64_t pos = 0);

} // namespace gmem::guest
