#include "gmem/kvm/features.hpp"
#include "gmem/uapi/cap_uses.hpp"
#include "gmem/util/limits.hpp"
#include "gmem/util/not_tested.hpp"

#include "gmem/kvm/kvm.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <linux/io_uring.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace gmem::kvm {
namespace {

std::optional<std::string> read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

std::string cap_text(const std::optional<long>& v) {
    return v ? std::to_string(*v) : std::string("no answer");
}

template <class F> Caps ask_caps(F&& check, long gmem_attr_nr) {
    auto get = [&](long cap) -> std::optional<long> {
        auto r = check(cap);
        if (!r) return std::nullopt;
        return *r;
    };
    Caps c;
    c.user_memory2 = get(uapi::cap::user_memory2);
    c.memory_fault_info = get(uapi::cap::memory_fault_info);
    c.memory_attributes = get(uapi::cap::memory_attributes);
    c.guest_memfd = get(uapi::cap::guest_memfd);
    c.vm_types = get(uapi::cap::vm_types);
    c.pre_fault_memory = get(uapi::cap::pre_fault_memory);
    c.guest_memfd_flags = get(uapi::cap::guest_memfd_flags);
    c.guest_memfd_memory_attributes = get(gmem_attr_nr);
    return c;
}

void probe_conversion(const Vm& vm, VmTypeInfo& t, std::size_t page) {
    t.conversion_probed = true;
    auto g = vm.try_create_guest_memfd(page, 0);
    if (!g) {
        t.conversion_evidence =
            "could not create a guest_memfd to ask: " + g.error().describe();
        return;
    }
    t.conversion_asked = true;
    uapi::kvm_memory_attributes2 out{};
    auto r = g->try_set_attributes(0, page, 0, &out);
    if (!r && r.error().code == ENOTTY) {
        t.in_place_conversion = false;
        t.conversion_evidence = "KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd answers ENOTTY";
    } else {
        t.in_place_conversion = true;
        t.conversion_evidence = std::string("KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd answers ") +
                                (r ? "success" : r.error().describe());
    }
}

void probe_host(Features& f) {
    struct utsname u{};
    if (::uname(&u) == 0) f.kernel_release = u.release;
    f.param_vm_memory_attributes = read_first_line("/sys/module/kvm/parameters/vm_memory_attributes");
    f.param_gmem_in_place_conversion =
        read_first_line("/sys/module/kvm/parameters/gmem_in_place_conversion");

    if (auto thp = read_first_line("/sys/kernel/mm/transparent_hugepage/enabled")) {
        const auto open = thp->find('[');
        const auto close = thp->find(']');
        if (open != std::string::npos && close != std::string::npos && close > open)
            f.thp_enabled = thp->substr(open + 1, close - open - 1);
    }
    if (auto pmd = read_first_line("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"))
        f.thp_pmd_size = std::strtoull(pmd->c_str(), nullptr, 10);

    if (DIR* d = ::opendir("/sys/devices/system/node")) {
        while (const dirent* e = ::readdir(d)) {
            if (std::strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' &&
                e->d_name[4] <= '9')
                ++f.numa_nodes;
        }
        ::closedir(d);
    }
    if (f.numa_nodes == 0) f.numa_nodes = 1; // kernel without CONFIG_NUMA: one node

    const char* gup = "/sys/kernel/debug/gup_test";
    const int gfd = ::open(gup, O_RDWR | O_CLOEXEC);
    if (gfd >= 0) {
        f.gup_test = true;
        f.gup_test_detail = gup;
        ::close(gfd);
    } else {
        const Errno e = Errno::last();
        std::ifstream mounts("/proc/mounts");
        std::string line;
        bool debugfs = false;
        while (std::getline(mounts, line))
            if (line.find(" /sys/kernel/debug debugfs ") != std::string::npos) debugfs = true;
        f.gup_test_detail = debugfs ? std::string(gup) + ": " + e.describe() +
                                          " (kernel built without CONFIG_GUP_TEST?)"
                                    : "debugfs is not mounted at /sys/kernel/debug";
    }

    if (auto dis = read_first_line("/proc/sys/kernel/io_uring_disabled"))
        f.io_uring_disabled = std::atoi(dis->c_str());
    io_uring_params params{};
    const long ring = ::syscall(__NR_io_uring_setup, 1, &params);
    if (ring >= 0) {
        f.io_uring = true;
        f.io_uring_detail = "io_uring_setup works";
        ::close(static_cast<int>(ring));
    } else {
        const Errno e = Errno::last();
        f.io_uring_detail = "io_uring_setup: " + e.describe();
        if (f.io_uring_disabled > 0)
            f.io_uring_detail +=
                " (kernel.io_uring_disabled = " + std::to_string(f.io_uring_disabled) + ")";
        // Kernels before 5.12 charge the rings to RLIMIT_MEMLOCK: ENOMEM is
        // then usually that limit, not a lack of memory.
        if (e.code == ENOMEM)
            f.io_uring_detail +=
                " (" + util::memlock_limit_text() + "; raise it or run with CAP_IPC_LOCK)";
    }
}

} // namespace

