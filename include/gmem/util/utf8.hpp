// Text that programs print is data: it need not be UTF-8 (a program killed in
// the middle of a multi-byte character, a stray byte from the kernel or the
// environment). Whatever passes it on as text (the conformance report's JSON
// and Markdown) first makes it valid UTF-8 here, keeping every bad byte visible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gmem::util {

struct Utf8Text {
    std::string text;            // valid UTF-8
    std::size_t escaped = 0;     // bytes written as "\xNN"
    std::size_t first_bad = std::string_view::npos; // offset of the first one in the input
};

// Valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF) is copied unchanged; each byte that does not belong to a valid
// sequence is written as the four characters "\xNN" (NN its value in
// lower-case hex), e.g. "\xe2\x80" for a character cut after two bytes.
Utf8Text escape_invalid_utf8(std::string_view s);

// The length of the valid UTF-8 sequence at s[i], 0 if there is none.
std::size_t utf8_sequence_at(std::string_view s, std::size_t i);

} // namespace gmem::util
