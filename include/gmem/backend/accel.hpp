// The accelerator as the memory backends see it: is it KVM, and "make me a
// guest_memfd". Three real implementations, as in QEMU:
//   KvmAccelerator   - the running kernel, through a gmem::kvm::Vm (kvm-all.c);
//                      only in builds with GMEM_WITH_KVM=ON.
//   StubAccelerator  - a build or run without KVM (kvm-stub.c): every request
//                      fails "guest_memfd is not supported for this
//                      configuration", result -ENOSYS.
//   NonKvmAccelerator- another accelerator (e.g. "tcg"): requests fail
//                      "guest-memfd requires KVM accelerator" without asking KVM.
// Each counts what it was asked and what it asked the kernel, so a test can
// prove that a rejection created nothing and queried nothing.
#pragma once

#include "gmem/backend/error.hpp"
#include "gmem/kvm/fd.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#ifndef GMEM_BACKEND_WITH_KVM
#define GMEM_BACKEND_WITH_KVM 1
#endif

#if GMEM_BACKEND_WITH_KVM
#include "gmem/kvm/kvm.hpp"
#endif

namespace gmem::backend {

// Whether this build compiled the KVM accelerator (CMake GMEM_WITH_KVM).
inline constexpr bool built_with_kvm = GMEM_BACKEND_WITH_KVM != 0;

struct AccelCounters {
    unsigned requests = 0;     // create_* calls made by a backend
    unsigned kvm_queries = 0;  // KVM_CHECK_EXTENSION issued
    unsigned kvm_creates = 0;  // KVM_CREATE_GUEST_MEMFD issued
    unsigned created = 0;      // ... and succeeded
};

class Accelerator {
  public:
    virtual ~Accelerator() = default;
    virtual std::string_view name() const = 0;
    // QEMU's kvm_enabled().
    virtual bool kvm_enabled() const = 0;
    // kvm_create_guest_memfd(size, flags): any flags, no per-VM flag check.
    virtual Outcome<Fd> create_guest_memfd(std::uint64_t size, std::uint64_t flags) = 0;
    // kvm_create_guest_memfd_shared(size) (seed 000): MMAP|INIT_SHARED, only
    // when the VM offers both.
    virtual Outcome<Fd> create_guest_memfd_shared(std::uint64_t size) = 0;

    const AccelCounters& counters() const { return counters_; }

  protected:
    Accelerator() = default;
    Accelerator(const Accelerator&) = default;
    Accelerator(Accelerator&&) = default;
    Accelerator& operator=(const Accelerator&) = default;
    Accelerator& operator=(Accelerator&&) = default;
    AccelCounters counters_;
};

class StubAccelerator final : public Accelerator {
  public:
    static constexpr const char* message = "guest_memfd is not supported for this configuration";
    std::string_view name() const override { return "stub"; }
    bool kvm_enabled() const override { return false; }
    Outcome<Fd> create_guest_memfd(std::uint64_t size, std::uint64_t flags) override;
    Outcome<Fd> create_guest_memfd_shared(std::uint64_t size) override;
};

class NonKvmAccelerator final : public Accelerator {
  public:
    static constexpr const char* message = "guest-memfd requires KVM accelerator";
    NonKvmAccelerator() : name_("tcg") {}
    explicit NonKvmAccelerator(std::string name) : name_(std::move(name)) {}
    std::string_view name() const override { return name_; }
    bool kvm_enabled() const override { return false; }
    Outcome<Fd> create_guest_memfd(std::uint64_t size, std::uint64_t flags) override;
    Outcome<Fd> create_guest_memfd_shared(std::uint64_t size) override;

  private:
    std::string name_;
};

#if GMEM_BACKEND_WITH_KVM
struct KvmOptions {
    const char* kvm_path = gmem::kvm::Kvm::default_path;
    unsigned long vm_type = uapi::kvm_x86_default_vm;
    // Applied to the VM's real KVM_CAP_GUEST_MEMFD_FLAGS answer: a mask that
    // drops MMAP or INIT_SHARED makes the accelerator answer exactly as it
    // would on an older kernel that does not offer them.
    std::uint64_t gmem_flags_mask = ~0ULL;
};

class KvmAccelerator final : public Accelerator {
  public:
    static constexpr const char* no_gmem_message = "KVM does not support guest_memfd";
    static constexpr const char* no_shared_message =
        "KVM does not support using guest_memfd for shared memory";
    static constexpr const char* create_failed_message = "Error creating KVM guest_memfd";

    // Opens /dev/kvm, creates a VM of the type and asks it (kvm_init).
    static Result<KvmAccelerator> open(const KvmOptions& opts = {});
    // Adopts a VM and asks it.
    explicit KvmAccelerator(kvm::Vm vm, std::uint64_t gmem_flags_mask = ~0ULL);

    std::string_view name() const override { return "kvm"; }
    bool kvm_enabled() const override { return true; }
    Outcome<Fd> create_guest_memfd(std::uint64_t size, std::uint64_t flags) override;
    Outcome<Fd> create_guest_memfd_shared(std::uint64_t size) override;

    const kvm::Vm& vm() const { return vm_; }
    // The VM's KVM_CAP_GUEST_MEMFD_FLAGS answer as the kernel gave it, and as
    // the accelerator uses it (after the mask).
    std::uint64_t kernel_gmem_flags() const { return kernel_flags_; }
    std::uint64_t supported_gmem_flags() const { return kernel_flags_ & mask_; }
    // KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2 both non-zero (CAP-02).
    bool guest_memfd_supported() const { return gmem_supported_; }

  private:
    long ask(long cap);
    kvm::Vm vm_;
    std::uint64_t mask_ = ~0ULL;
    std::uint64_t kernel_flags_ = 0;
    bool gmem_supported_ = false;
};
#endif

// "kvm" (when compiled), "stub", or a non-KVM accelerator name ("tcg",
// "qtest", "xen", "hvf", "whpx", "nvmm"). Errors: an unknown name, "kvm" in a
// build without KVM, or /dev/kvm unusable.
Outcome<std::unique_ptr<Accelerator>> make_accelerator(std::string_view name);
// "kvm" in a KVM build, "stub" otherwise (the way QEMU links kvm-stub).
std::string_view default_accelerator_name();

} // namespace gmem::backend