long gmem_attr_cap_number(std::string* source, bool* chosen) {
    std::string ignored;
    if (chosen) *chosen = true;
    if (const char* env = std::getenv("GMEM_CAP_GMEM_ATTRS"); env && *env) {
        char* end = nullptr;
        errno = 0;
        const long v = std::strtol(env, &end, 0);
        if (errno == 0 && end != env && end && *end == '\0' && v > 0 && v <= INT_MAX) {
            if (source) *source = "GMEM_CAP_GMEM_ATTRS environment variable";
            return v;
        }
        std::string shown(env, ::strnlen(env, 40));
        for (char& c : shown) // shown in JSON and tables: printable ASCII only
            if (const auto u = static_cast<unsigned char>(c); u < 0x20 || u > 0x7e) c = '?';
        ignored = "; GMEM_CAP_GMEM_ATTRS='" + shown + "' ignored: not a positive integer";
    }
#ifdef GMEM_CAP_GMEM_ATTRS_NR
    if (source) *source = "configure-time GMEM_CAP_GMEM_ATTRS_NR" + ignored;
#else
    if (source) *source = "default (series v8)" + ignored;
    if (chosen) *chosen = false;
#endif
    return uapi::cap::guest_memfd_memory_attributes_default;
}

const VmTypeInfo* Features::vm_type(unsigned long type) const {
    for (const auto& t : vm_types)
        if (t.type == type) return &t;
    return nullptr;
}

std::string Features::kvm_unusable_reason() const {
    switch (access) {
    case KvmAccess::ok: return "";
    case KvmAccess::missing: return "no " + kvm_path + " (" + access_error.describe() + ")";
    case KvmAccess::permission:
        return kvm_path + ": permission denied for uid " + std::to_string(::getuid()) + " (" +
               access_error.describe() + "); run as root or give this user access";
    case KvmAccess::error: return "cannot open " + kvm_path + ": " + access_error.describe();
    }
    return "unknown";
}

std::string Features::not_tested_line() const {
    if (access == KvmAccess::ok) return "";
    return std::string(util::not_tested_prefix) + util::kvm_unusable_prefix + kvm_unusable_reason();
}

std::string Features::kvm_na() const {
    switch (access) {
    case KvmAccess::ok: return "";
    case KvmAccess::missing: return "n/a: no " + kvm_path;
    case KvmAccess::permission: return "n/a: " + kvm_path + ": permission denied";
    case KvmAccess::error: return "n/a: cannot open " + kvm_path;
    }
    return "n/a";
}

