// Capability probing (CAP-01 ... CAP-08): what /dev/kvm and each VM type
// answer, checked against the kernel's behaviour and against what the probe
// (gmem::kvm::features) recorded, since every other check gates on the probe.
//
// Sources of the expectations, beyond spec/BEHAVIORS.md and UAPI.md:
//  - Documentation/virt/kvm/api.rst: KVM_GET_API_VERSION returns 12;
//    KVM_CREATE_VM with an unsupported type fails (x86 kvm_arch_init_vm:
//    !kvm_is_vm_type_supported(type) -> -EINVAL).
//  - virt/kvm/guest_memfd.c kvm_gmem_create(): flags & ~supported -> -EINVAL,
//    nothing else is asked of the flags (no "INIT_SHARED needs MMAP" rule), and
//    tools/testing/selftests/kvm/guest_memfd_test.c test_guest_memfd_flags()
//    creates each bit alone: success iff advertised, else EINVAL.
//  - virt/kvm/kvm_main.c kvm_supported_mem_attributes(): PRIVATE only when
//    kvm_arch_has_private_mem(kvm); x86 sets has_private_mem for
//    KVM_X86_SW_PROTECTED_VM (x86.c), KVM_X86_SNP_VM (svm.c svm_vm_init) and
//    KVM_X86_TDX_VM (tdx.c) only: never for DEFAULT, SEV or SEV_ES.
#include "cap_support.hpp"
#include "gmem/test.hpp"
#include "gmem/util/ktap.hpp"
#include "gmem/util/process.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

using gmem::kvm::Features;
using gmem::kvm::features;
using gmem::kvm::Kvm;
using gmem::kvm::Need;
using gmem::kvm::vm_type_name;
namespace uapi = gmem::uapi;

constexpr long expected_api_version = 12; // api.rst, UAPI.md
constexpr std::uint64_t flag_mmap = uapi::guest_memfd_flag_mmap;
constexpr std::uint64_t flag_init_shared = uapi::guest_memfd_flag_init_shared;
constexpr std::uint64_t attr_private = uapi::kvm_memory_attribute_private;

// A test that only needs /dev/kvm: the CAP-01 checks run it in a changed world.
constexpr const char* gated_test = "kvm_access.api_version";

std::uint64_t u64(long v) {
    return static_cast<std::uint64_t>(v);
}

// Runs this program again (in the child's world: its uid, its mount
// namespace) and checks that a KVM-gated test SKIPs with `reason`, and that
// the whole program fails nothing: every test passes or SKIPs with `reason`
// or, for the root-only checks, with `root_reason`.
void expect_gated_runs_skip(const std::string& exe, const std::string& reason,
                            const std::string& root_reason) {
    // The child must not write over the outer run's KTAP file.
    const std::vector<std::string> env = {"GMEM_KTAP_DIR="};
    {
        HARNESS_TRACE("%s -r %s", exe.c_str(), gated_test);
        const auto one = gmem::util::run_capture({exe, "-r", gated_test}, env);
        EXPECT_EQ(one.exit_code, harness::exit_skip);
        const auto doc = gmem::ktap::parse(one.out);
        EXPECT_EQ(doc.errors.size(), 0u);
        ASSERT_EQ(doc.tests.size(), 1u);
        EXPECT_TRUE(doc.tests[0].ok);
        EXPECT_STREQ(doc.tests[0].name, gated_test);
        EXPECT_STREQ(doc.tests[0].directive, "SKIP");
        EXPECT_STREQ(doc.tests[0].directive_text, reason);
    }
    HARNESS_TRACE("%s (every test)", exe.c_str());
    const auto all = gmem::util::run_capture({exe}, env);
    EXPECT_TRUE(all.exit_code == harness::exit_pass || all.exit_code == harness::exit_skip);
    const auto doc = gmem::ktap::parse(all.out);
    EXPECT_EQ(doc.errors.size(), 0u);
    EXPECT_GT(doc.tests.size(), 1u);
    unsigned kvm_skips = 0;
    for (const auto& t : doc.tests) {
        HARNESS_TRACE("test %s: %s %s", t.name.c_str(), t.directive.c_str(),
                      t.directive_text.c_str());
        EXPECT_TRUE(t.ok);
        if (t.directive == "SKIP") {
            EXPECT_TRUE(t.directive_text == reason || t.directive_text == root_reason);
            kvm_skips += t.directive_text == reason;
        } else {
            EXPECT_STREQ(t.directive, "");
        }
    }
    EXPECT_GT(kvm_skips, 0u);
}

// The frame of the CAP-01 checks: in a child, `change` the world for this
// program (it returns why it could not, which SKIPs the test), then `check`
// there, given this program's path to run again.
void in_changed_world(const std::function<std::string(const std::string& exe)>& change,
                      const std::function<void(const std::string& exe)>& check) {
    const std::string exe = cap::self_exe();
    ASSERT_NE(exe, "");
    cap::SharedNote skip;
    ASSERT_TRUE(skip.usable());
    const bool clean = harness::run_in_child([&] {
        if (const std::string why = change(exe); !why.empty()) {
            skip.set(why);
            return;
        }
        check(exe);
    });
    if (const std::string why = skip.get(); !why.empty()) SKIP("%s", why.c_str());
    EXPECT_TRUE(clean);
}

std::string read_line(const char* path, bool* present) {
    std::ifstream in(path);
    std::string line;
    *present = static_cast<bool>(in) && static_cast<bool>(std::getline(in, line));
    return line;
}

// What the per-VM-type checks that ask the kernel directly start with, after
// their REQUIRE: /dev/kvm, a VM of the type, and the type's name for their
// traces. A failure to open or create is reported at the caller's line.
struct TypeVm {
    Kvm kvm;
    gmem::kvm::Vm vm;
    std::string type_name; // vm_type_name(type)
};
TypeVm open_type_vm(unsigned long type, gmem::kvm::SrcLoc loc = gmem::kvm::SrcLoc::current()) {
    Kvm kvm = Kvm::open(Kvm::default_path, loc);
    gmem::kvm::Vm vm = kvm.create_vm(type, loc);
    return {std::move(kvm), std::move(vm), vm_type_name(type)};
}

} // namespace

