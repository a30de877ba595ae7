// gmem-probe, the command-line face of the probe: exit codes and messages on
// bad input, the JSON it documents in --help, the table, and --require
// answering as the gates do. Runs with or without /dev/kvm: the expectations
// come from this process's own probe of the same machine.
#include "cap_support.hpp"
#include "gmem/test.hpp"
#include "gmem/util/locate.hpp"
#include "gmem/util/process.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#ifndef GMEM_PROBE
#error "GMEM_PROBE (path of gmem-probe) must be defined by the build"
#endif

namespace {

using gmem::kvm::Features;
using gmem::kvm::KvmAccess;
using gmem::kvm::Need;
using gmem::util::ProcessResult;
namespace uapi = gmem::uapi;

// gmem-probe: in the installed tree's bin/ (gmem/util/locate.hpp), else the
// build tree's.
const std::string gmem_probe = gmem::util::helper_path("../bin/gmem-probe", GMEM_PROBE);

// The tool sees no override unless a test sets one, and writes no KTAP.
ProcessResult probe_cli(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), gmem_probe);
    bool has_override = false;
    for (const auto& e : env)
        has_override |= e.starts_with("GMEM_CAP_GMEM_ATTRS=");
    if (!has_override) env.push_back("GMEM_CAP_GMEM_ATTRS=");
    return gmem::util::run_capture(args, env);
}

nlohmann::json parse_json(const ProcessResult& r, bool* ok) {
    auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    *ok = !j.is_discarded();
    return j;
}

const char* const cap_keys[] = {
    "KVM_CAP_USER_MEMORY2",      "KVM_CAP_MEMORY_FAULT_INFO",
    "KVM_CAP_MEMORY_ATTRIBUTES", "KVM_CAP_GUEST_MEMFD",
    "KVM_CAP_VM_TYPES",          "KVM_CAP_PRE_FAULT_MEMORY",
    "KVM_CAP_GUEST_MEMFD_FLAGS", "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES"};

void expect_caps(const nlohmann::json& j, const gmem::kvm::Caps& c) {
    ASSERT_TRUE(j.is_object());
    for (const char* k : cap_keys) {
        HARNESS_TRACE("key %s", k);
        EXPECT_TRUE(j.contains(k));
    }
    auto same = [&](const char* k, const std::optional<long>& v) {
        HARNESS_TRACE("key %s", k);
        if (!j.contains(k)) return;
        if (v)
            EXPECT_EQ(j.at(k).get<long>(), *v);
        else
            EXPECT_TRUE(j.at(k).is_null());
    };
    same("KVM_CAP_GUEST_MEMFD", c.guest_memfd);
    same("KVM_CAP_USER_MEMORY2", c.user_memory2);
    same("KVM_CAP_GUEST_MEMFD_FLAGS", c.guest_memfd_flags);
    same("KVM_CAP_VM_TYPES", c.vm_types);
    same("KVM_CAP_MEMORY_ATTRIBUTES", c.memory_attributes);
}

bool has(const std::string& text, const std::string& needle) {
    return cap::contains(text, needle);
}

} // namespace

TEST(help_exits_zero, "") {
    for (const char* opt : {"--help", "-h"}) {
        HARNESS_TRACE("gmem-probe %s", opt);
        const auto r = probe_cli({opt});
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_TRUE(r.out.starts_with("Usage: "));
        EXPECT_TRUE(has(r.out, "--require"));
        EXPECT_TRUE(has(r.out, "JSON keys:"));
        EXPECT_STREQ(r.err, "");
    }
}

TEST(bad_command_line_exits_two, "") {
    struct Case {
        std::vector<std::string> args;
        const char* message;
    };
    const Case cases[] = {
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"-x"}, "unknown option '-x'"},
        {{"stray"}, "unknown option 'stray'"},
        {{"--require", "kvm,nosuch"}, "unknown feature 'nosuch'"},
        {{"--require=nosuch"}, "unknown feature 'nosuch'"},
        {{"--require="}, "unknown feature ''"},
        {{"--require", "kvm,"}, "unknown feature ''"},
        {{"--require"}, "--require needs a feature list"},
    };
    for (const Case& c : cases) {
        std::string shown;
        for (const auto& a : c.args)
            shown += " " + a;
        HARNESS_TRACE("gmem-probe%s", shown.c_str());
        const auto r = probe_cli(c.args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.term_signal, 0);
        EXPECT_STREQ(r.out, "");
        EXPECT_TRUE(has(r.err, c.message));
        EXPECT_TRUE(has(r.err, "Usage: "));
    }
}