std::string Features::gmem_na(unsigned long type) const {
    if (access != KvmAccess::ok) return kvm_na();
    const VmTypeInfo* t = vm_type(type);
    if (!t) return "n/a: " + vm_type_name(type) + " not asked";
    if (!t->created)
        return "n/a: " + vm_type_name(type) + " not created (" +
               (t->advertised ? "advertised, " : "not advertised, ") + "KVM_CREATE_VM " +
               t->create_error.name() + ")";
    if (t->caps.guest_memfd.value_or(0) == 0)
        return "n/a: no guest_memfd (KVM_CAP_GUEST_MEMFD is " + cap_text(t->caps.guest_memfd) +
               " on " + vm_type_name(type) + ")";
    if (t->caps.user_memory2.value_or(0) == 0)
        return "n/a: no guest_memfd (KVM_CAP_USER_MEMORY2 is " + cap_text(t->caps.user_memory2) +
               " on " + vm_type_name(type) + ")";
    return "";
}

bool vm_type_has_private_mem(unsigned long type) {
    // arch/x86/kvm: has_private_mem is set for KVM_X86_SW_PROTECTED_VM
    // (x86.c kvm_arch_init_vm), KVM_X86_SNP_VM (svm/sev.c) and KVM_X86_TDX_VM
    // (vmx/tdx.c); never for DEFAULT, SEV or SEV_ES.
    return type == uapi::kvm_x86_sw_protected_vm || type == uapi::kvm_x86_snp_vm ||
           type == uapi::kvm_x86_tdx_vm;
}

std::string upstream_cap_use(long nr) {
    for (const auto& u : uapi::cap::uses_near_gmem_attrs)
        if (u.nr == nr) return u.text;
    if (nr > uapi::cap::uses_near_gmem_attrs_last) return "unassigned in Linux 7.3";
    return "";
}

bool Features::shared_gmem(unsigned long type) const {
    const VmTypeInfo* t = vm_type(type);
    if (!t || !t->created) return false;
    const std::uint64_t want = uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared;
    const auto flags = static_cast<std::uint64_t>(t->caps.guest_memfd_flags.value_or(0));
    return (flags & want) == want;
}

bool Features::private_gmem(unsigned long type) const {
    const VmTypeInfo* t = vm_type(type);
    if (!t || !t->created) return false;
    const std::uint64_t priv = uapi::kvm_memory_attribute_private;
    const auto vm_attrs = static_cast<std::uint64_t>(t->caps.memory_attributes.value_or(0));
    const auto gmem_attrs =
        static_cast<std::uint64_t>(t->caps.guest_memfd_memory_attributes.value_or(0));
    return (vm_attrs & priv) != 0 || (t->in_place_conversion && (gmem_attrs & priv) != 0);
}

std::string kvm_access_name(KvmAccess a) {
    switch (a) {
    case KvmAccess::ok: return "ok";
    case KvmAccess::missing: return "missing";
    case KvmAccess::permission: return "permission";
    case KvmAccess::error: return "error";
    }
    return "unknown";
}