// ------------------------------------------------------------- CAP-01 --
FIXTURE(kvm_access){};
FIXTURE_SETUP(kvm_access) {}
FIXTURE_TEARDOWN(kvm_access) {}

TEST_F(kvm_access, api_version, "CAP-01") {
    REQUIRE(Need().kvm());
    const Kvm kvm = Kvm::open();
    EXPECT_EQ(gmem::must(kvm.try_api_version(), "KVM_GET_API_VERSION"), expected_api_version);
    EXPECT_EQ(features().api_version, expected_api_version);
}

// /dev/kvm exists but this uid may not open it: the probe says so, naming
// EACCES and the path, and a gated test SKIPs with that reason (exit 4).
TEST_F(kvm_access, permission_denied_skips, "CAP-01") {
    REQUIRE(Need().root().kvm());
    const auto drop_to_nobody = [](const std::string& exe) -> std::string {
        if (auto r = cap::drop_to_nobody(); !r)
            return "cannot switch to uid 65534: " + r.error().describe();
        if (::access("/dev/kvm", R_OK | W_OK) == 0)
            return "uid 65534 may open /dev/kvm on this machine: no EACCES to observe";
        if (::access(exe.c_str(), X_OK) != 0)
            return exe + " cannot be run by uid 65534: " + gmem::Errno::last().describe();
        return "";
    };
    in_changed_world(drop_to_nobody, [](const std::string& exe) {
        const Features f = gmem::kvm::probe();
        const std::string why = f.kvm_unusable_reason();
        HARNESS_TRACE("probe's reason \"%s\"", why.c_str());
        EXPECT_STREQ(gmem::kvm::kvm_access_name(f.access), "permission");
        EXPECT_EQ(f.access_error, gmem::Errno{EACCES});
        EXPECT_TRUE(cap::contains(why, "EACCES"));
        EXPECT_TRUE(cap::contains(why, "/dev/kvm"));
        EXPECT_EQ(Need(f).guest_memfd(uapi::kvm_x86_default_vm).missing().value_or(""), why);
        expect_gated_runs_skip(exe, why, "needs root (euid 65534)");
    });
}

// No /dev/kvm at all (a mount namespace with an empty /dev): "no /dev/kvm".
TEST_F(kvm_access, missing_dev_kvm_skips, "CAP-01") {
    REQUIRE(Need().root().kvm());
    const auto hide_dev = [](const std::string&) -> std::string {
        const std::string err = cap::hide_dev();
        return err.empty() ? "" : "cannot hide /dev/kvm: " + err;
    };
    in_changed_world(hide_dev, [](const std::string& exe) {
        ASSERT_ERRNO(::access("/dev/kvm", F_OK), ENOENT);
        const Features f = gmem::kvm::probe();
        const std::string why = f.kvm_unusable_reason();
        HARNESS_TRACE("probe's reason \"%s\"", why.c_str());
        EXPECT_STREQ(gmem::kvm::kvm_access_name(f.access), "missing");
        EXPECT_TRUE(why.starts_with("no /dev/kvm"));
        EXPECT_EQ(Need(f).kvm().missing().value_or(""), why);
        expect_gated_runs_skip(exe, why, "");
    });
}

// ------------------------------------------------- per VM type: CAP-02..08 --
FIXTURE(vm){};
FIXTURE_VARIANT(vm) {
    unsigned long type;
    bool private_mem; // the VM type can have private memory (see the header)
};
FIXTURE_VARIANT_ADD(vm, default_vm){uapi::kvm_x86_default_vm, false};
FIXTURE_VARIANT_ADD(vm, sw_protected_vm){uapi::kvm_x86_sw_protected_vm, true};
FIXTURE_VARIANT_ADD(vm, sev_vm){uapi::kvm_x86_sev_vm, false};
FIXTURE_VARIANT_ADD(vm, sev_es_vm){uapi::kvm_x86_sev_es_vm, false};
FIXTURE_VARIANT_ADD(vm, snp_vm){uapi::kvm_x86_snp_vm, true};
FIXTURE_VARIANT_ADD(vm, tdx_vm){uapi::kvm_x86_tdx_vm, true};
FIXTURE_SETUP(vm) {}
FIXTURE_TEARDOWN(vm) {}

// CAP-05: an advertised type is created; a known type that is not fails EINVAL.
TEST_F(vm, create_iff_advertised, "CAP-05") {
    REQUIRE(Need().kvm());
    const unsigned long type = variant->type;
    const Kvm kvm = Kvm::open();
    const long types = kvm.check_extension(uapi::cap::vm_types);
    // A kernel without KVM_CAP_VM_TYPES answers 0 and has the default type only.
    const bool advertised =
        (u64(types) & (1ULL << type)) != 0 || (types == 0 && type == uapi::kvm_x86_default_vm);
    HARNESS_TRACE("%s, KVM_CAP_VM_TYPES = 0x%lx", vm_type_name(type).c_str(), types);
    const auto vm = kvm.try_create_vm(type);
    if (advertised)
        EXPECT_OK(vm);
    else
        EXPECT_ERRNO(vm, EINVAL);

    // What every other check gates on must agree.
    const auto* t = features().vm_type(type);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->advertised, advertised);
    EXPECT_EQ(t->created, vm.has_value());
    if (type == uapi::kvm_x86_default_vm && (u64(types) >> (uapi::kvm_x86_tdx_vm + 1)) != 0)
        OBSERVE("KVM_CAP_VM_TYPES 0x%lx advertises types beyond KVM_X86_TDX_VM (5)", types);
}

