// The CPR fd store (CPR-01) and what a damaged CPR state does (CPR-06). The
// store is our port of QEMU's cpr_save_fd / cpr_find_fd / cpr_delete_fd /
// cpr_resave_fd / cpr_walk_fd; no KVM needed.
#include "gmem/cpr/fd_store.hpp"
#include "gmem/cpr/transport.hpp"
#include "harness/harness.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using gmem::Fd;
using gmem::cpr::FdStore;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }
bool cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// An fd number nothing has open (a just-closed number may be reused by the
// next open, so take one far above what the test opens).
int closed_fd_number() {
    int n = 900;
    while (is_open(n)) ++n;
    return n;
}

Fd memfd(const char* name) { return Fd(::memfd_create(name, MFD_CLOEXEC)); }

// A memfd holding `bytes`, its number in GMEM_CPR_STATE, as exec would leave it.
Fd state_memfd(const std::vector<std::uint8_t>& bytes) {
    Fd m = memfd("state");
    if (!bytes.empty()) (void)!::write(m.get(), bytes.data(), bytes.size());
    ::setenv(gmem::cpr::state_env, std::to_string(m.get()).c_str(), 1);
    return m;
}

} // namespace

TEST(find_absent_is_minus_one, "CPR-01") {
    FdStore s;
    EXPECT_EQ(s.find("ram0", 0), -1);
    s.save("ram0", 0, 7);
    EXPECT_EQ(s.find("ram0", 1), -1);
    EXPECT_EQ(s.find("ram1", 0), -1);
    EXPECT_EQ(s.find("ram0", 0), 7);
}

TEST(save_existing_key_inserts_newer, "CPR-01") {
    FdStore s;
    s.save("ram0", 0, 7);
    s.save("ram0", 0, 9);
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(s.find("ram0", 0), 9); // newest first
    EXPECT_TRUE(s.remove("ram0", 0));
    EXPECT_EQ(s.find("ram0", 0), 7); // the older one is still there
}

TEST(delete_does_not_close, "CPR-01") {
    Fd m = memfd("kept");
    ASSERT_TRUE(m.valid());
    FdStore s;
    s.save("ram0", 0, m.get());
    EXPECT_TRUE(s.remove("ram0", 0));
    EXPECT_FALSE(s.remove("ram0", 0));
    EXPECT_EQ(s.find("ram0", 0), -1);
    EXPECT_TRUE(is_open(m.get()));
}

TEST(resave_different_value_is_error, "CPR-01") {
    FdStore s;
    s.save("ram0", 0, 7);
    EXPECT_OK(s.resave("ram0", 0, 7)); // same value: fine, nothing added
    EXPECT_EQ(s.size(), 1u);
    EXPECT_ERRNO(s.resave("ram0", 0, 8), EEXIST);
    EXPECT_EQ(s.find("ram0", 0), 7);
    EXPECT_EQ(s.size(), 1u);
    EXPECT_OK(s.resave("ram1", 0, 8)); // absent key: saved
    EXPECT_EQ(s.find("ram1", 0), 8);
}

TEST(walk_stops_at_first_false, "CPR-01") {
    FdStore s;
    s.save("a", 0, 1);
    s.save("b", 0, 2);
    s.save("c", 0, 3);
    std::vector<std::string> seen;
    const bool all = s.walk([&](const gmem::cpr::Entry& e) {
        seen.push_back(e.name);
        return e.name != "b";
    });
    EXPECT_FALSE(all);
    EXPECT_TRUE(seen == (std::vector<std::string>{"c", "b"}));
    seen.clear();
    EXPECT_TRUE(s.walk([&](const gmem::cpr::Entry& e) {
        seen.push_back(e.name);
        return true;
    }));
    EXPECT_EQ(seen.size(), 3u);
}

TEST(serialize_round_trip, "CPR-01") {
    FdStore s;
    s.save("ram0", 0, 11);
    s.save("ram1", 3, 12);
    s.save("ram0", 0, 13);
    const auto bytes = gmem::cpr::serialize(s);
    auto back = gmem::cpr::deserialize(bytes);
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(back->entries() == s.entries());
}

