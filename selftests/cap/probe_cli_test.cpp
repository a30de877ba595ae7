// gmem-probe, the command-line face of the probe (TOOLS-01): exit codes and
// messages on bad input, the JSON it documents in --help, the table, and
// --require answering as the gates do. Every row is there on any kernel, a
// row the kernel cannot answer saying why ("n/a: ..."): checked here as this
// machine is, without /dev/kvm (a mount namespace hiding it) and as uid
// 65534. Runs with or without /dev/kvm: the expectations come from this
// process's own probe of the same machine, in the same world.
#include "cap_support.hpp"
#include "gmem/test.hpp"
#include "gmem/util/locate.hpp"
#include "gmem/util/not_tested.hpp"
#include "gmem/util/process.hpp"

#include <cstring>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
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

// TOOLS-06: the table and the JSON are printed whole on any machine; where KVM
// cannot be used the probe then says NOT TESTED with the reason and what to
// run instead on stderr, and exits 4 (gmem/util/not_tested.hpp), so that no
// script takes a probe of nothing for a pass.
int want_exit(const Features& f) {
    return f.access == KvmAccess::ok ? 0 : gmem::util::exit_not_tested;
}
std::string want_err(const Features& f) {
    if (f.access == KvmAccess::ok) return "";
    return "NOT TESTED: KVM cannot be used: " + f.kvm_unusable_reason() + "\n" +
           gmem::util::not_tested_hint + "\n";
}

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

bool has(const std::string& text, const std::string& needle) {
    return cap::contains(text, needle);
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t nl = text.find('\n', start);
        out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    return out;
}

// The one line that starts with `prefix` (fails unless there is exactly one);
// what follows the prefix, "" when absent.
std::string row(const std::vector<std::string>& lines, const std::string& prefix,
                bool has_value = true) {
    HARNESS_TRACE("row '%s'", prefix.c_str());
    std::string found;
    unsigned n = 0;
    for (const auto& l : lines)
        if (l.starts_with(prefix)) {
            found = l.substr(prefix.size());
            ++n;
        }
    EXPECT_EQ(n, 1u);
    if (has_value) EXPECT_NE(found, "");
    return found;
}

const char* const table_cap_rows[] = {
    "USER_MEMORY2",      "MEMORY_FAULT_INFO", "MEMORY_ATTRIBUTES", "GUEST_MEMFD", "VM_TYPES",
    "PRE_FAULT_MEMORY", "GUEST_MEMFD_FLAGS", "GUEST_MEMFD_MEMORY_ATTRIBUTES"};