// CAP-05 over every type number, as upstream vm_types_test walks 0..63:
// KVM_CREATE_VM(type) succeeds iff the type is advertised, else EINVAL; and
// beyond 63 (the argument is an unsigned long) the same. arch/x86/kvm/x86.c
// kvm_arch_init_vm(): "!kvm_is_vm_type_supported(type)" -> -EINVAL, with
// kvm_is_vm_type_supported() = "type < 32 && (kvm_caps.supported_vm_types &
// BIT(type))": KVM_CHECK_EXTENSION answers an int, so no type from 32 on can
// be advertised, and the "type < 32" guard refuses them untruncated (64 is
// not taken for 0). virt/kvm/kvm_main.c kvm_dev_ioctl_create_vm() passes the
// argument unchanged (kvm_create_vm -> kvm_arch_init_vm); nothing before the
// arch hook looks at the type. Older kernels compared the number with the
// known types one by one (6.8's kvm_is_vm_type_supported) or refused every
// type but 0 ("if (type) return -EINVAL"; KVM_CAP_VM_TYPES answers 0 there):
// the same answers.
TEST(create_vm_every_type_number, "CAP-05") {
    REQUIRE(Need().kvm());
    const Kvm kvm = Kvm::open();
    const long types = kvm.check_extension(uapi::cap::vm_types);
    std::vector<unsigned long> numbers;
    for (unsigned long t = 0; t < 64; ++t)
        numbers.push_back(t);
    for (const unsigned long t : {64UL, 65UL, 1UL << 31, 1UL << 32, (1UL << 32) + 1, 1UL << 63,
                                  ~0UL})
        numbers.push_back(t);
    unsigned created = 0;
    for (const unsigned long type : numbers) {
        const bool advertised = (type < 32 && (u64(types) & (1ULL << type)) != 0) ||
                                (types == 0 && type == uapi::kvm_x86_default_vm);
        HARNESS_TRACE("KVM_CREATE_VM(%#lx), KVM_CAP_VM_TYPES = 0x%lx: %s", type, types,
                      advertised ? "advertised" : "not advertised");
        const auto vm = kvm.try_create_vm(type);
        // The VM's fd number stands for the VM in a message.
        const gmem::Result<int> vm_fd =
            vm ? gmem::Result<int>(vm->fd()) : std::unexpected(vm.error());
        if (advertised)
            EXPECT_OK(vm_fd);
        else
            EXPECT_ERRNO(vm_fd, EINVAL);
        created += vm.has_value();
    }
    TH_LOG("%zu type numbers tried, %u created (KVM_CAP_VM_TYPES = 0x%lx)", numbers.size(), created,
           types);
}

// CAP-02: caps non-zero => KVM_CREATE_GUEST_MEMFD (flags 0) works;
// KVM_CAP_GUEST_MEMFD 0 => it does not. api.rst, "Capability: which KVM
// extension provides this ioctl ... a KVM_CAP_xyz constant that can be
// checked with KVM_CHECK_EXTENSION", and 4.142 KVM_CREATE_GUEST_MEMFD names
// KVM_CAP_GUEST_MEMFD; KVM_CHECK_EXTENSION returns 0 for an extension that is
// not supported. An ioctl that works while its extension answers 0 makes every
// user that asks first (QEMU, this corpus) lose a working feature, and makes
// all of this corpus's guest_memfd checks SKIP on a kernel that has it.
TEST_F(vm, guest_memfd_iff_caps, "CAP-02") {
    REQUIRE(Need().vm_type(variant->type));
    const auto [kvm, vm, type_name] = open_type_vm(variant->type);
    const long gmem = vm.check_extension(uapi::cap::guest_memfd);
    const long mem2 = vm.check_extension(uapi::cap::user_memory2);
    HARNESS_TRACE("%s: KVM_CAP_GUEST_MEMFD %ld, KVM_CAP_USER_MEMORY2 %ld", type_name.c_str(), gmem,
                  mem2);
    const auto* t = features().vm_type(variant->type);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->caps.guest_memfd.value_or(-1), gmem);
    EXPECT_EQ(t->caps.user_memory2.value_or(-1), mem2);
    EXPECT_EQ(Need().guest_memfd(variant->type).missing().has_value(), gmem == 0 || mem2 == 0);
    const auto g = vm.try_create_guest_memfd(gmem::page_size(), 0);
    if (gmem != 0 && mem2 != 0) {
        EXPECT_OK(g);
    } else if (gmem == 0) {
        // Before 6.18 the capability said 0 on VM types without private
        // memory although KVM_CREATE_GUEST_MEMFD worked there (Debian 6.12:
        // "!kvm || kvm_arch_has_private_mem(kvm)" vs a kvm_gmem_create()
        // that does not ask); 6.18 made guest_memfd a feature of every VM
        // type and the capability 1 for all (with MMAP). On those older
        // kernels the answer is observed, as before.
        int major = 0, minor = 0;
        const bool new_kernel =
            std::sscanf(features().kernel_release.c_str(), "%d.%d", &major, &minor) != 2 ||
            major > 6 || (major == 6 && minor >= 18);
        if (!new_kernel) {
            OBSERVE("%s: KVM_CAP_GUEST_MEMFD is 0 before Linux 6.18; KVM_CREATE_GUEST_MEMFD answers %s",
                    type_name.c_str(), g ? "success" : g.error().describe().c_str());
            return;
        }
        // Which errno is not documented (ENOTTY where the kernel has no
        // guest_memfd: kvm_main.c passes the ioctl on to the arch); only
        // that it fails.
        TH_LOG("%s: KVM_CAP_GUEST_MEMFD is 0; KVM_CREATE_GUEST_MEMFD answers %s (expected: a failure)",
               type_name.c_str(), g ? "success" : g.error().describe().c_str());
        EXPECT_FALSE(g.has_value());
    } else {
        // KVM_CAP_USER_MEMORY2 missing alone: guest_memfd may exist but
        // cannot be bound; nothing documents what creation answers then.
        OBSERVE("KVM_CAP_USER_MEMORY2 0; KVM_CREATE_GUEST_MEMFD answers %s",
                g ? "success" : g.error().describe().c_str());
    }
}

