// The two QEMU designs for backing guest RAM with guest_memfd, as plain C++:
//   memory-backend-guest-memfd (seed 000): a dedicated backend, share=on by
//     default and required, fd from kvm_create_guest_memfd_shared();
//   memory-backend-memfd with guest-memfd=on (seed 001 and its review):
//     share=on required, no private guest_memfd on the same backend, no
//     hugetlb/hugetlbsize/seal, the accelerator must be KVM.
// allocate() runs the seeds' checks in the seeds' order and returns the RAM
// block (owning fd, MAP_SHARED host mapping at offset 0, RAM flags) or an
// error carrying the seeds' text. Nothing global: the accelerator and the CPR
// store are passed in.
#pragma once

#include "gmem/backend/accel.hpp"
#include "gmem/backend/cpr_store.hpp"
#include "gmem/backend/error.hpp"
#include "gmem/kvm/fd.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gmem::backend {

enum class BackendType { guest_memfd, memfd };
// "memory-backend-guest-memfd", "memory-backend-memfd"
std::string_view type_name(BackendType t);
// The share property's default (QOM instance_init): on for both types.
bool default_share(BackendType t);

// RAMBlock flags, QEMU's bit values.
namespace ram_flag {
inline constexpr std::uint32_t shared = 1U << 1;
inline constexpr std::uint32_t noreserve = 1U << 7;
inline constexpr std::uint32_t guest_memfd = 1U << 12;
inline constexpr std::uint32_t private_ = 1U << 13;
} // namespace ram_flag
std::string ram_flags_name(std::uint32_t flags); // "SHARED|NORESERVE", "0"

struct BackendConfig {
    BackendType type = BackendType::guest_memfd;
    std::string id;                  // the object's id: its name for CPR
    std::uint64_t size = 0;
    std::optional<bool> share;       // unset: default_share(type)
    bool reserve = true;
    bool prealloc = false;
    bool guest_memfd_private = false; // a private guest_memfd is attached (confidential guest)

    // memory-backend-memfd only (QEMU: "Property ... not found" elsewhere).
    bool guest_memfd = false;                 // guest-memfd=on
    std::optional<bool> hugetlb;              // unset: off
    std::optional<std::uint64_t> hugetlbsize; // unset: the default huge page size
    std::optional<bool> seal;                 // unset: on

    bool effective_share() const { return share.value_or(default_share(type)); }

    static BackendConfig dedicated(std::string id, std::uint64_t size);
    static BackendConfig memfd_backend(std::string id, std::uint64_t size, bool guest_memfd);
};

struct RamBlock {
    std::string name;
    Fd fd;                   // owned; for a CPR-supplied fd, ownership passes here
    Mapping host;            // the RAM: mmap of fd at fd_offset
    std::uint64_t size = 0;
    std::uint64_t fd_offset = 0;
    std::uint32_t flags = 0; // ram_flag::*
    bool aligned = false;
    bool fd_from_cpr = false;
};

// Error texts that are not the accelerator's (see accel.hpp for those).
namespace msg {
inline constexpr const char* size_zero = "can't create backend with size 0";
inline constexpr const char* share_off = "can't create backend with share=off";
inline constexpr const char* inplace_share_off = "In-place guest-memfd must be used with share=on";
inline constexpr const char* inplace_private =
    "In-place guest-memfd cannot be used with another private guest-memfd";
inline constexpr const char* inplace_hugetlb = "In-place guest-memfd cannot be used with hugetlb";
inline constexpr const char* inplace_hugetlbsize =
    "In-place guest-memfd cannot be used with hugetlbsize";
inline constexpr const char* inplace_seal = "In-place guest-memfd cannot be used with seal";
inline constexpr const char* prealloc_noreserve = "'prealloc=on' and 'reserve=off' are incompatible";
inline constexpr const char* map_failed = "unable to map backing store for guest RAM";
inline constexpr const char* prealloc_failed = "qemu_prealloc_mem: preallocating memory failed";
} // namespace msg

// Looks up (id, 0) in cpr; creates and saves there when absent. On any error
// nothing is left open and the store is unchanged; a CPR-supplied fd is never
// closed by a failed allocation.
Outcome<RamBlock> allocate(const BackendConfig& cfg, Accelerator& accel, CprStore& cpr);

} // namespace gmem::backend