namespace {

std::string hex_str(long v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}

// " (number N is <upstream use>)" or "".
std::string number_use(long nr) {
    const std::string use = upstream_cap_use(nr);
    return use.empty() ? "" : "; number " + std::to_string(nr) + " is " + use;
}

// In-place conversion as a whole (see Conversion), and the evidence.
void conversion_state(Features& f) {
    GmemAttrCap& a = f.gmem_attr;
    if (f.access != KvmAccess::ok) {
        a.conversion = Conversion::unknown;
        a.conversion_evidence = f.kvm_na();
        return;
    }
    bool enotty = false;
    std::string not_asked; // why, from the first VM type probed without an answer
    // The evidence of a type where the ioctl worked is the clearest: prefer it
    // to an EINVAL of a type without private memory.
    for (const auto& t : f.vm_types)
        if (t.in_place_conversion && t.conversion_evidence.ends_with("success")) {
            a.conversion = Conversion::present;
            a.conversion_evidence = vm_type_name(t.type) + ": " + t.conversion_evidence;
            return;
        }
    for (const auto& t : f.vm_types) {
        if (!t.conversion_probed) continue;
        if (t.in_place_conversion) {
            a.conversion = Conversion::present;
            a.conversion_evidence = vm_type_name(t.type) + ": " + t.conversion_evidence;
            return;
        }
        if (t.conversion_asked)
            enotty = true;
        else if (not_asked.empty())
            not_asked = "n/a: " + vm_type_name(t.type) + ": " + t.conversion_evidence;
    }
    a.conversion = enotty ? Conversion::absent : Conversion::unknown;
    if (enotty)
        a.conversion_evidence = "KVM_SET_MEMORY_ATTRIBUTES2 answers ENOTTY";
    else if (!not_asked.empty())
        a.conversion_evidence = not_asked;
    else
        a.conversion_evidence = f.gmem_na(uapi::kvm_x86_default_vm);
    if (a.conversion_evidence.empty()) a.conversion_evidence = "n/a: not asked";
}

// The answer the capability gives with the feature on, on a VM of `type`
// (CAP-07): PRIVATE where the type has private memory, else 0.
long expected_on_vm(unsigned long type) {
    return vm_type_has_private_mem(type) ? static_cast<long>(uapi::kvm_memory_attribute_private)
                                         : 0;
}

void summarise(Features& f) {
    GmemAttrCap& a = f.gmem_attr;
    const std::string cfg =
        "number " + std::to_string(a.configured) + " (" + a.configured_source + ")";
    const std::string answer =
        a.configured_answer ? hex_str(*a.configured_answer) : std::string("no answer");
    switch (a.conversion) {
    case Conversion::unknown:
        a.summary = cfg + ": " + a.conversion_evidence + number_use(a.configured);
        return;
    case Conversion::absent:
        a.summary = cfg + ": n/a: in-place conversion absent (" + a.conversion_evidence + ")" +
                    number_use(a.configured);
        if (a.configured_answer.value_or(0) != 0)
            a.summary += "; it answers " + answer + " on /dev/kvm here";
        return;
    case Conversion::present: break;
    }
    if (a.agrees.value_or(false)) {
        a.summary = cfg + " answers PRIVATE (" + answer + ") on /dev/kvm, as " +
                    "KVM_SET_MEMORY_ATTRIBUTES2 works";
        return;
    }
    a.summary = cfg + " answers " + answer + " although KVM_SET_MEMORY_ATTRIBUTES2 works";
    const std::string range =
        std::to_string(GmemAttrCap::scan_first) + ".." + std::to_string(GmemAttrCap::scan_last);
    if (!a.found) {
        a.summary += "; no number of " + range +
                     " answers as the capability does (PRIVATE on /dev/kvm): the number is "
                     "unknown here, the behaviour decides";
        return;
    }
    const std::string pin = "GMEM_CAP_GMEM_ATTRS=" + std::to_string(*a.found) + " pins it";
    if (a.candidates.size() == 1) {
        a.summary += "; number " + std::to_string(*a.found) +
                     " answers PRIVATE: probably the right number here (" + pin + ")";
        return;
    }
    std::string list;
    for (const long c : a.candidates)
        list += (list.empty() ? "" : ", ") + std::to_string(c);
    a.summary += "; numbers " + list + " all answer PRIVATE: ambiguous, using " +
                 std::to_string(*a.found) + " (" + pin + ")";
}

} // namespace