// CAP-02, our gate logic (not the kernel): a copy of this machine's probe
// with one cap zeroed makes every gmem gate name that cap.
TEST_F(vm, gate_names_missing_cap, "CAP-02") {
    REQUIRE(Need().guest_memfd(variant->type));
    const unsigned long type = variant->type;
    Features copy = features();
    gmem::kvm::VmTypeInfo* t = nullptr;
    for (auto& v : copy.vm_types)
        if (v.type == type) t = &v;
    ASSERT_NE(t, nullptr);
    EXPECT_FALSE(Need(copy).guest_memfd(type).missing().has_value());

    struct Case {
        std::optional<long> gmem::kvm::Caps::*cap;
        const char* name;
    };
    for (const Case c : {Case{&gmem::kvm::Caps::guest_memfd, "KVM_CAP_GUEST_MEMFD"},
                         Case{&gmem::kvm::Caps::user_memory2, "KVM_CAP_USER_MEMORY2"}}) {
        HARNESS_TRACE("%s zeroed", c.name);
        const auto saved = t->caps.*c.cap;
        t->caps.*c.cap = 0;
        const std::string expected = std::string(c.name) + " is 0 on " + vm_type_name(type);
        EXPECT_STREQ(Need(copy).guest_memfd(type).missing().value_or(""), expected);
        EXPECT_STREQ(Need(copy).gmem_flags(type, flag_mmap).missing().value_or(""), expected);
        EXPECT_STREQ(Need(copy).in_place_conversion(type).missing().value_or(""), expected);
        EXPECT_STREQ(Need(copy).shared_gmem(type).missing().value_or(""), expected);
        t->caps.*c.cap = std::nullopt; // the kernel did not answer: also missing
        EXPECT_STREQ(Need(copy).guest_memfd(type).missing().value_or(""), expected);
        t->caps.*c.cap = saved;
    }
    EXPECT_FALSE(Need(copy).guest_memfd(type).missing().has_value());
}

// CAP-03: the per-VM flags never offer INIT_SHARED without MMAP; the
// /dev/kvm answer is recorded beside it.
TEST_F(vm, gmem_flags_cap, "CAP-03") {
    REQUIRE(Need().vm_type(variant->type));
    const auto [kvm, vm, type_name] = open_type_vm(variant->type);
    const long per_vm = vm.check_extension(uapi::cap::guest_memfd_flags);
    const long sys = kvm.check_extension(uapi::cap::guest_memfd_flags);
    HARNESS_TRACE("%s: KVM_CAP_GUEST_MEMFD_FLAGS on the VM 0x%lx, on /dev/kvm 0x%lx",
                  type_name.c_str(), per_vm, sys);
    TH_LOG("KVM_CAP_GUEST_MEMFD_FLAGS: VM %s, /dev/kvm %s",
           gmem::kvm::gmem_flags_name(u64(per_vm)).c_str(),
           gmem::kvm::gmem_flags_name(u64(sys)).c_str());
    if (u64(per_vm) & flag_init_shared) EXPECT_NE(u64(per_vm) & flag_mmap, 0u);
    if (u64(sys) & flag_init_shared) EXPECT_NE(u64(sys) & flag_mmap, 0u);

    const auto* t = features().vm_type(variant->type);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->caps.guest_memfd_flags.value_or(-1), per_vm);
    EXPECT_EQ(features().system.guest_memfd_flags.value_or(-1), sys);
    if (per_vm != sys)
        OBSERVE("KVM_CAP_GUEST_MEMFD_FLAGS differs: %s on the VM, %s on /dev/kvm",
                gmem::kvm::gmem_flags_name(u64(per_vm)).c_str(),
                gmem::kvm::gmem_flags_name(u64(sys)).c_str());
    if (const std::uint64_t other = u64(per_vm) & ~(flag_mmap | flag_init_shared))
        OBSERVE("flags beyond MMAP|INIT_SHARED offered: %s",
                gmem::kvm::gmem_flags_name(other).c_str());
}

// CAP-04: each of the 64 flag bits alone succeeds iff advertised, else EINVAL
// (INIT_SHARED alone included: kvm_gmem_create asks nothing more, see top).
TEST_F(vm, each_flag_bit_alone, "CAP-04") {
    REQUIRE(Need().guest_memfd(variant->type));
    const auto [kvm, vm, type_name] = open_type_vm(variant->type);
    const std::uint64_t offered = u64(vm.check_extension(uapi::cap::guest_memfd_flags));
    for (unsigned bit = 0; bit < 64; ++bit) {
        const std::uint64_t flag = 1ULL << bit;
        HARNESS_TRACE("%s, flag %s alone, KVM_CAP_GUEST_MEMFD_FLAGS = 0x%llx", type_name.c_str(),
                      gmem::kvm::gmem_flags_name(flag).c_str(),
                      static_cast<unsigned long long>(offered));
        if (offered & flag)
            EXPECT_OK(vm.try_create_guest_memfd(gmem::page_size(), flag));
        else
            EXPECT_ERRNO(vm.try_create_guest_memfd(gmem::page_size(), flag), EINVAL);
    }
}

// CAP-06: PRIVATE in the per-VM KVM_CAP_MEMORY_ATTRIBUTES only for VM types
// with private memory, and exactly when the VM ioctl takes it.
TEST_F(vm, memory_attributes_private, "CAP-06") {
    REQUIRE(Need().vm_type(variant->type));
    const auto [kvm, vm, type_name] = open_type_vm(variant->type);
    const long attrs = vm.check_extension(uapi::cap::memory_attributes);
    HARNESS_TRACE("%s: KVM_CAP_MEMORY_ATTRIBUTES = 0x%lx", type_name.c_str(), attrs);
    const auto* t = features().vm_type(variant->type);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->caps.memory_attributes.value_or(-1), attrs);
    if (!variant->private_mem) {
        EXPECT_EQ(u64(attrs) & attr_private, 0u);
    } else {
        // Expected but not guaranteed: the in-place conversion series turns the
        // per-VM attributes off (kvm.vm_memory_attributes=0), and a kernel
        // without CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES answers 0.
        OBSERVE("%s: KVM_CAP_MEMORY_ATTRIBUTES = 0x%lx", type_name.c_str(), attrs);
    }
    if (const std::uint64_t other = u64(attrs) & ~attr_private)
        OBSERVE("attributes beyond PRIVATE offered: 0x%llx",
                static_cast<unsigned long long>(other));
    // The answer and the ioctl agree, on every VM type and in both models:
    // KVM_SET_MEMORY_ATTRIBUTES takes PRIVATE exactly when the capability
    // offers it (api.rst 4.141: the capability returns the supported
    // attributes; kvm_vm_ioctl_set_mem_attributes fails EINVAL on any other;
    // without the ioctl, or in in-place mode, the capability is 0). Catches
    // a capability answer that hides (or invents) what the ioctl does.
    const auto set = vm.try_set_memory_attributes(0, gmem::page_size(), attr_private);
    HARNESS_TRACE("%s: KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on GPA 0 answers %s, "
                  "KVM_CAP_MEMORY_ATTRIBUTES = 0x%lx",
                  type_name.c_str(), set ? "success" : set.error().describe().c_str(), attrs);
    EXPECT_EQ(bool(set), (u64(attrs) & attr_private) != 0);
    if (variant->type == uapi::kvm_x86_default_vm)
        TH_LOG("KVM_CAP_MEMORY_ATTRIBUTES on /dev/kvm: 0x%lx",
               kvm.check_extension(uapi::cap::memory_attributes));
}

