#include "gmem/backend/cpr_store.hpp"

namespace gmem::backend {

int SimpleCprStore::find_fd(std::string_view name, int id) const {
    ++lookups_;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
        if (it->name == name && it->id == id) return it->fd;
    return -1;
}

void SimpleCprStore::save_fd(std::string_view name, int id, int fd) {
    ++saves_;
    entries_.push_back(Entry{std::string(name), id, fd});
}

} // namespace gmem::backend
