// What the backend tests look at from the outside: the process's open fds,
// page residency (mincore), and the kernel's view of a mapping
// (/proc/self/maps, smaps VmFlags). Plus EXPECT_NOTHING_CREATED, the check every
// rejection makes: no fd opened, the CPR store unchanged, no guest_memfd made.
// And the BACKEND-07 refusals both backend programs check with their own
// accelerator (expect_inplace_refuses_*).
#pragma once

#include "gmem/backend/backend.hpp"
#include "harness/harness.hpp"

#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace backend_checks {

// What each open fd points at ("/dev/kvm", "anon_inode:kvm-vm", ...).
inline std::vector<std::string> fd_targets() {
    std::vector<std::string> out;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return out;
    const int self = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        if (std::atoi(e->d_name) == self) continue;
        char target[512] = {};
        const std::string link = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
        out.emplace_back(n > 0 ? std::string(target, static_cast<size_t>(n)) : "?");
    }
    ::closedir(d);
    return out;
}
inline std::size_t open_fds() { return fd_targets().size(); }
inline std::size_t kvm_fds() {
    std::size_t n = 0;
    for (const auto& t : fd_targets())
        if (t == "/dev/kvm" || t.find("kvm") != std::string::npos) ++n;
    return n;
}
inline bool fd_is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }

// Pages of [p, p+len) that mincore() reports resident; -1 when mincore fails.
inline long resident_pages(const void* p, std::size_t len) {
    const std::size_t ps = gmem::page_size();
    std::vector<unsigned char> vec((len + ps - 1) / ps);
    if (::mincore(const_cast<void*>(p), len, vec.data()) != 0) return -1;
    long n = 0;
    for (unsigned char v : vec) n += v & 1;
    return n;
}

// The /proc/self/maps line of the mapping that starts at addr.
struct MapsEntry {
    std::string perms; // "rw-s"
    unsigned long long offset = 0;
    unsigned long long inode = 0;
    std::string path;
};
inline std::optional<MapsEntry> maps_entry(const void* addr) {
    std::ifstream in("/proc/self/maps");
    std::string line;
    const auto want = reinterpret_cast<unsigned long long>(addr);
    while (std::getline(in, line)) {
        unsigned long long lo = 0, hi = 0;
        char perms[8] = {}, dev[16] = {};
        MapsEntry e;
        int path_at = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %15s %llu %n", &lo, &hi, perms, &e.offset,
                        dev, &e.inode, &path_at) < 6)
            continue;
        if (lo != want) continue;
        e.perms = perms;
        e.path = line.substr(static_cast<std::size_t>(path_at));
        return e;
    }
    return std::nullopt;
}

// The VmFlags line of smaps for the mapping that starts at addr ("rd wr sh mr ...").
inline std::string smaps_vmflags(const void* addr) {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    char head[32];
    std::snprintf(head, sizeof head, "%llx-", reinterpret_cast<unsigned long long>(addr));
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind(head, 0) == 0) inside = true;
        else if (inside && line.rfind("VmFlags:", 0) == 0) return line.substr(8);
    }
    return "";
}
inline bool has_vmflag(const std::string& flags, const char* f) {
    std::istringstream is(flags);
    std::string w;
    while (is >> w)
        if (w == f) return true;
    return false;
}

struct Snapshot {
    std::size_t fds;
    std::vector<gmem::backend::SimpleCprStore::Entry> store;
    gmem::backend::AccelCounters counters;
};
inline Snapshot snapshot(const gmem::backend::SimpleCprStore& s, const gmem::backend::Accelerator& a) {
    return {open_fds(), s.entries(), a.counters()};
}

} // namespace backend_checks

// A rejection created nothing: no fd left open, the store unchanged, and the
// accelerator issued no successful KVM_CREATE_GUEST_MEMFD.
#define EXPECT_NOTHING_CREATED(before_, store_, accel_)                                               \
    do {                                                                                           \
        EXPECT_EQ(::backend_checks::open_fds(), (before_).fds);                                     \
        EXPECT_TRUE((store_).entries() == (before_).store);                                          \
        EXPECT_EQ((accel_).counters().created, (before_).counters.created);                          \
    } while (0)

// The outcome is an error with exactly this text.
#define EXPECT_BACKEND_ERROR(outcome, text)                                                        \
    do {                                                                                           \
        const auto& be_r_ = (outcome);                                                             \
        if (be_r_.has_value()) {                                                                   \
            ::harness::fail_here(__FILE__, __LINE__,                                               \
                                 std::string("Expected error \"") + (text) +                       \
                                     "\" but allocation succeeded",                                \
                                 false);                                                           \
        } else {                                                                                   \
            EXPECT_STREQ(be_r_.error().message, (text));                                           \
            TH_LOG("error: \"%s\" (result %d)", be_r_.error().message.c_str(),                     \
                   be_r_.error().result);                                                          \
        }                                                                                          \
    } while (0)

namespace backend_checks {

// BACKEND-07, the same checks for every accelerator (backend_nokvm_test asks
// a non-KVM one, backend_test the KVM one): memory-backend-memfd,guest-memfd=on
// refuses what it cannot be combined with before the accelerator is asked, and
// creates nothing.
inline void expect_inplace_refuses_private(gmem::backend::Accelerator& accel,
                                           gmem::backend::SimpleCprStore& store,
                                           std::uint64_t size) {
    auto cfg = gmem::backend::BackendConfig::memfd_backend("ram0", size, true);
    cfg.guest_memfd_private = true;
    const auto before = snapshot(store, accel);
    EXPECT_BACKEND_ERROR(allocate(cfg, accel, store),
                         "In-place guest-memfd cannot be used with another private guest-memfd");
    EXPECT_NOTHING_CREATED(before, store, accel);
    EXPECT_EQ(accel.counters().requests, 0U);
}

// hugetlb, hugetlbsize and seal: each refused with an error that names it.
inline void expect_inplace_refuses_properties(gmem::backend::Accelerator& accel,
                                              gmem::backend::SimpleCprStore& store,
                                              std::uint64_t size) {
    using gmem::backend::BackendConfig;
    struct Case {
        const char* prop;
        void (*set)(BackendConfig&);
    };
    const Case cases[] = {
        {"hugetlb", [](BackendConfig& c) { c.hugetlb = true; }},
        {"hugetlbsize", [](BackendConfig& c) { c.hugetlbsize = 2ULL << 20; }},
        {"seal", [](BackendConfig& c) { c.seal = true; }},
    };
    for (const auto& k : cases) {
        HARNESS_TRACE("property %s", k.prop);
        auto cfg = BackendConfig::memfd_backend("ram0", size, true);
        k.set(cfg);
        const auto before = snapshot(store, accel);
        auto r = allocate(cfg, accel, store);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().message.find(k.prop), std::string::npos); // names the property
        EXPECT_BACKEND_ERROR(r, std::string("In-place guest-memfd cannot be used with ") + k.prop);
        EXPECT_NOTHING_CREATED(before, store, accel);
        EXPECT_EQ(accel.counters().requests, 0U);
    }
}

} // namespace backend_checks