// CAP-07: in-place conversion by behaviour, corroborated by the capability at
// the number the probe used: the configured one, or the one it found by
// asking GmemAttrCap's range when the configured one did not answer PRIVATE
// on /dev/kvm although the ioctl works. With the feature on (BEHAVIORS.md
// CAP-07; series v8 patch 17 kvm_vm_ioctl_check_extension_generic: "if
// (!gmem_in_place_conversion || !kvm_supports_private_mem(kvm)) return 0;
// return KVM_MEMORY_ATTRIBUTE_PRIVATE", kvm NULL on /dev/kvm counting as
// private) the answer is PRIVATE on /dev/kvm and on a type with private
// memory, 0 on the others; and the per-VM KVM_CAP_MEMORY_ATTRIBUTES is 0
// (kvm_supported_vm_mem_attributes: "if (gmem_in_place_conversion || ...)
// return 0").
TEST_F(vm, in_place_conversion_by_behaviour, "CAP-07") {
    REQUIRE(Need().guest_memfd(variant->type));
    const auto [kvm, vm, type_name] = open_type_vm(variant->type);
    const auto g = vm.create_guest_memfd(gmem::page_size(), 0);
    const auto r = g.try_set_attributes(0, gmem::page_size(), 0);
    const bool absent = !r && r.error() == ENOTTY;
    const Features& f = features();
    const gmem::kvm::GmemAttrCap& a = f.gmem_attr;
    std::string source;
    bool chosen = false;
    const long configured = gmem::kvm::gmem_attr_cap_number(&source, &chosen);
    const long nr = f.gmem_attr_cap_nr;
    const long cap = vm.check_extension(nr);
    const long sys = kvm.check_extension(nr);
    HARNESS_TRACE("%s: KVM_SET_MEMORY_ATTRIBUTES2 answers %s; number used %ld (%s): VM 0x%lx, "
                  "/dev/kvm 0x%lx",
                  type_name.c_str(), r ? "success" : r.error().describe().c_str(), nr,
                  f.gmem_attr_cap_source.c_str(), cap, sys);

    // The probe saw what is seen here: every gate asks the probe.
    const auto* t = f.vm_type(variant->type);
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(t->conversion_probed);
    EXPECT_EQ(t->in_place_conversion, !absent);
    EXPECT_EQ(a.configured, configured);
    EXPECT_STREQ(a.configured_source, source);
    EXPECT_EQ(a.configured_chosen, chosen);
    EXPECT_EQ(a.configured_answer.value_or(-1), kvm.check_extension(configured));
    EXPECT_EQ(t->caps.guest_memfd_memory_attributes.value_or(-1), cap);
    EXPECT_EQ(f.system.guest_memfd_memory_attributes.value_or(-1), sys);
    EXPECT_EQ(Need().in_place_conversion(variant->type).missing().has_value(), absent);

    if (absent) {
        EXPECT_TRUE(a.conversion == gmem::kvm::Conversion::absent);
        EXPECT_FALSE(a.scanned); // nothing to corroborate: the configured number stays
        EXPECT_EQ(nr, configured);
        EXPECT_TRUE(cap::contains(a.summary, "n/a: in-place conversion absent"));
        // A number chosen for this kernel (GMEM_CAP_GMEM_ATTRS, or
        // configure-time GMEM_CAP_GMEM_ATTRS_NR) is trusted: the series' uapi
        // says KVM_SET_MEMORY_ATTRIBUTES2 is "Available with
        // KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES" (include/uapi/linux/kvm.h,
        // patch 0017 of ci/kernel-patches/gmem-inplace-v8-on-7.3), and
        // kvm_vm_ioctl_check_extension_generic answers 0 when
        // !gmem_in_place_conversion. A cap that advertises an ioctl that
        // answers ENOTTY is a bug (QEMU's CAP-08 predicate would take the
        // in-place path and fail). Only the default guess stays an
        // observation: on another kernel that number may be another cap.
        if (a.configured_chosen) {
            HARNESS_TRACE("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES is number %ld (%s) here; "
                          "KVM_SET_MEMORY_ATTRIBUTES2 answers ENOTTY, so the cap must answer 0",
                          nr, source.c_str());
            EXPECT_EQ(sys, 0);
            EXPECT_EQ(cap, 0);
        }
        if (!a.configured_chosen && (cap != 0 || sys != 0))
            OBSERVE("in-place conversion absent, yet capability %ld answers 0x%lx (VM), 0x%lx "
                    "(/dev/kvm): that number belongs to something else on this kernel (%s)",
                    nr, cap, sys, a.summary.c_str());
        else
            TH_LOG("in-place conversion absent (ENOTTY); %s", a.summary.c_str());
        return;
    }
    EXPECT_TRUE(a.conversion == gmem::kvm::Conversion::present);
    TH_LOG("in-place conversion present (KVM_SET_MEMORY_ATTRIBUTES2 answers %s); %s",
           r ? "success" : r.error().describe().c_str(), a.summary.c_str());
    EXPECT_EQ(u64(sys), attr_private);
    EXPECT_EQ(u64(cap), variant->private_mem ? attr_private : 0);
    EXPECT_EQ(vm.check_extension(uapi::cap::memory_attributes), 0);
    if (a.agrees == false)
        TH_LOG("the configured number %ld (%s) answers 0x%lx on /dev/kvm although in-place "
               "conversion works; the probe found %s and used it",
               a.configured, a.configured_source.c_str(), a.configured_answer.value_or(-1),
               a.found ? std::to_string(*a.found).c_str() : "no number");
}

