#include "gmem/kvm/features.hpp"
#include "gmem/util/limits.hpp"

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

long gmem_attr_cap_number(std::string* source) {
    std::string ignored;
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

Features probe(const char* kvm_path) {
    Features f;
    f.kvm_path = kvm_path;
    f.page_size = page_size();
    f.gmem_attr_cap_nr = gmem_attr_cap_number(&f.gmem_attr_cap_source);
    probe_host(f);

    auto kvm = Kvm::try_open(kvm_path);
    if (!kvm) {
        f.access_error = kvm.error();
        const int e = kvm.error().code;
        f.access = e == ENOENT || e == ENODEV || e == ENXIO ? KvmAccess::missing
                   : e == EACCES || e == EPERM             ? KvmAccess::permission
                                                           : KvmAccess::error;
        return f;
    }
    f.access = KvmAccess::ok;
    f.api_version = kvm->try_api_version().value_or(-1);
    f.system = ask_caps([&](long c) { return kvm->try_check_extension(c); }, f.gmem_attr_cap_nr);

    const long types_mask = f.system.vm_types.value_or(0);
    for (unsigned long type = 0; type <= uapi::kvm_x86_tdx_vm; ++type) {
        VmTypeInfo t;
        t.type = type;
        t.advertised = type == uapi::kvm_x86_default_vm || (types_mask & (1L << type));
        auto vm = kvm->try_create_vm(type);
        if (vm) {
            t.created = true;
            t.caps = ask_caps([&](long c) { return vm->try_check_extension(c); },
                              f.gmem_attr_cap_nr);
            if (t.caps.guest_memfd.value_or(0) > 0) probe_conversion(*vm, t, f.page_size);
        } else {
            t.create_error = vm.error();
        }
        f.vm_types.push_back(std::move(t));
    }
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
    std::ostringstream os;
    os << "0x" << std::hex << *v;
    return os.str();
}

nlohmann::json caps_json(const Caps& c) {
    auto j = [](const std::optional<long>& v) -> nlohmann::json {
        if (!v) return nullptr;
        return *v;
    };
    return {{"KVM_CAP_USER_MEMORY2", j(c.user_memory2)},
            {"KVM_CAP_MEMORY_FAULT_INFO", j(c.memory_fault_info)},
            {"KVM_CAP_MEMORY_ATTRIBUTES", j(c.memory_attributes)},
            {"KVM_CAP_GUEST_MEMFD", j(c.guest_memfd)},
            {"KVM_CAP_VM_TYPES", j(c.vm_types)},
            {"KVM_CAP_PRE_FAULT_MEMORY", j(c.pre_fault_memory)},
            {"KVM_CAP_GUEST_MEMFD_FLAGS", j(c.guest_memfd_flags)},
            {"KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", j(c.guest_memfd_memory_attributes)}};
}

} // namespace

std::string to_json(const Features& f) {
    nlohmann::json j;
    j["kernel_release"] = f.kernel_release;
    j["kvm"] = {{"path", f.kvm_path},
                {"usable", f.access == KvmAccess::ok},
                {"access", kvm_access_name(f.access)},
                {"errno", f.access == KvmAccess::ok ? nlohmann::json(nullptr)
                                                    : nlohmann::json(f.access_error.name())},
                {"reason", f.kvm_unusable_reason()},
                {"api_version", f.access == KvmAccess::ok ? nlohmann::json(f.api_version)
                                                          : nlohmann::json(nullptr)}};
    j["page_size"] = f.page_size;
    j["gmem_attributes_cap"] = {{"number", f.gmem_attr_cap_nr}, {"source", f.gmem_attr_cap_source}};
    // The keys are there whether or not /dev/kvm could be used, so that
    // scripts need not test for them: null / empty when it could not.
    j["system"] = nullptr;
    j["vm_types"] = nlohmann::json::array();
    j["creatable_vm_types"] = nlohmann::json::array();
    j["in_place_conversion_vm_types"] = nlohmann::json::array();
    if (f.access == KvmAccess::ok) {
        j["system"] = caps_json(f.system);
        nlohmann::json types = nlohmann::json::array();
        for (const auto& t : f.vm_types) {
            nlohmann::json tj = {{"type", t.type},
                                 {"name", vm_type_name(t.type)},
                                 {"advertised", t.advertised},
                                 {"created", t.created}};
            if (t.created) {
                tj["caps"] = caps_json(t.caps);
                tj["conversion_probed"] = t.conversion_probed;
                tj["in_place_conversion"] = t.in_place_conversion;
                tj["conversion_evidence"] = t.conversion_evidence;
                tj["shared_gmem"] = f.shared_gmem(t.type);
                tj["private_gmem"] = f.private_gmem(t.type);
                j["creatable_vm_types"].push_back(t.type);
                if (t.in_place_conversion) j["in_place_conversion_vm_types"].push_back(t.type);
            } else {
                tj["create_error"] = t.create_error.name();
            }
            types.push_back(tj);
        }
        j["vm_types"] = types;
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
    os << "kernel              " << f.kernel_release << "\n";
    os << "page size           " << f.page_size << "\n";
    if (f.access != KvmAccess::ok) {
        os << "KVM                 unusable: " << f.kvm_unusable_reason() << "\n";
    } else {
        os << "KVM                 " << f.kvm_path << ", API version " << f.api_version << "\n";
        os << "gmem attributes cap " << f.gmem_attr_cap_nr << " (" << f.gmem_attr_cap_source
           << ")\n\n";
        const char* rows[] = {"USER_MEMORY2",   "MEMORY_FAULT_INFO",  "MEMORY_ATTRIBUTES",
                              "GUEST_MEMFD",    "VM_TYPES",           "PRE_FAULT_MEMORY",
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
        for (int i = 0; i < 8; ++i) {
            std::string name = rows[i];
            name.resize(32, ' ');
            std::string sys = col(f.system, i);
            sys.resize(8, ' ');
            os << name << sys;
            for (const auto& t : f.vm_types) {
                if (!t.created) continue;
                std::string v = col(t.caps, i);
                v.resize(8, ' ');
                os << "  " << v;
            }
            os << "\n";
        }
        os << "\nVM types\n";
        for (const auto& t : f.vm_types) {
            os << "  " << vm_type_name(t.type) << ": "
               << (t.advertised ? "advertised" : "not advertised") << ", "
               << (t.created ? "created" : "KVM_CREATE_VM " + t.create_error.name());
            if (t.created)
                os << "\n      shared guest_memfd " << (f.shared_gmem(t.type) ? "yes" : "no")
                   << ", private guest_memfd " << (f.private_gmem(t.type) ? "yes" : "no");
            if (t.conversion_probed)
                os << "\n      in-place conversion " << (t.in_place_conversion ? "yes" : "no")
                   << " (" << t.conversion_evidence << ")";
            os << "\n";
        }
        os << "  creatable VM types:";
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
