// The accelerators that never touch KVM, and the accelerator factory.
#include "gmem/backend/accel.hpp"

#include <array>
#include <cerrno>

namespace gmem::backend {

Outcome<Fd> StubAccelerator::create_guest_memfd(std::uint64_t, std::uint64_t) {
    ++counters_.requests;
    return fail(BackendError::plain(message, -ENOSYS));
}
Outcome<Fd> StubAccelerator::create_guest_memfd_shared(std::uint64_t) {
    ++counters_.requests;
    return fail(BackendError::plain(message, -ENOSYS));
}

Outcome<Fd> NonKvmAccelerator::create_guest_memfd(std::uint64_t, std::uint64_t) {
    ++counters_.requests;
    return fail(BackendError::plain(message));
}
Outcome<Fd> NonKvmAccelerator::create_guest_memfd_shared(std::uint64_t) {
    ++counters_.requests;
    return fail(BackendError::plain(message));
}

std::string_view default_accelerator_name() { return built_with_kvm ? "kvm" : "stub"; }

Outcome<std::unique_ptr<Accelerator>> make_accelerator(std::string_view name) {
    static constexpr std::array<std::string_view, 6> non_kvm = {"tcg", "qtest", "xen",
                                                                "hvf", "whpx", "nvmm"};
    if (name == "stub") return std::make_unique<StubAccelerator>();
    for (auto n : non_kvm)
        if (name == n) return std::make_unique<NonKvmAccelerator>(std::string(n));
    if (name == "kvm") {
#if GMEM_BACKEND_WITH_KVM
        auto k = KvmAccelerator::open();
        if (!k) return fail(BackendError::with_errno("Could not access KVM kernel module", k.error()));
        return std::make_unique<KvmAccelerator>(std::move(*k));
#else
        return fail(BackendError::plain("accelerator 'kvm' is not compiled into this build "
                                        "(GMEM_WITH_KVM=OFF)",
                                        -ENOSYS));
#endif
    }
    return fail(BackendError::plain("invalid accelerator " + std::string(name)));
}

} // namespace gmem::backend