// CAP-08: the derived predicates agree with the raw caps, and "shared" keeps
// its promise: an MMAP|INIT_SHARED file maps and holds what is written.
TEST_F(vm, derived_predicates, "CAP-08") {
    REQUIRE(Need().vm_type(variant->type));
    const unsigned long type = variant->type;
    const auto [kvm, vm, type_name] = open_type_vm(type);
    const Features& f = features();
    const std::uint64_t flags = u64(vm.check_extension(uapi::cap::guest_memfd_flags));
    const std::uint64_t attrs = u64(vm.check_extension(uapi::cap::memory_attributes));
    const std::uint64_t gattrs = u64(vm.check_extension(f.gmem_attr_cap_nr));
    const bool in_place = f.vm_type(type)->in_place_conversion;
    const bool want_shared = (flags & flag_mmap) && (flags & flag_init_shared);
    const bool want_private = (attrs & attr_private) || (in_place && (gattrs & attr_private));
    HARNESS_TRACE("%s: flags 0x%llx, attributes 0x%llx, gmem attributes 0x%llx, in-place %d",
                  type_name.c_str(), static_cast<unsigned long long>(flags),
                  static_cast<unsigned long long>(attrs), static_cast<unsigned long long>(gattrs),
                  in_place);
    TH_LOG("%s: shared guest_memfd %s, private guest_memfd %s", type_name.c_str(),
           f.shared_gmem(type) ? "yes" : "no", f.private_gmem(type) ? "yes" : "no");
    EXPECT_EQ(f.shared_gmem(type), want_shared);
    EXPECT_EQ(f.private_gmem(type), want_private);
    if (!variant->private_mem) EXPECT_FALSE(f.private_gmem(type)); // CAP-06
    EXPECT_EQ(Need().shared_gmem(type).missing().has_value(), !want_shared);

    if (want_shared) {
        const auto g = vm.create_guest_memfd(gmem::page_size(), flag_mmap | flag_init_shared);
        const auto m = g.mmap();
        harness::poke(m.data(), 0x5a);
        EXPECT_EQ(harness::peek(m.data()), 0x5a);
    }
}

// ----------------------------------------- CAP-07: the capability number --
FIXTURE(gmem_attr_cap){};
FIXTURE_SETUP(gmem_attr_cap) {
    ::unsetenv("GMEM_CAP_GMEM_ATTRS");
}
FIXTURE_TEARDOWN(gmem_attr_cap) {}

// GMEM_CAP_GMEM_ATTRS overrides the number at run time; a bad value is
// ignored (with a note in the source) and the default stays.
TEST_F(gmem_attr_cap, runtime_override, "CAP-07") {
    std::string source;
    bool chosen = true;
    const long def = gmem::kvm::gmem_attr_cap_number(&source, &chosen);
    EXPECT_EQ(def, uapi::cap::guest_memfd_memory_attributes_default);
    EXPECT_FALSE(cap::contains(source, "environment"));
    // Chosen only when configured for this kernel at configure time.
    EXPECT_EQ(chosen, source.starts_with("configure-time"));
    const std::string default_source = source;
    const bool default_chosen = chosen;

    struct Good {
        const char* text;
        long want;
    };
    for (const Good g : {Good{"249", 249}, Good{"251", 251}, Good{"0xfa", 250}}) {
        HARNESS_TRACE("GMEM_CAP_GMEM_ATTRS=%s", g.text);
        ::setenv("GMEM_CAP_GMEM_ATTRS", g.text, 1);
        chosen = false;
        EXPECT_EQ(gmem::kvm::gmem_attr_cap_number(&source, &chosen), g.want);
        EXPECT_STREQ(source, "GMEM_CAP_GMEM_ATTRS environment variable");
        EXPECT_TRUE(chosen);
        // The probe takes it too (asked of a path without KVM: no VM needed).
        EXPECT_EQ(gmem::kvm::probe("/nonexistent/kvm").gmem_attr_cap_nr, g.want);
    }
    for (const char* bad :
         {"junk", "0", "-3", "12abc", " ", "0x", "99999999999999999999", "4294967296"}) {
        HARNESS_TRACE("GMEM_CAP_GMEM_ATTRS='%s'", bad);
        ::setenv("GMEM_CAP_GMEM_ATTRS", bad, 1);
        chosen = !default_chosen;
        EXPECT_EQ(gmem::kvm::gmem_attr_cap_number(&source, &chosen), def);
        EXPECT_EQ(chosen, default_chosen); // an ignored value chooses nothing
        EXPECT_TRUE(source.starts_with(default_source));
        EXPECT_TRUE(cap::contains(source, "ignored"));
    }
    ::setenv("GMEM_CAP_GMEM_ATTRS", "", 1); // empty = unset
    EXPECT_EQ(gmem::kvm::gmem_attr_cap_number(&source), def);
    EXPECT_STREQ(source, default_source);
}

// The probe asks the kernel at the overridden number: pointed at a number
// whose answer is known (KVM_CAP_USER_MEMORY2), it records that answer. With
// in-place conversion on, that answer (1, not PRIVATE) disagrees with the
// behaviour, and the number the probe then uses is the one it found.
TEST_F(gmem_attr_cap, probe_asks_overridden_number, "CAP-07") {
    REQUIRE(Need().vm_type(uapi::kvm_x86_default_vm));
    const Kvm kvm = Kvm::open();
    const auto vm = kvm.create_vm();
    const long want_sys = kvm.check_extension(uapi::cap::user_memory2);
    ::setenv("GMEM_CAP_GMEM_ATTRS", std::to_string(uapi::cap::user_memory2).c_str(), 1);
    const Features f = gmem::kvm::probe();
    EXPECT_EQ(f.gmem_attr.configured, uapi::cap::user_memory2);
    EXPECT_STREQ(f.gmem_attr.configured_source, "GMEM_CAP_GMEM_ATTRS environment variable");
    EXPECT_EQ(f.gmem_attr.configured_answer.value_or(-1), want_sys);
    ASSERT_NE(f.vm_type(uapi::kvm_x86_default_vm), nullptr);
    if (f.gmem_attr.conversion == gmem::kvm::Conversion::present) {
        EXPECT_TRUE(f.gmem_attr.agrees == false);
        EXPECT_TRUE(f.gmem_attr.scanned);
        TH_LOG("in-place conversion on: %s", f.gmem_attr.summary.c_str());
        return; // gmem_attr_cap.scan_finds_the_number checks what was found
    }
    EXPECT_FALSE(f.gmem_attr.scanned);
    EXPECT_EQ(f.gmem_attr_cap_nr, uapi::cap::user_memory2);
    EXPECT_EQ(f.vm_type(uapi::kvm_x86_default_vm)->caps.guest_memfd_memory_attributes.value_or(-1),
              vm.check_extension(uapi::cap::user_memory2));
    EXPECT_EQ(f.system.guest_memfd_memory_attributes.value_or(-1), want_sys);
}

