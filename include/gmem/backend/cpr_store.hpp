// The checkpoint-restart fd store as the memory backends see it: (name, id) ->
// fd number. The backend looks up (name, 0) before creating anything and saves
// a newly created fd under (name, 0). The store never owns or closes an fd.
// SimpleCprStore is the in-memory version the backend tests use; the CPR area
// provides the real one (exec / SCM_RIGHTS transports) behind this interface.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::backend {

class CprStore {
  public:
    virtual ~CprStore() = default;
    // The fd saved under (name, id), or -1 when there is none.
    virtual int find_fd(std::string_view name, int id) const = 0;
    // Records fd under (name, id).
    virtual void save_fd(std::string_view name, int id, int fd) = 0;
};

class SimpleCprStore final : public CprStore {
  public:
    struct Entry {
        std::string name;
        int id;
        int fd;
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    int find_fd(std::string_view name, int id) const override;
    void save_fd(std::string_view name, int id, int fd) override;

    const std::vector<Entry>& entries() const { return entries_; }
    std::size_t lookups() const { return lookups_; }
    std::size_t saves() const { return saves_; }

  private:
    std::vector<Entry> entries_; // newest last; find returns the newest match
    mutable std::size_t lookups_ = 0;
    std::size_t saves_ = 0;
};

} // namespace gmem::backend
