#include "gmem/cpr/transport.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gmem::cpr {
namespace {

std::unexpected<StateError> fail(std::string m) { return std::unexpected(StateError{std::move(m)}); }

bool set_cloexec(int fd, bool on) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return false;
    const int want = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return ::fcntl(fd, F_SETFD, want) == 0;
}

bool is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0; }

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

} // namespace

// ------------------------------------------------------------- cpr-exec ----
std::expected<Fd, StateError> exec_prepare(const FdStore& store) {
    for (const auto& e : store.entries())
        if (!is_open(e.fd))
            return fail("saved fd " + std::to_string(e.fd) + " ('" + e.name + "', " +
                        std::to_string(e.id) + ") is not open");
    const auto bytes = serialize(store);
    if (bytes.size() > max_state_bytes)
        return fail("CPR state of " + std::to_string(bytes.size()) + " bytes exceeds the limit");
    Fd mfd(::memfd_create("gmem-cpr-state", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!mfd) return fail("memfd_create: " + Errno::last().describe());
    if (!write_all(mfd.get(), bytes.data(), bytes.size()))
        return fail("writing the CPR state: " + Errno::last().describe());
    // The next image only reads it.
    ::fcntl(mfd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    if (::setenv(state_env, std::to_string(mfd.get()).c_str(), 1) != 0)
        return fail("setenv: " + Errno::last().describe());
    set_cloexec(mfd.get(), false);
    for (const auto& e : store.entries()) set_cloexec(e.fd, false);
    return mfd;
}

void exec_abort(const FdStore& store, Fd& state_fd) {
    for (const auto& e : store.entries()) set_cloexec(e.fd, true);
    ::unsetenv(state_env);
    state_fd.reset();
}

std::expected<FdStore, StateError> exec_load() {
    const char* v = std::getenv(state_env);
    if (!v) return FdStore{};
    const std::string text = v;
    int fd = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (ec != std::errc{} || end != text.data() + text.size() || fd < 0)
        return fail(std::string(state_env) + "='" + text + "' is not an fd number");
    if (!is_open(fd))
        return fail(std::string(state_env) + " names fd " + text + ", which is not open");
    char target[256] = {};
    const std::string link = "/proc/self/fd/" + text;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0 || std::strncmp(target, "/memfd:", 7) != 0)
        return fail(std::string(state_env) + " names fd " + text + " (" +
                    (n > 0 ? std::string(target) : "?") + "), which is not a memfd");
    std::vector<std::uint8_t> bytes(max_state_bytes + 1);
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t r = ::pread(fd, bytes.data() + got, bytes.size() - got,
                                  static_cast<off_t>(got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail("reading the CPR state: " + Errno::last().describe());
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    bytes.resize(got);
    auto store = deserialize(bytes);
    if (!store) return std::unexpected(store.error());
    for (const auto& e : store->entries())
        if (!is_open(e.fd))
            return fail("CPR state names fd " + std::to_string(e.fd) + " ('" + e.name +
                        "'), which did not survive exec");
    for (const auto& e : store->entries()) set_cloexec(e.fd, true);
    ::close(fd);
    ::unsetenv(state_env);
    return store;
}

// --------------------------------------------------------- cpr-transfer ----
// Wire: u32 length, then the serialized state; the saved fds ride as
// SCM_RIGHTS on the first byte, oldest entry first (the serialized order).
std::expected<void, StateError> send_state(int sock, const FdStore& store) {
    const auto bytes = serialize(store);
    std::vector<int> fds;
    for (auto it = store.entries().rbegin(); it != store.entries().rend(); ++it)
        fds.push_back(it->fd);
    const std::uint32_t len = static_cast<std::uint32_t>(bytes.size());
    std::vector<std::uint8_t> msg(sizeof(len) + bytes.size());
    std::memcpy(msg.data(), &len, sizeof(len));
    std::memcpy(msg.data() + sizeof(len), bytes.data(), bytes.size());

    iovec iov{msg.data(), msg.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> cbuf(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
    if (!fds.empty()) {
        mh.msg_control = cbuf.data();
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t sent = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (sent < 0) return fail("sendmsg: " + Errno::last().describe());
    std::size_t done = static_cast<std::size_t>(sent);
    if (done < msg.size() && !write_all(sock, msg.data() + done, msg.size() - done))
        return fail("sending the CPR state: " + Errno::last().describe());
    return {};
}

std::expected<FdStore, StateError> receive_state(int sock, std::vector<Fd>& owned) {
    std::uint32_t len = 0;
    std::vector<std::uint8_t> first(sizeof(len) + max_state_bytes);
    iovec iov{first.data(), first.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> cbuf(CMSG_SPACE(sizeof(int) * max_entries));
    mh.msg_control = cbuf.data();
    mh.msg_controllen = cbuf.size();
    ssize_t r;
    do {
        r = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return fail("recvmsg: " + Errno::last().describe());
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            owned.emplace_back(fd);
            fds.push_back(fd);
        }
    }
    if (mh.msg_flags & MSG_CTRUNC) return fail("CPR transfer: more fds than the limit arrived");
    std::size_t got = static_cast<std::size_t>(r);
    if (got < sizeof(len)) return fail("CPR transfer: connection closed before the state");
    std::memcpy(&len, first.data(), sizeof(len));
    if (len > max_state_bytes)
        return fail("CPR transfer announces " + std::to_string(len) + " bytes, over the limit");
    const std::size_t want = sizeof(len) + len;
    while (got < want) {
        const ssize_t n = ::read(sock, first.data() + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("CPR transfer: state truncated after " + std::to_string(got) +
                                " of " + std::to_string(want) + " bytes");
        got += static_cast<std::size_t>(n);
    }
    const std::span<const std::uint8_t> state(first.data() + sizeof(len), len);
    auto as_sent = deserialize(state);
    if (!as_sent) return std::unexpected(as_sent.error());
    if (as_sent->size() != fds.size())
        return fail("CPR transfer: the state names " + std::to_string(as_sent->size()) +
                    " fds but " + std::to_string(fds.size()) + " arrived");
    if (fds.empty()) return as_sent;
    return deserialize(state, fds);
}

} // namespace gmem::cpr
