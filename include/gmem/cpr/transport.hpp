// Moving the CPR fd store to the next QEMU-like process:
//  - cpr-exec (CPR-03): the state goes into a memfd whose number is put in the
//    environment variable GMEM_CPR_STATE; saved fds lose close-on-exec just
//    before exec and get it back once the new image has loaded them. Every
//    other fd is closed by exec (they are all close-on-exec).
//  - cpr-transfer (CPR-04): the state and the saved fds travel over a UNIX
//    socket, the fds as SCM_RIGHTS; the receiver gets new fd numbers.
#pragma once

#include "gmem/cpr/fd_store.hpp"
#include "gmem/kvm/fd.hpp"

#include <expected>
#include <string>
#include <vector>

namespace gmem::cpr {

inline constexpr const char* state_env = "GMEM_CPR_STATE";

// ---- cpr-exec ----
// Writes the state into a memfd, puts its number into GMEM_CPR_STATE and
// clears close-on-exec on it and on every saved fd. Call right before execve;
// if execve fails, call exec_abort() to restore close-on-exec.
std::expected<Fd, StateError> exec_prepare(const FdStore& store);
void exec_abort(const FdStore& store, Fd& state_fd);

// In the new image: reads GMEM_CPR_STATE, validates the memfd and the record,
// sets close-on-exec again on every saved fd, closes the state memfd and
// unsets the variable. With no variable set: an empty store (a cold start).
// A damaged state is an error and closes nothing it names.
std::expected<FdStore, StateError> exec_load();

// ---- cpr-transfer ----
std::expected<void, StateError> send_state(int sock, const FdStore& store);
// The received fds are owned by the caller through `owned` (closed on
// destruction unless released); the store refers to them.
std::expected<FdStore, StateError> receive_state(int sock, std::vector<Fd>& owned);

} // namespace gmem::cpr
