#include "gmem/cpr/fd_store.hpp"

#include <algorithm>
#include <cstring>

namespace gmem::cpr {

void FdStore::save(const std::string& name, int id, int fd) {
    entries_.insert(entries_.begin(), Entry{name, id, fd});
}

int FdStore::find(const std::string& name, int id) const {
    for (const auto& e : entries_)
        if (e.id == id && e.name == name) return e.fd;
    return -1;
}

bool FdStore::remove(const std::string& name, int id) {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return e.id == id && e.name == name; });
    if (it == entries_.end()) return false;
    entries_.erase(it);
    return true;
}

Result<void> FdStore::resave(const std::string& name, int id, int fd) {
    const int old = find(name, id);
    if (old == fd) return {};
    if (old >= 0) return std::unexpected(Errno{EEXIST});
    save(name, id, fd);
    return {};
}

bool FdStore::walk(const std::function<bool(const Entry&)>& fn) const {
    for (const auto& e : entries_)
        if (!fn(e)) return false;
    return true;
}

// Layout (little-endian, what this machine writes and reads):
//   u32 magic, u32 version, u32 count, u32 payload_bytes,
//   count x { u16 name_len, i32 id, i32 fd, name bytes }
namespace {

template <class T> void put(std::vector<std::uint8_t>& out, T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

template <class T> bool get(std::span<const std::uint8_t>& in, T& v) {
    if (in.size() < sizeof(T)) return false;
    std::memcpy(&v, in.data(), sizeof(T));
    in = in.subspan(sizeof(T));
    return true;
}

constexpr std::size_t header_bytes = 16;

} // namespace

std::vector<std::uint8_t> serialize(const FdStore& store) {
    std::vector<std::uint8_t> body;
    // Oldest first on the wire, so that replaying save() rebuilds the order.
    for (auto it = store.entries().rbegin(); it != store.entries().rend(); ++it) {
        put<std::uint16_t>(body, static_cast<std::uint16_t>(it->name.size()));
        put<std::int32_t>(body, it->id);
        put<std::int32_t>(body, it->fd);
        body.insert(body.end(), it->name.begin(), it->name.end());
    }
    std::vector<std::uint8_t> out;
    put<std::uint32_t>(out, state_magic);
    put<std::uint32_t>(out, state_version);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(store.size()));
    put<std::uint32_t>(out, static_cast<std::uint32_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

std::expected<FdStore, StateError> deserialize(std::span<const std::uint8_t> bytes,
                                               std::span<const int> fds) {
    auto fail = [](std::string m) { return std::unexpected(StateError{std::move(m)}); };
    if (bytes.size() > max_state_bytes)
        return fail("CPR state is " + std::to_string(bytes.size()) + " bytes, more than the " +
                    std::to_string(max_state_bytes) + "-byte limit");
    std::uint32_t magic = 0, version = 0, count = 0, payload = 0;
    if (!get(bytes, magic) || !get(bytes, version) || !get(bytes, count) || !get(bytes, payload))
        return fail("CPR state truncated: " + std::to_string(bytes.size()) +
                    " bytes, shorter than its " + std::to_string(header_bytes) + "-byte header");
    char magic_hex[16];
    std::snprintf(magic_hex, sizeof(magic_hex), "0x%08x", magic);
    if (magic != state_magic) return fail(std::string("CPR state has bad magic ") + magic_hex);
    if (version != state_version)
        return fail("CPR state version " + std::to_string(version) + " is not supported (want " +
                    std::to_string(state_version) + ")");
    if (count > max_entries)
        return fail("CPR state claims " + std::to_string(count) + " fds, more than " +
                    std::to_string(max_entries));
    if (payload != bytes.size())
        return fail("CPR state truncated: header says " + std::to_string(payload) +
                    " payload bytes, " + std::to_string(bytes.size()) + " present");
    if (!fds.empty() && fds.size() != count)
        return fail("CPR state names " + std::to_string(count) + " fds but " +
                    std::to_string(fds.size()) + " arrived");
    FdStore store;
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint16_t len = 0;
        std::int32_t id = 0, fd = 0;
        if (!get(bytes, len) || !get(bytes, id) || !get(bytes, fd) || bytes.size() < len ||
            len > max_name)
            return fail("CPR state entry " + std::to_string(i) + " is truncated or malformed");
        std::string name(reinterpret_cast<const char*>(bytes.data()), len);
        bytes = bytes.subspan(len);
        if (!fds.empty()) fd = fds[i];
        if (fd < 0) return fail("CPR state entry '" + name + "' has no fd");
        store.save(name, id, fd);
    }
    if (!bytes.empty())
        return fail("CPR state has " + std::to_string(bytes.size()) + " stray bytes at its end");
    return store;
}

} // namespace gmem::cpr