TEST(json_has_the_documented_keys, "") {
    const Features f = gmem::kvm::probe();
    const auto r = probe_cli({"--json"});
    ASSERT_EQ(r.exit_code, 0);
    bool ok = false;
    const auto j = parse_json(r, &ok);
    ASSERT_TRUE(ok);
    for (const char* k : {"kernel_release", "kvm", "page_size", "gmem_attributes_cap", "system",
                          "vm_types", "creatable_vm_types", "in_place_conversion_vm_types",
                          "kvm_module_params", "thp", "numa_nodes", "gup_test", "io_uring"}) {
        HARNESS_TRACE("key %s", k);
        ASSERT_TRUE(j.contains(k));
    }
    const bool usable = f.access == KvmAccess::ok;
    const auto& kvm = j.at("kvm");
    EXPECT_EQ(kvm.at("usable").get<bool>(), usable);
    EXPECT_STREQ(kvm.at("access").get<std::string>(), gmem::kvm::kvm_access_name(f.access));
    EXPECT_STREQ(kvm.at("reason").get<std::string>(), f.kvm_unusable_reason());
    EXPECT_STREQ(kvm.at("path").get<std::string>(), "/dev/kvm");
    EXPECT_EQ(j.at("page_size").get<std::size_t>(), gmem::page_size());
    EXPECT_EQ(j.at("numa_nodes").get<int>(), f.numa_nodes);
    EXPECT_STREQ(j.at("thp").at("enabled").get<std::string>(), f.thp_enabled);
    EXPECT_EQ(j.at("thp").at("pmd_size").get<std::uint64_t>(), f.thp_pmd_size);
    EXPECT_EQ(j.at("gup_test").at("available").get<bool>(), f.gup_test);
    EXPECT_TRUE(j.at("gup_test").at("detail").is_string());
    EXPECT_EQ(j.at("io_uring").at("available").get<bool>(), f.io_uring);
    EXPECT_TRUE(j.at("kvm_module_params").contains("vm_memory_attributes"));
    EXPECT_TRUE(j.at("kvm_module_params").contains("gmem_in_place_conversion"));
    EXPECT_EQ(j.at("gmem_attributes_cap").at("number").get<long>(), f.gmem_attr_cap_nr);

    if (!usable) {
        EXPECT_TRUE(kvm.at("api_version").is_null());
        EXPECT_TRUE(j.at("system").is_null());
        EXPECT_EQ(j.at("vm_types").size(), 0u);
        EXPECT_EQ(j.at("creatable_vm_types").size(), 0u);
        return;
    }
    EXPECT_EQ(kvm.at("api_version").get<long>(), 12); // api.rst
    expect_caps(j.at("system"), f.system);
    ASSERT_EQ(j.at("vm_types").size(), f.vm_types.size());
    std::vector<unsigned long> creatable;
    for (const auto& t : f.vm_types) {
        HARNESS_TRACE("%s", gmem::kvm::vm_type_name(t.type).c_str());
        const nlohmann::json* found = nullptr;
        for (const auto& e : j.at("vm_types"))
            if (e.at("type").get<unsigned long>() == t.type) found = &e;
        ASSERT_NE(found, nullptr);
        EXPECT_EQ((*found).at("advertised").get<bool>(), t.advertised);
        EXPECT_EQ((*found).at("created").get<bool>(), t.created);
        if (!t.created) {
            EXPECT_STREQ((*found).at("create_error").get<std::string>(), t.create_error.name());
            continue;
        }
        creatable.push_back(t.type);
        expect_caps((*found).at("caps"), t.caps);
        EXPECT_EQ((*found).at("shared_gmem").get<bool>(), f.shared_gmem(t.type));
        EXPECT_EQ((*found).at("private_gmem").get<bool>(), f.private_gmem(t.type));
        EXPECT_EQ((*found).at("in_place_conversion").get<bool>(), t.in_place_conversion);
    }
    EXPECT_EQ(j.at("creatable_vm_types").get<std::vector<unsigned long>>(), creatable);
}

TEST(json_honours_the_cap_number_override, "CAP-07") {
    std::string default_source;
    ::unsetenv("GMEM_CAP_GMEM_ATTRS");
    const long def = gmem::kvm::gmem_attr_cap_number(&default_source);
    struct Case {
        const char* value;
        long want;
        bool honoured;
    };
    for (const Case c : {Case{"249", 249, true}, Case{"junk", def, false},
                         Case{"\xff\xfe", def, false}, Case{"-1", def, false}}) {
        HARNESS_TRACE("GMEM_CAP_GMEM_ATTRS='%s'", c.value);
        const auto r = probe_cli({"--json"}, {std::string("GMEM_CAP_GMEM_ATTRS=") + c.value});
        EXPECT_EQ(r.term_signal, 0);
        ASSERT_EQ(r.exit_code, 0);
        bool ok = false;
        const auto j = parse_json(r, &ok);
        ASSERT_TRUE(ok);
        EXPECT_EQ(j.at("gmem_attributes_cap").at("number").get<long>(), c.want);
        const std::string source = j.at("gmem_attributes_cap").at("source").get<std::string>();
        if (c.honoured) {
            EXPECT_STREQ(source, "GMEM_CAP_GMEM_ATTRS environment variable");
        } else {
            EXPECT_TRUE(source.starts_with(default_source));
            EXPECT_TRUE(has(source, "ignored"));
        }
    }
}

