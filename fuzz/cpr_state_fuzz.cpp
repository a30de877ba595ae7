// Fuzz target: the CPR state deserializer (gmem::cpr::deserialize), which
// reads what the previous QEMU-like process left in a memfd or sent over a
// socket. A record it accepts must serialize back to the same bytes.
#include "fuzz_check.hpp"

#include "gmem/cpr/fd_store.hpp"

#include <cstring>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto store = gmem::cpr::deserialize(bytes)) {
        const auto again = gmem::cpr::serialize(*store);
        FUZZ_CHECK(again.size() == size && std::memcmp(again.data(), data, size) == 0,
                   "an accepted state (%zu bytes, %zu fds) serializes back to itself", size, store->size());
    }
    // As received over a socket: the fds arrive beside the record.
    if (size >= 12) {
        std::uint32_t count = 0;
        std::memcpy(&count, data + 8, sizeof(count));
        if (count <= gmem::cpr::max_entries) {
            std::vector<int> fds(count);
            for (std::uint32_t i = 0; i < count; ++i) fds[i] = static_cast<int>(100 + i);
            if (auto store = gmem::cpr::deserialize(bytes, fds)) {
                std::size_t i = count;
                for (const auto& e : store->entries()) // newest first = last on the wire
                    FUZZ_CHECK(e.fd == fds[--i], "entry '%s' has the fd that arrived for it", e.name.c_str());
            }
        }
    }
    return 0;
}