// TOOLS-01, the table: every row on any kernel, with a value; a row the
// kernel could not answer says why. `f` is the probe of the world the tool ran in.
void expect_complete_table(const std::string& out, const Features& f) {
    const auto lines = split_lines(out);
    const bool usable = f.access == KvmAccess::ok;
    EXPECT_STREQ(row(lines, "kernel              "), f.kernel_release);
    EXPECT_STREQ(row(lines, "page size           "), std::to_string(f.page_size));
    EXPECT_STREQ(row(lines, "KVM                 "),
                 usable ? f.kvm_path + ", API version " + std::to_string(f.api_version)
                        : "unusable: " + f.kvm_unusable_reason());
    EXPECT_STREQ(row(lines, "gmem attributes cap number "),
                 std::to_string(f.gmem_attr_cap_nr) + " (" + f.gmem_attr_cap_source + ")");
    EXPECT_STREQ(row(lines, "                    number "),
                 f.gmem_attr.summary.substr(std::strlen("number ")));
    row(lines, "KVM_CAP_...                     /dev/kvm", false);
    unsigned created = 0;
    for (const auto& t : f.vm_types)
        created += t.created;
    for (const char* r : table_cap_rows) {
        std::string name = r;
        name.resize(32, ' ');
        const std::string v = row(lines, name);
        if (!usable) {
            EXPECT_STREQ(v, f.kvm_na());
        } else if (name.starts_with("GUEST_MEMFD_MEMORY_ATTRIBUTES") &&
                   f.gmem_attr.conversion != gmem::kvm::Conversion::present) {
            // Not a bare number: the conversion state decides (CAP-07).
            EXPECT_TRUE(v.starts_with("n/a: "));
            EXPECT_TRUE(has(v, "number " + std::to_string(f.gmem_attr.configured)));
        } else {
            // One value for /dev/kvm and one per VM type created.
            std::istringstream in(v);
            std::string word;
            unsigned values = 0;
            while (in >> word)
                values += !word.starts_with("(") && !word.ends_with(")");
            EXPECT_EQ(values, 1 + created);
            EXPECT_FALSE(has(v, "n/a"));
        }
    }
    row(lines, "VM types", false);
    EXPECT_EQ(f.vm_types.size(), 6u); // the known x86 types 0..5, on any kernel
    for (const auto& t : f.vm_types) {
        const std::string name = gmem::kvm::vm_type_name(t.type);
        HARNESS_TRACE("%s", name.c_str());
        const std::string head = row(lines, "  " + name + ": ");
        if (!usable) {
            EXPECT_STREQ(head, f.kvm_na());
            continue;
        }
        EXPECT_TRUE(head.starts_with(t.advertised ? "advertised, " : "not advertised, "));
        if (!t.created) {
            EXPECT_TRUE(head.ends_with("KVM_CREATE_VM " + t.create_error.name()));
            continue;
        }
        // The two lines after the head: predicates, then in-place conversion.
        std::size_t i = 0;
        while (i < lines.size() && lines[i] != "  " + name + ": " + head) ++i;
        ASSERT_LT(i + 2, lines.size());
        EXPECT_STREQ(lines[i + 1], std::string("      shared guest_memfd ") +
                                       (f.shared_gmem(t.type) ? "yes" : "no") +
                                       ", private guest_memfd " +
                                       (f.private_gmem(t.type) ? "yes" : "no"));
        const std::string conv = lines[i + 2];
        EXPECT_TRUE(conv.starts_with("      in-place conversion "));
        if (t.conversion_asked)
            EXPECT_TRUE(has(conv, std::string(t.in_place_conversion ? "yes (" : "no (") +
                                      t.conversion_evidence + ")"));
        else
            EXPECT_TRUE(has(conv, " n/a: "));
    }
    for (const auto& l : lines)
        if (l.starts_with("      shared and private guest_memfd, in-place conversion "))
            EXPECT_TRUE(has(l, "conversion n/a: ") && has(l, " not created ("));
    const std::string creatable = row(lines, "  creatable VM types: ");
    if (!usable) EXPECT_STREQ(creatable, f.kvm_na());
    for (const char* r : {"kvm.vm_memory_attributes       ", "kvm.gmem_in_place_conversion   ",
                          "THP                            ", "NUMA nodes                     ",
                          "gup_test                       ", "io_uring                       "})
        row(lines, r);
}

void expect_caps_keys(const nlohmann::json& j, const gmem::kvm::Caps& c) {
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), std::size(cap_keys));
    for (const char* k : cap_keys) {
        HARNESS_TRACE("key %s", k);
        ASSERT_TRUE(j.contains(k));
    }
    auto same = [&](const char* k, const std::optional<long>& v) {
        HARNESS_TRACE("key %s", k);
        if (v)
            EXPECT_EQ(j.at(k).get<long>(), *v);
        else
            EXPECT_TRUE(j.at(k).is_null());
    };
    same("KVM_CAP_USER_MEMORY2", c.user_memory2);
    same("KVM_CAP_MEMORY_FAULT_INFO", c.memory_fault_info);
    same("KVM_CAP_MEMORY_ATTRIBUTES", c.memory_attributes);
    same("KVM_CAP_GUEST_MEMFD", c.guest_memfd);
    same("KVM_CAP_VM_TYPES", c.vm_types);
    same("KVM_CAP_PRE_FAULT_MEMORY", c.pre_fault_memory);
    same("KVM_CAP_GUEST_MEMFD_FLAGS", c.guest_memfd_flags);
    same("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", c.guest_memfd_memory_attributes);
}

