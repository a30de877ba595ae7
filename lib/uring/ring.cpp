#include "gmem/uring/ring.hpp"

#include <cerrno>
#include <limits>

namespace gmem::uring {
namespace {

Errno neg(int r) {
    return Errno{-r};
}

} // namespace

std::string opcode_name(int op) {
    switch (op) {
    case IORING_OP_NOP:
        return "IORING_OP_NOP";
    case IORING_OP_READV:
        return "IORING_OP_READV";
    case IORING_OP_WRITEV:
        return "IORING_OP_WRITEV";
    case IORING_OP_READ_FIXED:
        return "IORING_OP_READ_FIXED";
    case IORING_OP_WRITE_FIXED:
        return "IORING_OP_WRITE_FIXED";
    case IORING_OP_READ:
        return "IORING_OP_READ";
    case IORING_OP_WRITE:
        return "IORING_OP_WRITE";
    default:
        return "opcode " + std::to_string(op);
    }
}

std::string describe(const Result<int>& res) {
    if (res) return std::to_string(*res);
    return "-" + res.error().describe();
}

void Ring::Exit::operator()(io_uring* r) const {
    // Closing the ring cancels what is in flight and drops registered buffers.
    ::io_uring_queue_exit(r);
    delete r;
}

Result<Ring> Ring::try_create(unsigned entries) {
    auto r = std::make_unique<io_uring>();
    const int ret = ::io_uring_queue_init(entries, r.get(), 0);
    if (ret < 0) return std::unexpected(neg(ret));
    return Ring(std::unique_ptr<io_uring, Exit>(r.release()));
}

Ring Ring::create(unsigned entries, SrcLoc loc) {
    return must(try_create(entries), "io_uring_queue_init(" + std::to_string(entries) + ")", loc);
}

int Ring::fd() const {
    return ring_ ? ring_->ring_fd : -1;
}

Result<std::vector<int>> Ring::try_unsupported(std::span<const int> ops) const {
    if (!ring_) return std::unexpected(Errno{EBADF});
    errno = 0;
    io_uring_probe* p = ::io_uring_get_probe_ring(ring_.get());
    if (!p) return std::unexpected(Errno{errno ? errno : EINVAL});
    std::vector<int> missing;
    for (int op : ops)
        if (!::io_uring_opcode_supported(p, op)) missing.push_back(op);
    ::io_uring_free_probe(p);
    return missing;
}

Result<void> Ring::try_register_buffers(std::span<const iovec> bufs) {
    if (!ring_) return std::unexpected(Errno{EBADF});
    const int r =
        ::io_uring_register_buffers(ring_.get(), bufs.data(), static_cast<unsigned>(bufs.size()));
    if (r < 0) return std::unexpected(neg(r));
    return {};
}

Result<void> Ring::try_unregister_buffers() {
    if (!ring_) return std::unexpected(Errno{EBADF});
    const int r = ::io_uring_unregister_buffers(ring_.get());
    if (r < 0) return std::unexpected(neg(r));
    return {};
}

io_uring_sqe* Ring::next_sqe(SrcLoc loc) {
    if (!ring_) throw Error("io_uring request on an empty Ring", Errno{EBADF}, loc);
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
    // One request at a time: the queue is always empty here.
    if (!sqe) throw Error("io_uring_get_sqe: submission queue full", Errno{EBUSY}, loc);
    return sqe;
}

Result<int> Ring::submit_and_wait(io_uring_sqe* sqe, SrcLoc loc) {
    const std::uint64_t tag = next_tag_++;
    ::io_uring_sqe_set_data64(sqe, tag);
    int r;
    do {
        r = ::io_uring_submit(ring_.get());
    } while (r == -EINTR);
    if (r < 0) throw Error("io_uring_submit", neg(r), loc);
    if (r != 1)
        throw Error("io_uring_submit took " + std::to_string(r) + " requests, not 1", Errno{EIO},
                    loc);

    __kernel_timespec ts{};
    ts.tv_sec = wait_ms_ / 1000;
    ts.tv_nsec = static_cast<long long>(wait_ms_ % 1000) * 1000000;
    for (;;) {
        io_uring_cqe* cqe = nullptr;
        r = ::io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts);
        if (r == -EINTR) continue;
        if (r == -ETIME)
            throw Error("io_uring request did not complete within " + std::to_string(wait_ms_) +
                            " ms",
                        Errno{ETIME}, loc);
        if (r < 0) throw Error("io_uring_wait_cqe_timeout", neg(r), loc);
        const std::uint64_t got = ::io_uring_cqe_get_data64(cqe);
        const int res = cqe->res;
        ::io_uring_cqe_seen(ring_.get(), cqe);
        // A completion of an earlier, timed-out request: not ours.
        if (got != tag) continue;
        if (res < 0) return std::unexpected(neg(res));
        return res;
    }
}

namespace {
unsigned len_of(std::size_t n, SrcLoc loc) {
    if (n > std::numeric_limits<unsigned>::max())
        throw Error("io_uring request larger than 4 GiB", Errno{EINVAL}, loc);
    return static_cast<unsigned>(n);
}
} // namespace

Result<int> Ring::try_read(int fd, std::span<std::uint8_t> buf, std::uint64_t offset, SrcLoc loc) {
    io_uring_sqe* sqe = next_sqe(loc);
    ::io_uring_prep_read(sqe, fd, buf.data(), len_of(buf.size(), loc), offset);
    return submit_and_wait(sqe, loc);
}

Result<int> Ring::try_write(int fd, std::span<const std::uint8_t> buf, std::uint64_t offset,
                            SrcLoc loc) {
    io_uring_sqe* sqe = next_sqe(loc);
    ::io_uring_prep_write(sqe, fd, buf.data(), len_of(buf.size(), loc), offset);
    return submit_and_wait(sqe, loc);
}

Result<int> Ring::try_read_fixed(int fd, std::span<std::uint8_t> buf, std::uint64_t offset,
                                 int index, SrcLoc loc) {
    io_uring_sqe* sqe = next_sqe(loc);
    ::io_uring_prep_read_fixed(sqe, fd, buf.data(), len_of(buf.size(), loc), offset, index);
    return submit_and_wait(sqe, loc);
}

Result<int> Ring::try_write_fixed(int fd, std::span<const std::uint8_t> buf, std::uint64_t offset,
                                  int index, SrcLoc loc) {
    io_uring_sqe* sqe = next_sqe(loc);
    ::io_uring_prep_write_fixed(sqe, fd, buf.data(), len_of(buf.size(), loc), offset, index);
    return submit_and_wait(sqe, loc);
}

} // namespace gmem::uring
