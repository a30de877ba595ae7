// The checkpoint-restart fd store with QEMU's semantics (CPR-01): fds keyed
// by (name, id), newest first. The store never closes an fd: ownership of a
// saved fd stays with whoever saved it (in QEMU, the memory backend), which is
// what lets an fd survive exec or travel to another process untouched.
#pragma once

#include "gmem/errno.hpp"

#include <cstdint>
#include <expected>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace gmem::cpr {

struct Entry {
    std::string name;
    int id = 0;
    int fd = -1;
    friend bool operator==(const Entry&, const Entry&) = default;
};

class FdStore {
  public:
    // Inserts (name, id, fd) as the newest entry, even if the key exists.
    void save(const std::string& name, int id, int fd);
    // The newest fd saved under (name, id), or -1.
    int find(const std::string& name, int id) const;
    // Forgets the newest entry for (name, id); the fd stays open. False if absent.
    bool remove(const std::string& name, int id);
    // Saves unless already saved: the same fd again is fine, a different fd
    // for an existing key is an error (EEXIST) and the store is unchanged.
    Result<void> resave(const std::string& name, int id, int fd);
    // Calls fn newest first; stops at the first false. Returns true if every
    // call returned true.
    bool walk(const std::function<bool(const Entry&)>& fn) const;

    const std::vector<Entry>& entries() const { return entries_; } // newest first
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }

  private:
    std::vector<Entry> entries_;
};

// ---- the serialized state: a versioned, bounded record ----
inline constexpr std::uint32_t state_magic = 0x52504347; // "GCPR" little-endian
inline constexpr std::uint32_t state_version = 1;
inline constexpr std::size_t max_entries = 253;          // SCM_MAX_FD: one message
inline constexpr std::size_t max_name = 255;
inline constexpr std::size_t max_state_bytes = 64 * 1024;

// Why a serialized state was refused.
struct StateError {
    std::string message;
};

std::vector<std::uint8_t> serialize(const FdStore& store);
// The fds in the record are taken as they are (exec keeps the numbers);
// `fds`, when given, replaces them in order (SCM_RIGHTS gives new numbers).
std::expected<FdStore, StateError> deserialize(std::span<const std::uint8_t> bytes,
                                               std::span<const int> fds = {});

} // namespace gmem::cpr
