// Small text helpers shared by the KTAP reader and the report's spec and
// listing parsers.
#pragma once

#include <string_view>

namespace gmem::util {

// Removes the first line from `text` and returns it, without its '\n' and
// without one '\r' before it (CRLF input). The last line need not end in '\n'.
// Callers loop `while (!text.empty()) { auto line = next_line(text); ... }`.
inline std::string_view next_line(std::string_view& text) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
}

} // namespace gmem::util
