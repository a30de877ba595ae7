// Markdown helpers shared by the report (render.cpp) and the matrix
// (matrix.cpp). Internal to lib/report.
#pragma once

#include <string>
#include <string_view>

namespace gmem::report::detail {

// Text for one Markdown table cell: the pipe escaped, HTML-special
// characters as entities, line breaks as <br>.
inline std::string md_cell(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '|': out += "\\|"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '\n': out += "<br>"; break;
        case '\r': break;
        default: out += c;
        }
    }
    return out;
}

} // namespace gmem::report::detail