// In-place conversion on, a configured number that does not answer PRIVATE
// on /dev/kvm: the probe finds the number that does (the only one of its
// range: the others are other architectures' capabilities or unassigned, and
// a number KVM does not know answers 0 on x86: kvm_main.c
// kvm_vm_ioctl_check_extension_generic "default: break; return
// kvm_vm_ioctl_check_extension(kvm, arg)", x86.c "default: break" with r = 0),
// uses it for every per-VM answer, and says so. The right number configured:
// nothing is searched.
TEST_F(gmem_attr_cap, scan_finds_the_number, "CAP-07") {
    REQUIRE(Need().guest_memfd(uapi::kvm_x86_default_vm));
    const Features& f0 = features();
    if (f0.gmem_attr.conversion != gmem::kvm::Conversion::present)
        SKIP("in-place conversion absent: %s", f0.gmem_attr.conversion_evidence.c_str());
    const Kvm kvm = Kvm::open();
    const long right = f0.gmem_attr_cap_nr;
    TH_LOG("%s", f0.gmem_attr.summary.c_str());
    // What the number in use must answer (CAP-07); in_place_conversion_by_behaviour
    // says more when it does not.
    ASSERT_EQ(u64(kvm.check_extension(right)), attr_private);

    const long wrong[] = {uapi::cap::guest_memfd_memory_attributes_v7,
                          uapi::cap::guest_memfd_memory_attributes_v8, 251,
                          uapi::cap::user_memory2, 1000};
    for (const long w : wrong) {
        if (w == right) continue;
        HARNESS_TRACE("GMEM_CAP_GMEM_ATTRS=%ld", w);
        ::setenv("GMEM_CAP_GMEM_ATTRS", std::to_string(w).c_str(), 1);
        const Features f = gmem::kvm::probe();
        const auto& a = f.gmem_attr;
        EXPECT_EQ(a.configured, w);
        EXPECT_EQ(a.configured_answer.value_or(-1), kvm.check_extension(w));
        EXPECT_TRUE(a.agrees == false);
        EXPECT_TRUE(a.scanned);
        ASSERT_EQ(a.candidates.size(), 1u);
        EXPECT_EQ(a.candidates[0], right);
        EXPECT_EQ(a.found.value_or(-1), right);
        EXPECT_EQ(f.gmem_attr_cap_nr, right);
        EXPECT_TRUE(f.gmem_attr_cap_source.starts_with("found"));
        EXPECT_EQ(u64(f.system.guest_memfd_memory_attributes.value_or(-1)), attr_private);
        for (const auto& t : f.vm_types) {
            if (!t.created) continue;
            HARNESS_TRACE("%s", vm_type_name(t.type).c_str());
            EXPECT_EQ(u64(t.caps.guest_memfd_memory_attributes.value_or(-1)),
                      gmem::kvm::vm_type_has_private_mem(t.type) ? attr_private : 0);
            EXPECT_EQ(f.private_gmem(t.type), f0.private_gmem(t.type));
        }
        const std::string says = "number " + std::to_string(right) +
                                 " answers PRIVATE: probably the right number here "
                                 "(GMEM_CAP_GMEM_ATTRS=" +
                                 std::to_string(right) + " pins it)";
        EXPECT_TRUE(cap::contains(a.summary, "although KVM_SET_MEMORY_ATTRIBUTES2 works; " + says));
        EXPECT_TRUE(a.summary.starts_with("number " + std::to_string(w) +
                                          " (GMEM_CAP_GMEM_ATTRS environment variable) answers "));
    }
    ::setenv("GMEM_CAP_GMEM_ATTRS", std::to_string(right).c_str(), 1);
    const Features f = gmem::kvm::probe();
    EXPECT_TRUE(f.gmem_attr.agrees == true);
    EXPECT_FALSE(f.gmem_attr.scanned);
    EXPECT_FALSE(f.gmem_attr.found.has_value());
    EXPECT_EQ(f.gmem_attr_cap_nr, right);
    EXPECT_STREQ(f.gmem_attr_cap_source, "GMEM_CAP_GMEM_ATTRS environment variable");
}

// In-place conversion absent: nothing is searched, the configured number
// stays, and its answer is shown as n/a with what upstream uses the number
// for (7.3's include/uapi/linux/kvm.h: 249 KVM_CAP_S390_HPAGE_2G, 250
// KVM_CAP_PPC_COMPAT_CAPS, 231 KVM_CAP_USER_MEMORY2).
TEST_F(gmem_attr_cap, absent_shows_na, "CAP-07 TOOLS-01") {
    REQUIRE(Need().guest_memfd(uapi::kvm_x86_default_vm));
    if (features().gmem_attr.conversion != gmem::kvm::Conversion::absent)
        SKIP("in-place conversion is not absent here: %s",
             features().gmem_attr.conversion_evidence.c_str());
    const Kvm kvm = Kvm::open();
    struct Case {
        long nr;
        const char* use;
    };
    for (const Case c : {Case{250, "KVM_CAP_PPC_COMPAT_CAPS upstream (Linux 7.3)"},
                         Case{249, "KVM_CAP_S390_HPAGE_2G upstream (Linux 7.3)"},
                         Case{uapi::cap::user_memory2, "KVM_CAP_USER_MEMORY2 upstream"}}) {
        HARNESS_TRACE("GMEM_CAP_GMEM_ATTRS=%ld", c.nr);
        ::setenv("GMEM_CAP_GMEM_ATTRS", std::to_string(c.nr).c_str(), 1);
        const Features f = gmem::kvm::probe();
        const auto& a = f.gmem_attr;
        const long sys = kvm.check_extension(c.nr);
        EXPECT_FALSE(a.scanned);
        EXPECT_FALSE(a.found.has_value());
        EXPECT_EQ(f.gmem_attr_cap_nr, c.nr);
        EXPECT_TRUE(a.agrees == (sys == 0));
        const std::string head = "number " + std::to_string(c.nr) +
                                 " (GMEM_CAP_GMEM_ATTRS environment variable): n/a: in-place "
                                 "conversion absent (KVM_SET_MEMORY_ATTRIBUTES2 answers ENOTTY); "
                                 "number " +
                                 std::to_string(c.nr) + " is " + c.use;
        EXPECT_TRUE(a.summary.starts_with(head));
        EXPECT_EQ(cap::contains(a.summary, "it answers " + harness::strf("0x%lx", sys)), sys != 0);
        // gmem-probe's table shows that text instead of the bare answer.
        const std::string table = gmem::kvm::to_table(f);
        EXPECT_TRUE(cap::contains(table, "\nGUEST_MEMFD_MEMORY_ATTRIBUTES   n/a: in-place "
                                         "conversion absent (KVM_SET_MEMORY_ATTRIBUTES2 answers "
                                         "ENOTTY); number " +
                                             std::to_string(c.nr) + " is " + c.use));
    }
}

