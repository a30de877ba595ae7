// Owning file descriptor and owning memory mapping: closed / unmapped exactly
// once, on destruction or reset; moved-from objects own nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace gmem {

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

class Mapping {
  public:
    Mapping() = default;
    Mapping(void* addr, std::size_t len) : addr_(addr), len_(len) {}
    Mapping(Mapping&& o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Mapping& operator=(Mapping&& o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { reset(); }

    void* get() const { return addr_; }
    std::uint8_t* data() const { return static_cast<std::uint8_t*>(addr_); }
    std::size_t size() const { return len_; }
    std::span<std::uint8_t> bytes() const { return {data(), len_}; }
    explicit operator bool() const { return addr_ != nullptr; }
    void reset();

  private:
    void* addr_ = nullptr;
    std::size_t len_ = 0;
};

std::size_t page_size();

} // namespace gmem
