// The kernel's gup_test debugfs interface (mm/gup_test.h, CONFIG_GUP_TEST):
// the long-term pin the in-place conversion series' own test uses to give a
// guest_memfd page an unexpected reference (its pin_pages()/unpin_pages()).
// Same naming and checking rules as kvm.hpp.
#pragma once

#include "gmem/uapi/kvm.hpp"

namespace gmem::uapi {

inline constexpr const char* gup_test_path = "/sys/kernel/debug/gup_test";

struct pin_longterm_test {
    u64 addr;
    u64 size;
    u32 flags;
    u32 pad_; // the compiler's padding in the kernel's struct, named here
};
inline constexpr u32 pin_longterm_test_flag_use_write = 1;

namespace ioctl {
inline constexpr unsigned long pin_longterm_test_start =
    ioc::make(ioc::write, 'g', 7, sizeof(pin_longterm_test));
inline constexpr unsigned long pin_longterm_test_stop = ioc::make(ioc::none, 'g', 8, 0);
} // namespace ioctl

static_assert(sizeof(pin_longterm_test) == 24);
static_assert(offsetof(pin_longterm_test, flags) == 16);
// UAPI.md: PIN_LONGTERM_TEST_START = 0x40186707, PIN_LONGTERM_TEST_STOP = 0x6708.
static_assert(ioctl::pin_longterm_test_start == 0x40186707);
static_assert(ioctl::pin_longterm_test_stop == 0x6708);

} // namespace gmem::uapi