Features probe(const char* kvm_path) {
    Features f;
    f.kvm_path = kvm_path;
    f.page_size = page_size();
    GmemAttrCap& a = f.gmem_attr;
    a.configured = gmem_attr_cap_number(&a.configured_source, &a.configured_chosen);
    f.gmem_attr_cap_nr = a.configured;
    f.gmem_attr_cap_source = a.configured_source;
    probe_host(f);

    auto kvm = Kvm::try_open(kvm_path);
    if (!kvm) {
        f.access_error = kvm.error();
        const int e = kvm.error().code;
        f.access = e == ENOENT || e == ENODEV || e == ENXIO ? KvmAccess::missing
                   : e == EACCES || e == EPERM             ? KvmAccess::permission
                                                           : KvmAccess::error;
        for (unsigned long type = 0; type <= uapi::kvm_x86_tdx_vm; ++type) {
            VmTypeInfo t;
            t.type = type;
            f.vm_types.push_back(std::move(t));
        }
        conversion_state(f);
        summarise(f);
        return f;
    }
    f.access = KvmAccess::ok;
    f.api_version = kvm->try_api_version().value_or(-1);
    f.system = ask_caps([&](long c) { return kvm->try_check_extension(c); }, a.configured);
    a.configured_answer = f.system.guest_memfd_memory_attributes;

    // The VMs stay open until the capability's number is settled: their
    // answers at that number are asked last.
    std::vector<std::optional<Vm>> vms;
    const long types_mask = f.system.vm_types.value_or(0);
    for (unsigned long type = 0; type <= uapi::kvm_x86_tdx_vm; ++type) {
        VmTypeInfo t;
        t.type = type;
        t.advertised = type == uapi::kvm_x86_default_vm || (types_mask & (1L << type));
        auto vm = kvm->try_create_vm(type);
        if (vm) {
            t.created = true;
            t.caps = ask_caps([&](long c) { return vm->try_check_extension(c); }, a.configured);
            if (t.caps.guest_memfd.value_or(0) > 0) probe_conversion(*vm, t, f.page_size);
            vms.emplace_back(std::move(*vm));
        } else {
            t.create_error = vm.error();
            vms.emplace_back(std::nullopt);
        }
        f.vm_types.push_back(std::move(t));
    }
    conversion_state(f);

    const long priv = static_cast<long>(uapi::kvm_memory_attribute_private);
    if (a.conversion == Conversion::absent) a.agrees = a.configured_answer.value_or(-1) == 0;
    if (a.conversion == Conversion::present) a.agrees = a.configured_answer.value_or(-1) == priv;
    if (a.conversion == Conversion::present && !*a.agrees) {
        // KVM_CHECK_EXTENSION of a number the kernel does not know answers 0
        // (virt/kvm/kvm_main.c kvm_vm_ioctl_check_extension_generic: default ->
        // kvm_vm_ioctl_check_extension; arch/x86/kvm/x86.c: default: r = 0), so
        // asking a range is harmless. A candidate answers as the capability
        // does with the feature on (CAP-07): PRIVATE on /dev/kvm, and on every
        // VM type created PRIVATE iff the type has private memory.
        a.scanned = true;
        for (long nr = GmemAttrCap::scan_first; nr <= GmemAttrCap::scan_last; ++nr) {
            if (kvm->try_check_extension(nr).value_or(-1) != priv) continue;
            bool fits = true;
            for (std::size_t i = 0; i < vms.size() && fits; ++i)
                if (vms[i])
                    fits = vms[i]->try_check_extension(nr).value_or(-1) ==
                           expected_on_vm(f.vm_types[i].type);
            if (fits) a.candidates.push_back(nr);
        }
        if (!a.candidates.empty()) {
            a.found = a.candidates.front();
            f.gmem_attr_cap_nr = *a.found;
            f.gmem_attr_cap_source =
                "found: answers PRIVATE on /dev/kvm (asked " + std::to_string(GmemAttrCap::scan_first) +
                ".." + std::to_string(GmemAttrCap::scan_last) + "; configured " +
                std::to_string(a.configured) + ", " + a.configured_source + ", does not)";
            auto r = kvm->try_check_extension(*a.found);
            f.system.guest_memfd_memory_attributes = r ? std::optional<long>(*r) : std::nullopt;
        }
    }
    for (std::size_t i = 0; i < vms.size(); ++i)
        if (vms[i] && f.gmem_attr_cap_nr != a.configured) {
            auto r = vms[i]->try_check_extension(f.gmem_attr_cap_nr);
            f.vm_types[i].caps.guest_memfd_memory_attributes =
                r ? std::optional<long>(*r) : std::nullopt;
        }
    summarise(f);
    return f;
}