// TOOLS-01, the JSON: every key on any kernel (null where the kernel could not
// be asked, with the reason beside it), equal to this process's probe.
void expect_complete_json(const ProcessResult& r, const Features& f) {
    ASSERT_EQ(r.exit_code, want_exit(f));
    EXPECT_STREQ(r.err, want_err(f));
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
    if (usable) {
        EXPECT_EQ(kvm.at("api_version").get<long>(), 12); // api.rst
        EXPECT_TRUE(kvm.at("errno").is_null());
    } else {
        EXPECT_TRUE(kvm.at("api_version").is_null());
        EXPECT_STREQ(kvm.at("errno").get<std::string>(), f.access_error.name());
    }
    EXPECT_EQ(j.at("page_size").get<std::size_t>(), gmem::page_size());
    EXPECT_STREQ(j.at("kernel_release").get<std::string>(), f.kernel_release);
    EXPECT_EQ(j.at("numa_nodes").get<int>(), f.numa_nodes);
    EXPECT_STREQ(j.at("thp").at("enabled").get<std::string>(), f.thp_enabled);
    EXPECT_EQ(j.at("thp").at("pmd_size").get<std::uint64_t>(), f.thp_pmd_size);
    EXPECT_EQ(j.at("gup_test").at("available").get<bool>(), f.gup_test);
    EXPECT_STREQ(j.at("gup_test").at("detail").get<std::string>(), f.gup_test_detail);
    EXPECT_EQ(j.at("io_uring").at("available").get<bool>(), f.io_uring);
    EXPECT_STREQ(j.at("io_uring").at("detail").get<std::string>(), f.io_uring_detail);
    EXPECT_EQ(j.at("io_uring").at("disabled_sysctl").get<int>(), f.io_uring_disabled);
    EXPECT_TRUE(j.at("kvm_module_params").contains("vm_memory_attributes"));
    EXPECT_TRUE(j.at("kvm_module_params").contains("gmem_in_place_conversion"));

    const auto& a = j.at("gmem_attributes_cap");
    const auto& g = f.gmem_attr;
    EXPECT_EQ(a.size(), 14u);
    EXPECT_EQ(a.at("number").get<long>(), f.gmem_attr_cap_nr);
    EXPECT_STREQ(a.at("source").get<std::string>(), f.gmem_attr_cap_source);
    EXPECT_EQ(a.at("configured_number").get<long>(), g.configured);
    EXPECT_STREQ(a.at("configured_source").get<std::string>(), g.configured_source);
    if (g.configured_answer)
        EXPECT_EQ(a.at("configured_answer").get<long>(), *g.configured_answer);
    else
        EXPECT_TRUE(a.at("configured_answer").is_null());
    const std::string use = gmem::kvm::upstream_cap_use(g.configured);
    if (use.empty())
        EXPECT_TRUE(a.at("configured_upstream_use").is_null());
    else
        EXPECT_STREQ(a.at("configured_upstream_use").get<std::string>(), use);
    EXPECT_STREQ(a.at("conversion").get<std::string>(),
                 g.conversion == gmem::kvm::Conversion::present  ? "present"
                 : g.conversion == gmem::kvm::Conversion::absent ? "absent"
                                                                 : "unknown");
    EXPECT_STREQ(a.at("conversion_evidence").get<std::string>(), g.conversion_evidence);
    if (g.agrees)
        EXPECT_EQ(a.at("agrees").get<bool>(), *g.agrees);
    else
        EXPECT_TRUE(a.at("agrees").is_null());
    EXPECT_EQ(a.at("scanned").get<bool>(), g.scanned);
    EXPECT_EQ(a.at("scan_range").get<std::vector<long>>(),
              (std::vector<long>{gmem::kvm::GmemAttrCap::scan_first,
                                 gmem::kvm::GmemAttrCap::scan_last}));
    EXPECT_EQ(a.at("candidates").get<std::vector<long>>(), g.candidates);
    if (g.found)
        EXPECT_EQ(a.at("found_number").get<long>(), *g.found);
    else
        EXPECT_TRUE(a.at("found_number").is_null());
    EXPECT_STREQ(a.at("summary").get<std::string>(), g.summary);
    if (!usable || g.conversion != gmem::kvm::Conversion::present)
        EXPECT_TRUE(has(g.summary, "n/a: "));

    expect_caps_keys(j.at("system"), f.system);
    ASSERT_EQ(j.at("vm_types").size(), 6u);
    ASSERT_EQ(f.vm_types.size(), 6u);
    std::vector<unsigned long> creatable, in_place;
    for (std::size_t i = 0; i < f.vm_types.size(); ++i) {
        const auto& t = f.vm_types[i];
        const auto& e = j.at("vm_types")[i];
        HARNESS_TRACE("%s", gmem::kvm::vm_type_name(t.type).c_str());
        EXPECT_EQ(e.size(), 12u);
        EXPECT_EQ(e.at("type").get<unsigned long>(), t.type);
        EXPECT_STREQ(e.at("name").get<std::string>(), gmem::kvm::vm_type_name(t.type));
        EXPECT_EQ(e.at("created").get<bool>(), t.created);
        expect_caps_keys(e.at("caps"), t.caps);
        EXPECT_EQ(e.at("conversion_probed").get<bool>(), t.conversion_probed);
        const std::string na = f.gmem_na(t.type);
        if (na.empty())
            EXPECT_TRUE(e.at("na").is_null());
        else
            EXPECT_STREQ(e.at("na").get<std::string>(), na);
        // Booleans stay booleans (readers use json::value(key, false)); "na" says why.
        EXPECT_EQ(e.at("advertised").get<bool>(), t.advertised);
        EXPECT_EQ(e.at("shared_gmem").get<bool>(), f.shared_gmem(t.type));
        EXPECT_EQ(e.at("private_gmem").get<bool>(), f.private_gmem(t.type));
        EXPECT_EQ(e.at("in_place_conversion").get<bool>(), t.in_place_conversion);
        if (!usable) {
            EXPECT_STREQ(na, f.kvm_na());
            EXPECT_FALSE(t.advertised);
        }
        if (!t.created) {
            EXPECT_TRUE(na.starts_with("n/a: "));
            if (usable)
                EXPECT_STREQ(e.at("create_error").get<std::string>(), t.create_error.name());
            else
                EXPECT_TRUE(e.at("create_error").is_null());
        } else {
            creatable.push_back(t.type);
            EXPECT_TRUE(e.at("create_error").is_null());
        }
        if (t.conversion_asked) {
            EXPECT_STREQ(e.at("conversion_evidence").get<std::string>(), t.conversion_evidence);
        } else {
            EXPECT_FALSE(t.in_place_conversion);
            EXPECT_TRUE(e.at("conversion_evidence").get<std::string>().starts_with("n/a: ") ||
                        has(e.at("conversion_evidence").get<std::string>(), "could not create"));
        }
        if (t.in_place_conversion) in_place.push_back(t.type);
    }
    EXPECT_EQ(j.at("creatable_vm_types").get<std::vector<unsigned long>>(), creatable);
    EXPECT_EQ(j.at("in_place_conversion_vm_types").get<std::vector<unsigned long>>(), in_place);
}