TEST(table_has_every_row, "") {
    const Features f = gmem::kvm::probe();
    const auto r = probe_cli({});
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_STREQ(r.err, "");
    for (const char* row :
         {"kernel ", "page size ", "kvm.vm_memory_attributes ", "kvm.gmem_in_place_conversion ",
          "THP ", "NUMA nodes ", "gup_test ", "io_uring "}) {
        HARNESS_TRACE("row '%s'", row);
        EXPECT_TRUE(has(r.out, std::string("\n") + row) || r.out.starts_with(row));
    }
    if (f.access != KvmAccess::ok) {
        EXPECT_TRUE(has(r.out, "unusable: " + f.kvm_unusable_reason()));
        return;
    }
    EXPECT_TRUE(has(r.out, "/dev/kvm, API version 12\n"));
    for (const char* row :
         {"USER_MEMORY2 ", "MEMORY_FAULT_INFO ", "MEMORY_ATTRIBUTES ", "GUEST_MEMFD ", "VM_TYPES ",
          "PRE_FAULT_MEMORY ", "GUEST_MEMFD_FLAGS ", "GUEST_MEMFD_MEMORY_ATTRIBUTES ",
          "creatable VM types:", "shared guest_memfd ", "in-place conversion "}) {
        HARNESS_TRACE("row '%s'", row);
        EXPECT_TRUE(has(r.out, row));
    }
    for (const auto& t : f.vm_types) {
        HARNESS_TRACE("%s", gmem::kvm::vm_type_name(t.type).c_str());
        EXPECT_TRUE(has(r.out, "  " + gmem::kvm::vm_type_name(t.type) + ": "));
    }
}

// --require answers what the gates answer, naming what is missing.
TEST(require_answers_as_the_gates, "") {
    const Features f = gmem::kvm::probe();
    struct Case {
        const char* name;
        Need need;
    };
    const Case cases[] = {
        {"kvm", Need(f).kvm()},
        {"gmem", Need(f).guest_memfd(uapi::kvm_x86_default_vm)},
        {"gmem-shared",
         Need(f).gmem_flags(uapi::kvm_x86_default_vm,
                            uapi::guest_memfd_flag_mmap | uapi::guest_memfd_flag_init_shared)},
        {"sw-protected-vm", Need(f).vm_type(uapi::kvm_x86_sw_protected_vm)},
        {"thp", Need(f).thp()},
        {"numa2", Need(f).numa_nodes(2)},
        {"gup-test", Need(f).gup_test()},
        {"io-uring", Need(f).io_uring()},
    };
    std::string all_names, all_missing;
    for (const Case& c : cases) {
        HARNESS_TRACE("gmem-probe --require %s", c.name);
        const auto r = probe_cli({"--require", c.name});
        const auto why = c.need.missing();
        EXPECT_EQ(r.exit_code, why ? 1 : 0);
        EXPECT_STREQ(r.out, why ? std::string("missing ") + c.name + ": " + *why + "\n" : "");
        all_names += std::string(all_names.empty() ? "" : ",") + c.name;
        if (why) all_missing += std::string("missing ") + c.name + ": " + *why + "\n";
    }
    HARNESS_TRACE("gmem-probe --require=%s", all_names.c_str());
    const auto r = probe_cli({"--require=" + all_names});
    EXPECT_EQ(r.exit_code, all_missing.empty() ? 0 : 1);
    EXPECT_STREQ(r.out, all_missing);
}

// Where /dev/kvm is root-only, an unprivileged --require kvm exits 1 naming
// the permission problem (CAP-01's reason).
TEST(require_kvm_unprivileged_names_eacces, "CAP-01") {
    REQUIRE(Need().root().kvm());
    cap::SharedNote skip;
    ASSERT_TRUE(skip.usable());
    const bool clean = harness::run_in_child([&] {
        if (auto d = cap::drop_to_nobody(); !d) {
            skip.set("cannot switch to uid 65534: " + d.error().describe());
            return;
        }
        if (::access("/dev/kvm", R_OK | W_OK) == 0) {
            skip.set("uid 65534 may open /dev/kvm on this machine: no EACCES to observe");
            return;
        }
        if (::access(gmem_probe.c_str(), X_OK) != 0) {
            skip.set(gmem_probe +
                     " cannot be run by uid 65534: " + gmem::Errno::last().describe());
            return;
        }
        const auto r = probe_cli({"--require", "kvm"});
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_TRUE(r.out.starts_with("missing kvm: /dev/kvm: permission denied"));
        EXPECT_TRUE(has(r.out, "EACCES"));
    });
    if (const std::string why = skip.get(); !why.empty()) SKIP("%s", why.c_str());
    EXPECT_TRUE(clean);
}

TEST_HARNESS_MAIN