const Features& features() {
    static const Features f = probe();
    return f;
}

// ---------------------------------------------------------------- output --
namespace {

std::string cap_str(const std::optional<long>& v, bool hex = false) {
    if (!v) return "error";
    if (!hex) return std::to_string(*v);
    return hex_str(*v);
}

nlohmann::json opt_json(const std::optional<long>& v) {
    if (!v) return nullptr;
    return *v;
}

// Every key is there whatever the kernel: null where it was not asked.
nlohmann::json caps_json(const Caps& c) {
    return {{"KVM_CAP_USER_MEMORY2", opt_json(c.user_memory2)},
            {"KVM_CAP_MEMORY_FAULT_INFO", opt_json(c.memory_fault_info)},
            {"KVM_CAP_MEMORY_ATTRIBUTES", opt_json(c.memory_attributes)},
            {"KVM_CAP_GUEST_MEMFD", opt_json(c.guest_memfd)},
            {"KVM_CAP_VM_TYPES", opt_json(c.vm_types)},
            {"KVM_CAP_PRE_FAULT_MEMORY", opt_json(c.pre_fault_memory)},
            {"KVM_CAP_GUEST_MEMFD_FLAGS", opt_json(c.guest_memfd_flags)},
            {"KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", opt_json(c.guest_memfd_memory_attributes)}};
}

// Why the guest_memfd attributes row has no meaningful answer ("" when it
// has one): the conversion state decides, not the number (CAP-07).
std::string gmem_attr_na(const Features& f) {
    const GmemAttrCap& a = f.gmem_attr;
    switch (a.conversion) {
    case Conversion::present: return "";
    case Conversion::absent:
    case Conversion::unknown: {
        std::string why = a.conversion == Conversion::absent
                              ? "n/a: in-place conversion absent (" + a.conversion_evidence + ")"
                              : a.conversion_evidence;
        return why + number_use(a.configured);
    }
    }
    return "n/a";
}

// The per-VM-type lines of the table: what the type is, its derived
// predicates, in-place conversion; each says why when it is n/a.
void type_lines(std::ostringstream& os, const Features& f, const VmTypeInfo& t) {
    os << "  " << vm_type_name(t.type) << ": ";
    if (f.access != KvmAccess::ok) {
        os << f.kvm_na() << "\n";
        return;
    }
    os << (t.advertised ? "advertised" : "not advertised") << ", "
       << (t.created ? "created" : "KVM_CREATE_VM " + t.create_error.name()) << "\n";
    if (!t.created) {
        os << "      shared and private guest_memfd, in-place conversion " << f.gmem_na(t.type)
           << "\n";
        return;
    }
    os << "      shared guest_memfd " << (f.shared_gmem(t.type) ? "yes" : "no")
       << ", private guest_memfd " << (f.private_gmem(t.type) ? "yes" : "no") << "\n";
    os << "      in-place conversion ";
    if (!t.conversion_probed)
        os << f.gmem_na(t.type);
    else if (!t.conversion_asked)
        os << "n/a: " << t.conversion_evidence;
    else
        os << (t.in_place_conversion ? "yes" : "no") << " (" << t.conversion_evidence << ")";
    os << "\n";
}

} // namespace

