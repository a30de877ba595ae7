#include "gmem/util/utf8.hpp"

namespace gmem::util {
namespace {

bool in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

} // namespace

// The well-formed byte sequences of the Unicode standard (Table 3-7).
std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
    auto at = [&](std::size_t k) -> unsigned char {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
    };
    const unsigned char c = at(0);
    if (i >= s.size()) return 0;
    if (c < 0x80) return 1;
    if (in(c, 0xC2, 0xDF)) return in(at(1), 0x80, 0xBF) ? 2 : 0;
    if (in(c, 0xE0, 0xEF)) {
        const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    }
    if (in(c, 0xF0, 0xF4)) {
        const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
}

Utf8Text escape_invalid_utf8(std::string_view s) {
    Utf8Text out;
    out.text.reserve(s.size());
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_at(s, i);
        if (n > 0) {
            out.text.append(s.substr(i, n));
            i += n;
            continue;
        }
        const auto b = static_cast<unsigned char>(s[i]);
        out.text += "\\x";
        out.text += hex[b >> 4];
        out.text += hex[b & 0xF];
        if (out.escaped++ == 0) out.first_bad = i;
        ++i;
    }
    return out;
}

} // namespace gmem::util
