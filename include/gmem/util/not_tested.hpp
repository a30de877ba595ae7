// The words every tool says when the host's KVM cannot test a kernel
// (TOOLS-06): gmem-report's verdict, gmem-probe and gmem-bench all use these,
// so that a user sees one message, one exit code (4) and one way out.
#pragma once

namespace gmem::util {

// Exit code of a run that tested nothing because KVM could not be used:
// kselftest's KSFT_SKIP, which CTest's SKIP_RETURN_CODE and kselftest
// runners read as "skipped", never as a pass.
inline constexpr int exit_not_tested = 4;
// "NOT TESTED: KVM cannot be used: <why>"; <why> is the probe's
// Features::kvm_unusable_reason() ("no /dev/kvm (ENOENT: ...)", ...).
inline constexpr const char* not_tested_prefix = "NOT TESTED: ";
inline constexpr const char* kvm_unusable_prefix = "KVM cannot be used: ";
// What to run instead.
inline constexpr const char* not_tested_hint =
    "To test a kernel without host KVM: ci/conformance --kernel NAME (a ci/kernels.list name such as "
    "7.3 or lab, a bzImage, or --deb PACKAGE.deb) boots it under QEMU, which gives it its own /dev/kvm";

} // namespace gmem::util