// ---- CPR-06: damaged state. Every case must give a clear error, crash
// nothing, and leave the saved fd (and the state memfd) open.
FIXTURE(damaged) {
    Fd saved;
    FdStore store;
    std::vector<std::uint8_t> good;
};
FIXTURE_SETUP(damaged) {
    self->saved = memfd("guest-ram");
    ASSERT_TRUE(self->saved.valid());
    self->store.save("ram0", 0, self->saved.get());
    self->good = gmem::cpr::serialize(self->store);
}
FIXTURE_TEARDOWN(damaged) { ::unsetenv(gmem::cpr::state_env); }

namespace {
void expect_refused(const std::string& want_text, int saved_fd) {
    auto r = gmem::cpr::exec_load();
    EXPECT_FALSE(r.has_value());
    if (!r) {
        TH_LOG("exec_load: %s", r.error().message.c_str());
        EXPECT_NE(r.error().message.find(want_text), std::string::npos);
    }
    EXPECT_TRUE(is_open(saved_fd));
}
} // namespace

TEST_F(damaged, bad_magic, "CPR-06") {
    auto bytes = self->good;
    bytes[0] ^= 0xff;
    Fd st = state_memfd(bytes);
    expect_refused("bad magic", self->saved.get());
    EXPECT_TRUE(is_open(st.get()));
}

TEST_F(damaged, wrong_version, "CPR-06") {
    auto bytes = self->good;
    bytes[4] = 99;
    Fd st = state_memfd(bytes);
    expect_refused("version 99 is not supported", self->saved.get());
}

TEST_F(damaged, truncated_record, "CPR-06") {
    auto bytes = self->good;
    bytes.resize(bytes.size() - 3);
    Fd st = state_memfd(bytes);
    expect_refused("truncated", self->saved.get());
}

TEST_F(damaged, truncated_header, "CPR-06") {
    Fd st = state_memfd({0x47, 0x43});
    expect_refused("shorter than its 16-byte header", self->saved.get());
}

TEST_F(damaged, env_names_closed_fd, "CPR-06") {
    const int closed = closed_fd_number();
    ::setenv(gmem::cpr::state_env, std::to_string(closed).c_str(), 1);
    expect_refused("which is not open", self->saved.get());
}

TEST_F(damaged, env_names_non_memfd, "CPR-06") {
    int p[2];
    ASSERT_OK(::pipe2(p, O_CLOEXEC));
    Fd r(p[0]), w(p[1]);
    ::setenv(gmem::cpr::state_env, std::to_string(r.get()).c_str(), 1);
    expect_refused("which is not a memfd", self->saved.get());
}

TEST_F(damaged, env_not_a_number, "CPR-06") {
    ::setenv(gmem::cpr::state_env, "12abc", 1);
    expect_refused("is not an fd number", self->saved.get());
}

TEST_F(damaged, state_names_fd_that_did_not_survive, "CPR-06") {
    FdStore s;
    s.save("ram9", 0, closed_fd_number());
    s.save("ram0", 0, self->saved.get());
    Fd st = state_memfd(gmem::cpr::serialize(s));
    expect_refused("did not survive exec", self->saved.get());
    // Nothing was half-applied: the surviving saved fd keeps its flags.
    EXPECT_TRUE(cloexec(self->saved.get()));
}

TEST_F(damaged, good_state_loads, "CPR-06") {
    // The control: the same record undamaged loads, and the state memfd is
    // consumed (closed, variable unset).
    ::fcntl(self->saved.get(), F_SETFD, 0);
    Fd st = state_memfd(self->good);
    const int st_fd = st.release();
    auto r = gmem::cpr::exec_load();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->find("ram0", 0), self->saved.get());
    EXPECT_TRUE(cloexec(self->saved.get())); // regained after load
    EXPECT_FALSE(is_open(st_fd));
    EXPECT_EQ(std::getenv(gmem::cpr::state_env), nullptr);
}

TEST(transfer_refuses_truncated_stream, "CPR-06") {
    int sv[2];
    ASSERT_OK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    Fd a(sv[0]), b(sv[1]);
    const std::uint32_t len = 100; // announces 100 bytes, sends 4, hangs up
    std::uint8_t msg[8] = {};
    std::memcpy(msg, &len, sizeof(len));
    ASSERT_OK(::write(a.get(), msg, sizeof(msg)));
    a.reset();
    std::vector<Fd> owned;
    auto r = gmem::cpr::receive_state(b.get(), owned);
    ASSERT_FALSE(r.has_value());
    TH_LOG("receive_state: %s", r.error().message.c_str());
    EXPECT_NE(r.error().message.find("truncated"), std::string::npos);
}

TEST_HARNESS_MAIN
