// gmem-probe: what the running kernel offers for guest_memfd, as a table or
// JSON, and a way for scripts to require features.
#include "gmem/kvm/features.hpp"
#include "gmem/kvm/gate.hpp"
#include "gmem/uapi/kvm.hpp"
#include "gmem/util/not_tested.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using gmem::kvm::Need;
namespace uapi = gmem::uapi;

struct FeatureName {
    const char* name;
    const char* help;
    void (*add)(Need&);
};

const FeatureName feature_names[] = {
    {"kvm", "/dev/kvm can be opened", [](Need& n) { n.kvm(); }},
    {"gmem", "guest_memfd on the default VM type", [](Need& n) { n.guest_memfd(0); }},
    {"gmem-mmap", "GUEST_MEMFD_FLAG_MMAP on the default VM type",
     [](Need& n) { n.gmem_flags(0, uapi::guest_memfd_flag_mmap); }},
    {"gmem-shared", "MMAP|INIT_SHARED on the default VM type",
     [](Need& n) {
         n.gmem_flags(0, uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared);
     }},
    {"sw-protected-vm", "KVM_X86_SW_PROTECTED_VM can be created",
     [](Need& n) { n.vm_type(uapi::kvm_x86_sw_protected_vm); }},
    {"in-place-conversion", "KVM_SET_MEMORY_ATTRIBUTES2 on KVM_X86_SW_PROTECTED_VM guest_memfd",
     [](Need& n) { n.in_place_conversion(uapi::kvm_x86_sw_protected_vm); }},
    {"thp", "transparent hugepages enabled", [](Need& n) { n.thp(); }},
    {"numa2", "two NUMA nodes", [](Need& n) { n.numa_nodes(2); }},
    {"gup-test", "debugfs gup_test", [](Need& n) { n.gup_test(); }},
    {"io-uring", "io_uring usable", [](Need& n) { n.io_uring(); }},
};

void usage(FILE* out, const char* prog) {
    std::fprintf(out,
                 "Usage: %s [--json] [--require FEATURE[,FEATURE...]]...\n"
                 "Prints what the running kernel offers for guest_memfd testing.\n\n"
                 "  --json              print JSON instead of a table\n"
                 "  --require LIST      print nothing unless missing; exit 0 if every listed\n"
                 "                      feature is present, 1 (naming what is missing) otherwise\n"
                 "  -h, --help          this text\n\nFeatures:\n",
                 prog);
    for (const auto& f : feature_names) std::fprintf(out, "  %-22s %s\n", f.name, f.help);
    std::fprintf(out,
                 "\nEvery row and key is there on any kernel; what the kernel could not answer\n"
                 "says why (\"n/a: no /dev/kvm\", \"n/a: no guest_memfd ...\"; null in JSON, with\n"
                 "the reason beside it).\n"
                 "\nJSON keys: kernel_release, kvm {path, usable, access, errno, reason,\n"
                 "api_version}, page_size, gmem_attributes_cap {number, source (the number\n"
                 "used), configured_number, configured_source, configured_answer (on\n"
                 "/dev/kvm), configured_upstream_use, conversion (by behaviour: present,\n"
                 "absent or unknown), conversion_evidence, agrees (null: unknown), scanned,\n"
                 "scan_range, candidates, found_number, summary}, system (the KVM_CAP_*\n"
                 "answers of /dev/kvm), vm_types (the six x86 types: type, name, advertised,\n"
                 "created, create_error, caps, conversion_probed, in_place_conversion,\n"
                 "conversion_evidence, shared_gmem, private_gmem, na), creatable_vm_types,\n"
                 "in_place_conversion_vm_types, kvm_module_params, thp {enabled, pmd_size},\n"
                 "numa_nodes, gup_test {available, detail}, io_uring {available,\n"
                 "disabled_sysctl, detail}.\n");
    std::fprintf(out,
                 "\nKVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES has no stable number: the configured\n"
                 "one (GMEM_CAP_GMEM_ATTRS=N, else the build's GMEM_CAP_GMEM_ATTRS_NR, else\n"
                 "250 of series v8) is asked; when KVM_SET_MEMORY_ATTRIBUTES2 works but that\n"
                 "number does not answer PRIVATE on /dev/kvm, the probe asks %ld..%ld for the\n"
                 "one that does and uses it.\n"
                 "\nExit: 0 printed, KVM usable; 4 printed, but KVM cannot be used (no /dev/kvm,\n"
                 "no permission, an error): stderr then says \"NOT TESTED: KVM cannot be used:\n"
                 "<why>\" and what to run instead, as ci/conformance does; 2 bad command line.\n"
                 "With --require: 0 all present, 1 something missing.\n",
                 gmem::kvm::GmemAttrCap::scan_first, gmem::kvm::GmemAttrCap::scan_last);
}

} // namespace

int main(int argc, char** argv) {
    bool json = false;
    std::vector<const FeatureName*> required;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout, argv[0]);
            return 0;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--require" || a.starts_with("--require=")) {
            std::string list;
            if (a == "--require") {
                if (i + 1 >= argc) {
                    std::fprintf(stderr, "%s: --require needs a feature list\n", argv[0]);
                    usage(stderr, argv[0]);
                    return 2;
                }
                list = argv[++i];
            } else {
                list = a.substr(std::strlen("--require="));
            }
            size_t start = 0;
            while (start <= list.size()) {
                const size_t comma = list.find(',', start);
                const std::string name = list.substr(start, comma - start);
                const FeatureName* found = nullptr;
                for (const auto& f : feature_names)
                    if (name == f.name) found = &f;
                if (!found) {
                    std::fprintf(stderr, "%s: unknown feature '%s'\n", argv[0], name.c_str());
                    usage(stderr, argv[0]);
                    return 2;
                }
                required.push_back(found);
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        } else {
            std::fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a.c_str());
            usage(stderr, argv[0]);
            return 2;
        }
    }

    const gmem::kvm::Features f = gmem::kvm::probe();
    if (!required.empty()) {
        int missing = 0;
        for (const FeatureName* r : required) {
            Need n(f);
            r->add(n);
            if (auto why = n.missing()) {
                std::printf("missing %s: %s\n", r->name, why->c_str());
                ++missing;
            }
        }
        return missing ? 1 : 0;
    }
    std::fputs(json ? gmem::kvm::to_json(f).c_str() : gmem::kvm::to_table(f).c_str(), stdout);
    // Every row was printed; without KVM none of them says what the kernel
    // offers, so the run is not a pass (TOOLS-06).
    if (const std::string line = f.not_tested_line(); !line.empty()) {
        std::fprintf(stderr, "%s\n%s\n", line.c_str(), gmem::util::not_tested_hint);
        return gmem::util::exit_not_tested;
    }
    return 0;
}