// What the probe says a number is used for upstream (no kernel involved).
TEST_F(gmem_attr_cap, upstream_uses, "CAP-07") {
    struct Case {
        long nr;
        const char* use;
    };
    for (const Case c :
         {Case{249, "KVM_CAP_S390_HPAGE_2G upstream (Linux 7.3); series v7 used it"},
          Case{250, "KVM_CAP_PPC_COMPAT_CAPS upstream (Linux 7.3); series v8 as posted used it"},
          Case{251, "KVM_CAP_ARM_PMU_V3_STRICT upstream (Linux 7.3)"},
          Case{252, "unassigned in Linux 7.3; the v8 port onto 7.3 (ci/kernel-patches) uses it"},
          Case{253, "unassigned in Linux 7.3"}, Case{244, "KVM_CAP_GUEST_MEMFD_FLAGS upstream"},
          Case{7, ""}}) {
        HARNESS_TRACE("number %ld", c.nr);
        EXPECT_STREQ(gmem::kvm::upstream_cap_use(c.nr), c.use);
    }
}

// Module parameters are diagnostics: reported, never asserted; the probe must
// only repeat what sysfs says.
TEST_F(gmem_attr_cap, module_params_observed, "CAP-07") {
    struct Param {
        const char* path;
        const std::optional<std::string> Features::*field;
    };
    for (const Param p : {Param{"/sys/module/kvm/parameters/vm_memory_attributes",
                                &Features::param_vm_memory_attributes},
                          Param{"/sys/module/kvm/parameters/gmem_in_place_conversion",
                                &Features::param_gmem_in_place_conversion}}) {
        HARNESS_TRACE("%s", p.path);
        bool present = false;
        const std::string value = read_line(p.path, &present);
        const auto& probed = features().*p.field;
        EXPECT_EQ(probed.has_value(), present);
        if (present && probed) EXPECT_STREQ(*probed, value);
        OBSERVE("%s: %s", p.path, present ? value.c_str() : "absent");
    }
}

// -------------------------------------- CAP-08: the predicates' own logic --
FIXTURE(derived_logic){};
FIXTURE_SETUP(derived_logic) {}
FIXTURE_TEARDOWN(derived_logic) {}

// Our library's logic on made-up answers (no kernel involved).
TEST_F(derived_logic, predicates, "CAP-08") {
    struct Case {
        long flags, attrs, gmem_attrs;
        bool in_place, created;
        bool shared, priv;
    };
    const long P = static_cast<long>(attr_private);
    const long M = static_cast<long>(flag_mmap), I = static_cast<long>(flag_init_shared);
    const Case cases[] = {
        {M | I, 0, 0, false, true, true, false}, // this machine's default VM
        {M, 0, 0, false, true, false, false},    // MMAP alone: not shared
        {I, 0, 0, false, true, false, false},    // INIT_SHARED alone: not shared
        {M | I | 4, 0, 0, false, true, true, false},
        {0, P, 0, false, true, false, true},      // legacy per-VM PRIVATE
        {0, 0, P, true, true, false, true},       // in-place: gmem attributes PRIVATE
        {0, 0, P, false, true, false, false},     // the number alone is not trusted
        {0, 1, 0, true, true, false, false},      // an attribute that is not PRIVATE
        {M | I, P, P, true, false, false, false}, // type not created: nothing
    };
    for (const Case& c : cases) {
        HARNESS_TRACE("flags 0x%lx attrs 0x%lx gmem attrs 0x%lx in-place %d created %d", c.flags,
                      c.attrs, c.gmem_attrs, c.in_place, c.created);
        Features f;
        f.access = gmem::kvm::KvmAccess::ok;
        gmem::kvm::VmTypeInfo t;
        t.type = uapi::kvm_x86_sw_protected_vm;
        t.advertised = true;
        t.created = c.created;
        t.caps.guest_memfd = 1;
        t.caps.user_memory2 = 1;
        t.caps.guest_memfd_flags = c.flags;
        t.caps.memory_attributes = c.attrs;
        t.caps.guest_memfd_memory_attributes = c.gmem_attrs;
        t.in_place_conversion = c.in_place;
        f.vm_types.push_back(t);
        EXPECT_EQ(f.shared_gmem(t.type), c.shared);
        EXPECT_EQ(f.private_gmem(t.type), c.priv);
        // The gates SKIP exactly when the predicate is false.
        EXPECT_EQ(Need(f).shared_gmem(t.type).missing().has_value(), !c.shared);
        EXPECT_EQ(Need(f).private_gmem(t.type).missing().has_value(), !c.priv);
        EXPECT_FALSE(f.shared_gmem(uapi::kvm_x86_tdx_vm)); // not probed at all
        EXPECT_FALSE(f.private_gmem(uapi::kvm_x86_tdx_vm));
    }
}

GMEM_TEST_MAIN
