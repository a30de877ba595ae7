// The backends' CprStore over the CPR area's gmem::cpr::FdStore (the store
// that travels across cpr-exec / cpr-transfer). Header-only: only programs
// that link gmem::cpr include it. The FdStore is borrowed, never owned.
#pragma once

#include "gmem/backend/cpr_store.hpp"
#include "gmem/cpr/fd_store.hpp"

namespace gmem::backend {

class FdStoreRef final : public CprStore {
  public:
    explicit FdStoreRef(gmem::cpr::FdStore& s) : s_(&s) {}
    int find_fd(std::string_view name, int id) const override {
        return s_->find(std::string(name), id);
    }
    void save_fd(std::string_view name, int id, int fd) override {
        s_->save(std::string(name), id, fd);
    }

  private:
    gmem::cpr::FdStore* s_;
};

} // namespace gmem::backend
