// The RAII types everything stands on (gmem::Fd, gmem::Mapping): a moved-from
// object owns nothing, reset() and destruction release exactly once, a
// self-move keeps what is owned. "Exactly once" is shown by letting the kernel
// reuse the released number / address for something else, which a second
// close / munmap would then destroy.
#include "gmem/kvm/fd.hpp"
#include "harness/harness.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace {

// A pipe: two fresh fds that nothing else owns.
struct PipeFds {
    int r = -1, w = -1;
};
PipeFds make_pipe() {
    int p[2] = {-1, -1};
    if (::pipe2(p, O_CLOEXEC) != 0) return {};
    return {p[0], p[1]};
}

bool fd_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

// Whether [p, p + len) is mapped: msync answers ENOMEM for an unmapped range.
bool mapped(void* p, std::size_t len) {
    return ::msync(p, len, MS_ASYNC) == 0;
}

void* map_anon(void* hint = nullptr, int extra = 0) {
    return ::mmap(hint, gmem::page_size(), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
}

} // namespace

TEST(fd_move_leaves_nothing_owned, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd w(p.w);
    gmem::Fd a(p.r);
    gmem::Fd b(std::move(a));
    EXPECT_EQ(a.get(), -1);
    EXPECT_FALSE(a.valid());
    EXPECT_FALSE(static_cast<bool>(a));
    EXPECT_EQ(b.get(), p.r);
    gmem::Fd c;
    c = std::move(b);
    EXPECT_EQ(b.get(), -1);
    EXPECT_EQ(c.get(), p.r);
    a.reset(); // a moved-from object may be reset and destroyed: nothing happens
    EXPECT_TRUE(fd_open(p.r));
}

TEST(fd_reset_closes_exactly_once, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd w(p.w);
    {
        gmem::Fd a(p.r);
        a.reset();
        EXPECT_EQ(a.get(), -1);
        EXPECT_ERRNO(::fcntl(p.r, F_GETFD), EBADF);
        // The number now belongs to someone else; a must never close it again.
        ASSERT_EQ(::dup3(p.w, p.r, O_CLOEXEC), p.r);
        a.reset();
    } // and destroying a must not either
    EXPECT_TRUE(fd_open(p.r));
    gmem::Fd reused(p.r);
}

TEST(fd_reset_to_another_closes_the_old, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd a(p.r);
    a.reset(p.w);
    EXPECT_EQ(a.get(), p.w);
    EXPECT_ERRNO(::fcntl(p.r, F_GETFD), EBADF);
    a.reset(a.get()); // resetting to what it owns keeps it open
    EXPECT_TRUE(fd_open(p.w));
}

TEST(fd_move_assign_closes_the_target, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd a(p.r);
    gmem::Fd b(p.w);
    a = std::move(b);
    EXPECT_ERRNO(::fcntl(p.r, F_GETFD), EBADF);
    EXPECT_EQ(a.get(), p.w);
    EXPECT_EQ(b.get(), -1);
    EXPECT_TRUE(fd_open(p.w));
}

TEST(fd_self_move_keeps_it, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd w(p.w);
    gmem::Fd a(p.r);
    gmem::Fd& alias = a; // a self-move the compiler cannot see
    a = std::move(alias);
    EXPECT_EQ(a.get(), p.r);
    EXPECT_TRUE(fd_open(p.r));
}

TEST(fd_release_gives_up_ownership, "") {
    const PipeFds p = make_pipe();
    ASSERT_NE(p.r, -1);
    gmem::Fd w(p.w);
    int raw = -1;
    {
        gmem::Fd a(p.r);
        raw = a.release();
        EXPECT_EQ(a.get(), -1);
    }
    EXPECT_EQ(raw, p.r);
    EXPECT_TRUE(fd_open(p.r));
    gmem::Fd owner(raw);
}

TEST(mapping_move_leaves_nothing_owned, "") {
    void* p = map_anon();
    ASSERT_NE(p, MAP_FAILED);
    gmem::Mapping a(p, gmem::page_size());
    gmem::Mapping b(std::move(a));
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_EQ(a.size(), 0u);
    EXPECT_FALSE(static_cast<bool>(a));
    EXPECT_EQ(b.get(), p);
    EXPECT_EQ(b.size(), gmem::page_size());
    EXPECT_EQ(b.bytes().size(), gmem::page_size());
    gmem::Mapping c;
    c = std::move(b);
    EXPECT_EQ(b.get(), nullptr);
    EXPECT_EQ(c.get(), p);
    a.reset();
    b.reset();
    EXPECT_TRUE(mapped(p, gmem::page_size()));
}

TEST(mapping_reset_unmaps_exactly_once, "") {
    void* p = map_anon();
    ASSERT_NE(p, MAP_FAILED);
    gmem::Mapping other;
    {
        gmem::Mapping a(p, gmem::page_size());
        a.data()[0] = 1;
        a.reset();
        EXPECT_EQ(a.get(), nullptr);
        EXPECT_EQ(a.size(), 0u);
        EXPECT_FALSE(mapped(p, gmem::page_size()));
        // The range now belongs to someone else; a must never unmap it again.
        void* q = map_anon(p, MAP_FIXED_NOREPLACE);
        ASSERT_EQ(q, p);
        other = gmem::Mapping(q, gmem::page_size());
        other.data()[0] = 7;
        a.reset();
    }
    EXPECT_TRUE(mapped(p, gmem::page_size()));
    EXPECT_EQ(harness::peek(other.data()), 7);
}

TEST(mapping_move_assign_unmaps_the_target, "") {
    void* p1 = map_anon();
    ASSERT_NE(p1, MAP_FAILED);
    gmem::Mapping a(p1, gmem::page_size());
    void* p2 = map_anon();
    ASSERT_NE(p2, MAP_FAILED);
    gmem::Mapping b(p2, gmem::page_size());
    a = std::move(b);
    EXPECT_FALSE(mapped(p1, gmem::page_size()));
    EXPECT_EQ(a.get(), p2);
    EXPECT_EQ(b.get(), nullptr);
    EXPECT_TRUE(mapped(p2, gmem::page_size()));
}

TEST(mapping_self_move_keeps_it, "") {
    void* p = map_anon();
    ASSERT_NE(p, MAP_FAILED);
    gmem::Mapping a(p, gmem::page_size());
    gmem::Mapping& alias = a;
    a = std::move(alias);
    EXPECT_EQ(a.get(), p);
    EXPECT_EQ(a.size(), gmem::page_size());
    EXPECT_TRUE(mapped(p, gmem::page_size()));
}

TEST_HARNESS_MAIN