std::string to_json(const Features& f) {
    nlohmann::json j;
    j["kernel_release"] = f.kernel_release;
    const bool usable = f.access == KvmAccess::ok;
    j["kvm"] = {{"path", f.kvm_path},
                {"usable", usable},
                {"access", kvm_access_name(f.access)},
                {"errno", usable ? nlohmann::json(nullptr) : nlohmann::json(f.access_error.name())},
                {"reason", f.kvm_unusable_reason()},
                {"api_version", usable ? nlohmann::json(f.api_version) : nlohmann::json(nullptr)}};
    j["page_size"] = f.page_size;
    const GmemAttrCap& a = f.gmem_attr;
    const std::string use = upstream_cap_use(a.configured);
    nlohmann::json candidates = nlohmann::json::array();
    for (const long c : a.candidates) candidates.push_back(c);
    j["gmem_attributes_cap"] = {
        {"number", f.gmem_attr_cap_nr},
        {"source", f.gmem_attr_cap_source},
        {"configured_number", a.configured},
        {"configured_source", a.configured_source},
        {"configured_answer", opt_json(a.configured_answer)},
        {"configured_upstream_use", use.empty() ? nlohmann::json(nullptr) : nlohmann::json(use)},
        {"conversion", a.conversion == Conversion::present  ? "present"
                       : a.conversion == Conversion::absent ? "absent"
                                                            : "unknown"},
        {"conversion_evidence", a.conversion_evidence},
        {"agrees", a.agrees ? nlohmann::json(*a.agrees) : nlohmann::json(nullptr)},
        {"scanned", a.scanned},
        {"scan_range", {GmemAttrCap::scan_first, GmemAttrCap::scan_last}},
        {"candidates", candidates},
        {"found_number", opt_json(a.found)},
        {"summary", a.summary}};
    // Every key, on every kernel. A capability the kernel could not be asked
    // is null, with the reason beside it ("na" of a VM type, kvm.reason); the
    // booleans stay booleans (false when not asked: readers use
    // json::value(key, false), which throws on null), "na" says why.
    j["system"] = caps_json(f.system);
    j["vm_types"] = nlohmann::json::array();
    j["creatable_vm_types"] = nlohmann::json::array();
    j["in_place_conversion_vm_types"] = nlohmann::json::array();
    for (const auto& t : f.vm_types) {
        const std::string na = f.gmem_na(t.type);
        nlohmann::json tj = {
            {"type", t.type},
            {"name", vm_type_name(t.type)},
            {"advertised", t.advertised},
            {"created", t.created},
            {"create_error", usable && !t.created ? nlohmann::json(t.create_error.name())
                                                  : nlohmann::json(nullptr)},
            {"caps", caps_json(t.caps)},
            {"conversion_probed", t.conversion_probed},
            {"in_place_conversion", t.in_place_conversion},
            {"conversion_evidence", t.conversion_probed ? t.conversion_evidence : na},
            {"shared_gmem", f.shared_gmem(t.type)},
            {"private_gmem", f.private_gmem(t.type)},
            {"na", na.empty() ? nlohmann::json(nullptr) : nlohmann::json(na)}};
        if (t.created) j["creatable_vm_types"].push_back(t.type);
        if (t.in_place_conversion) j["in_place_conversion_vm_types"].push_back(t.type);
        j["vm_types"].push_back(tj);
    }
    auto opt = [](const std::optional<std::string>& s) -> nlohmann::json {
        if (!s) return nullptr;
        return *s;
    };
    j["kvm_module_params"] = {{"vm_memory_attributes", opt(f.param_vm_memory_attributes)},
                              {"gmem_in_place_conversion", opt(f.param_gmem_in_place_conversion)}};
    j["thp"] = {{"enabled", f.thp_enabled}, {"pmd_size", f.thp_pmd_size}};
    j["numa_nodes"] = f.numa_nodes;
    j["gup_test"] = {{"available", f.gup_test}, {"detail", f.gup_test_detail}};
    j["io_uring"] = {{"available", f.io_uring},
                     {"disabled_sysctl", f.io_uring_disabled},
                     {"detail", f.io_uring_detail}};
    // Strings from the environment or sysfs need not be UTF-8: replace, never throw.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string to_table(const Features& f) {
    std::ostringstream os;
    const bool usable = f.access == KvmAccess::ok;
    os << "kernel              " << f.kernel_release << "\n";
    os << "page size           " << f.page_size << "\n";
    if (!usable)
        os << "KVM                 unusable: " << f.kvm_unusable_reason() << "\n";
    else
        os << "KVM                 " << f.kvm_path << ", API version " << f.api_version << "\n";
    os << "gmem attributes cap number " << f.gmem_attr_cap_nr << " (" << f.gmem_attr_cap_source
       << ")\n";
    os << "                    " << f.gmem_attr.summary << "\n\n";

    const char* rows[] = {"USER_MEMORY2",      "MEMORY_FAULT_INFO", "MEMORY_ATTRIBUTES",
                          "GUEST_MEMFD",       "VM_TYPES",          "PRE_FAULT_MEMORY",
                          "GUEST_MEMFD_FLAGS", "GUEST_MEMFD_MEMORY_ATTRIBUTES"};
    auto col = [](const Caps& c, int i) {
        switch (i) {
        case 0: return cap_str(c.user_memory2);
        case 1: return cap_str(c.memory_fault_info);
        case 2: return cap_str(c.memory_attributes, true);
        case 3: return cap_str(c.guest_memfd);
        case 4: return cap_str(c.vm_types, true);
        case 5: return cap_str(c.pre_fault_memory);
        case 6: return cap_str(c.guest_memfd_flags, true);
        default: return cap_str(c.guest_memfd_memory_attributes, true);
        }
    };
    os << "KVM_CAP_...                     /dev/kvm";
    for (const auto& t : f.vm_types)
        if (t.created) os << "  type " << t.type;
    os << "\n";
    const std::string attr_na = gmem_attr_na(f);
    for (int i = 0; i < 8; ++i) {
        std::string name = rows[i];
        name.resize(32, ' ');
        os << name;
        // A row the kernel cannot answer says why, once for the whole row.
        if (!usable || (i == 7 && !attr_na.empty())) {
            os << (usable ? attr_na : f.kvm_na()) << "\n";
            continue;
        }
        std::string sys = col(f.system, i);
        sys.resize(8, ' ');
        os << sys;
        for (const auto& t : f.vm_types) {
            if (!t.created) continue;
            std::string v = col(t.caps, i);
            v.resize(8, ' ');
            os << "  " << v;
        }
        if (i == 7) os << "  (number " << f.gmem_attr_cap_nr << ")";
        os << "\n";
    }
    os << "\nVM types\n";
    for (const auto& t : f.vm_types) type_lines(os, f, t);
    os << "  creatable VM types:";
    if (!usable) {
        os << " " << f.kvm_na() << "\n";
    } else {
        bool any = false;
        for (const auto& t : f.vm_types)
            if (t.created) {
                os << " " << t.type;
                any = true;
            }
        os << (any ? "\n" : " none\n");
    }
    os << "\nkvm.vm_memory_attributes       "
       << f.param_vm_memory_attributes.value_or("(no such parameter)") << "\n";
    os << "kvm.gmem_in_place_conversion   "
       << f.param_gmem_in_place_conversion.value_or("(no such parameter)") << "\n";
    os << "THP                            "
       << (f.thp_enabled.empty() ? "absent" : f.thp_enabled + ", PMD size " +
                                                  std::to_string(f.thp_pmd_size))
       << "\n";
    os << "NUMA nodes                     " << f.numa_nodes << "\n";
    os << "gup_test                       " << (f.gup_test ? "yes: " : "no: ") << f.gup_test_detail
       << "\n";
    os << "io_uring                       " << (f.io_uring ? "yes: " : "no: ") << f.io_uring_detail
       << "\n";
    return os.str();
}

} // namespace gmem::kvm
