// Small text helpers shared by the KTAP reader, the report's spec and listing
// parsers, and the tests that look at another program's output.
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

inline bool contains(std::string_view text, std::string_view needle) {
    return text.find(needle) != std::string_view::npos;
}

// True when `line` is one whole line of `text` (not part of a longer one).
inline bool has_line(std::string_view text, std::string_view line) {
    for (size_t pos = text.find(line); pos != std::string_view::npos;
         pos = text.find(line, pos + 1)) {
        const size_t end = pos + line.size();
        if ((pos == 0 || text[pos - 1] == '\n') && (end == text.size() || text[end] == '\n'))
            return true;
    }
    return false;
}

} // namespace gmem::util