// Runs `check` in a forked child after `change` (which returns why it could
// not change the world: the test then SKIPs with that reason).
void in_changed_world(const std::function<std::string()>& change,
                      const std::function<void()>& check) {
    cap::SharedNote skip;
    ASSERT_TRUE(skip.usable());
    const bool clean = harness::run_in_child([&] {
        if (const std::string why = change(); !why.empty()) {
            skip.set(why);
            return;
        }
        check();
    });
    if (const std::string why = skip.get(); !why.empty()) SKIP("%s", why.c_str());
    EXPECT_TRUE(clean);
}

// The table and the JSON of this world, complete, and equal to this process's probe.
void expect_complete_output() {
    const Features f = gmem::kvm::probe();
    const auto table = probe_cli({});
    EXPECT_EQ(table.exit_code, want_exit(f));
    EXPECT_STREQ(table.err, want_err(f));
    expect_complete_table(table.out, f);
    expect_complete_json(probe_cli({"--json"}), f);
}

} // namespace

TEST(help_exits_zero, "TOOLS-01") {
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

TEST(bad_command_line_exits_two, "TOOLS-01") {
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

TEST(json_has_the_documented_keys, "TOOLS-01") {
    expect_complete_json(probe_cli({"--json"}), gmem::kvm::probe());
}

TEST(json_honours_the_cap_number_override, "CAP-07 TOOLS-01") {
    std::string default_source;
    ::unsetenv("GMEM_CAP_GMEM_ATTRS");
    const Features here = gmem::kvm::probe();
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
        ASSERT_EQ(r.exit_code, want_exit(here));
        bool ok = false;
        const auto j = parse_json(r, &ok);
        ASSERT_TRUE(ok);
        const auto& a = j.at("gmem_attributes_cap");
        EXPECT_EQ(a.at("configured_number").get<long>(), c.want);
        // The number used is the configured one unless the probe found
        // another (in-place conversion on, the configured one not PRIVATE).
        if (a.at("found_number").is_null())
            EXPECT_EQ(a.at("number").get<long>(), c.want);
        else
            EXPECT_EQ(a.at("number").get<long>(), a.at("found_number").get<long>());
        const std::string source = a.at("configured_source").get<std::string>();
        if (c.honoured) {
            EXPECT_STREQ(source, "GMEM_CAP_GMEM_ATTRS environment variable");
        } else {
            EXPECT_TRUE(source.starts_with(default_source));
            EXPECT_TRUE(has(source, "ignored"));
        }
    }
}

TEST(table_has_every_row, "TOOLS-01 TOOLS-06") {
    const Features f = gmem::kvm::probe();
    const auto r = probe_cli({});
    ASSERT_EQ(r.exit_code, want_exit(f));
    EXPECT_STREQ(r.err, want_err(f));
    expect_complete_table(r.out, f);
}

// No /dev/kvm (a mount namespace with an empty /dev): every row is still
// there, each KVM row saying "n/a: no /dev/kvm".
TEST(every_row_without_dev_kvm, "TOOLS-01 TOOLS-06 CAP-01") {
    REQUIRE(Need().root());
    in_changed_world(
        [] {
            const std::string err = cap::hide_dev();
            return err.empty() ? "" : "cannot hide /dev/kvm: " + err;
        },
        [] {
            ASSERT_ERRNO(::access("/dev/kvm", F_OK), ENOENT);
            const Features f = gmem::kvm::probe();
            EXPECT_STREQ(f.kvm_na(), "n/a: no /dev/kvm");
            expect_complete_output();
        });
}

// As uid 65534 where /dev/kvm is root-only: every row says
// "n/a: /dev/kvm: permission denied".
TEST(every_row_unprivileged, "TOOLS-01 TOOLS-06 CAP-01") {
    REQUIRE(Need().root().kvm());
    in_changed_world(
        []() -> std::string {
            if (auto d = cap::drop_to_nobody(); !d)
                return "cannot switch to uid 65534: " + d.error().describe();
            if (::access("/dev/kvm", R_OK | W_OK) == 0)
                return "uid 65534 may open /dev/kvm on this machine: no EACCES to observe";
            if (::access(gmem_probe.c_str(), X_OK) != 0)
                return gmem_probe + " cannot be run by uid 65534: " + gmem::Errno::last().describe();
            return "";
        },
        [] {
            const Features f = gmem::kvm::probe();
            EXPECT_STREQ(f.kvm_na(), "n/a: /dev/kvm: permission denied");
            expect_complete_output();
        });
}

// --require answers what the gates answer, naming what is missing.
TEST(require_answers_as_the_gates, "TOOLS-01") {
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
TEST(require_kvm_unprivileged_names_eacces, "CAP-01 TOOLS-01") {
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
