// An io_uring instance (liburing) that does one request at a time: submit,
// wait (bounded), and hand back the CQE's answer, so that a check reads as
// "this read moved N bytes" or "this write failed EFAULT". Also registers and
// unregisters fixed buffers and asks the kernel's opcode probe.
#pragma once

#include "gmem/errno.hpp"
#include "gmem/kvm/error.hpp"

#include <cstdint>
#include <liburing.h>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <sys/uio.h>
#include <vector>

namespace gmem::uring {

using SrcLoc = std::source_location;

// "IORING_OP_READ_FIXED", or "opcode 42" for one this table does not name.
std::string opcode_name(int op);

class Ring {
  public:
    // How long one request may take before the ring is declared hung.
    static constexpr unsigned default_wait_ms = 5000;

    Ring() = default; // owns nothing
    static Result<Ring> try_create(unsigned entries = 8);
    static Ring create(unsigned entries = 8, SrcLoc loc = SrcLoc::current());

    Ring(Ring&&) noexcept = default;
    Ring& operator=(Ring&&) noexcept = default;
    ~Ring() = default;

    explicit operator bool() const { return ring_ != nullptr; }
    int fd() const;
    void set_wait_ms(unsigned ms) { wait_ms_ = ms; }

    // Which of `ops` (IORING_OP_*) the kernel's probe does not offer. Fails
    // when the kernel has no probe (IORING_REGISTER_PROBE, Linux < 5.6).
    Result<std::vector<int>> try_unsupported(std::span<const int> ops) const;

    // io_uring_register_buffers / io_uring_unregister_buffers: the kernel's
    // answer (0 or the errno, e.g. ENOMEM over RLIMIT_MEMLOCK, EFAULT when a
    // page cannot be pinned).
    Result<void> try_register_buffers(std::span<const iovec> bufs);
    Result<void> try_unregister_buffers();

    // One request, submitted and waited for. The value is the CQE's res (bytes
    // moved); a negative res comes back as its Errno. A ring that cannot submit,
    // or a request that does not complete within the wait bound, throws
    // gmem::Error: that is a failure of the ring, not an answer to the request.
    Result<int> try_read(int fd, std::span<std::uint8_t> buf, std::uint64_t offset,
                         SrcLoc loc = SrcLoc::current());
    Result<int> try_write(int fd, std::span<const std::uint8_t> buf, std::uint64_t offset,
                          SrcLoc loc = SrcLoc::current());
    // buf must lie inside registered buffer `index`.
    Result<int> try_read_fixed(int fd, std::span<std::uint8_t> buf, std::uint64_t offset,
                               int index = 0, SrcLoc loc = SrcLoc::current());
    Result<int> try_write_fixed(int fd, std::span<const std::uint8_t> buf, std::uint64_t offset,
                                int index = 0, SrcLoc loc = SrcLoc::current());

  private:
    struct Exit {
        void operator()(io_uring* r) const;
    };
    explicit Ring(std::unique_ptr<io_uring, Exit> r) : ring_(std::move(r)) {}
    io_uring_sqe* next_sqe(SrcLoc loc);
    Result<int> submit_and_wait(io_uring_sqe* sqe, SrcLoc loc);

    std::unique_ptr<io_uring, Exit> ring_;
    std::uint64_t next_tag_ = 1;
    unsigned wait_ms_ = default_wait_ms;
};

// "12288" or "-EFAULT (Bad address)": how a request's answer is printed.
std::string describe(const Result<int>& res);

} // namespace gmem::uring
