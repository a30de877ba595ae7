// Memory-management UAPI constants the guest_memfd file/mapping corpus needs
// that the build machine's glibc (2.36) does not spell in <sys/mman.h>.
// Values are the kernel's include/uapi/asm-generic/mman-common.h (x86_64).
#pragma once

#include <linux/magic.h>
#include <sys/mman.h>

namespace gmem::uapi {

// MADV_COLLAPSE: synchronous hugepage collapse (Linux 6.1+).
inline constexpr int madv_collapse = 25;
// MADV_HUGEPAGE and MADV_DONTNEED exist in glibc; checked here so that the
// numbers the corpus reasons about are the ones it sends.
inline constexpr int madv_hugepage = 14;
inline constexpr int madv_dontneed = 4;

// statfs f_type of a guest_memfd before its dedicated pseudo filesystem
// ("guest_memfd", GUEST_MEMFD_MAGIC, see kvm.hpp) existed: Linux 6.8 to 6.18
// create the file on the anon_inode mount (anon_inode_make_secure_inode).
inline constexpr long anon_inode_fs_magic = 0x09041934;
static_assert(ANON_INODE_FS_MAGIC == anon_inode_fs_magic);

#ifdef MADV_COLLAPSE
static_assert(MADV_COLLAPSE == madv_collapse);
#endif
static_assert(MADV_HUGEPAGE == madv_hugepage);
static_assert(MADV_DONTNEED == madv_dontneed);

} // namespace gmem::uapi
