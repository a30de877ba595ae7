#include "gmem/report/spec.hpp"

#include "gmem/util/text.hpp"
#include "gmem/util/utf8.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gmem::report {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// LETTERS-DIGITS, e.g. CAP-01 (the pattern lib/CMakeLists.txt compiles into the harness).
bool is_id(std::string_view s) {
    const size_t dash = s.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash + 1 == s.size()) return false;
    for (size_t i = 0; i < dash; ++i)
        if (!std::isupper(static_cast<unsigned char>(s[i]))) return false;
    for (size_t i = dash + 1; i < s.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

} // namespace

const Behaviour* Spec::find(std::string_view id) const {
    for (const auto& b : behaviours)
        if (b.id == id) return &b;
    return nullptr;
}

Expected<Spec> parse_spec(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = util::utf8_sequence_at(text, i);
        if (n == 0)
            return std::unexpected(Problem{
                "line " + std::to_string(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(i), '\n') + 1) +
                ": not valid UTF-8 text (byte " + std::to_string(i) + ")"});
        i += n;
    }
    Spec spec;
    size_t lineno = 0;
    while (!text.empty()) {
        std::string_view line = util::next_line(text);
        ++lineno;
        line = trim(line);
        if (line.starts_with("## ")) {
            const std::string_view h = trim(line.substr(3));
            const size_t colon = h.find(':');
            if (colon == std::string_view::npos) continue; // a heading that is no section
            const std::string_view prefix = trim(h.substr(0, colon));
            bool letters = !prefix.empty();
            for (char c : prefix) letters &= std::isupper(static_cast<unsigned char>(c)) != 0;
            if (!letters) continue;
            spec.sections.push_back({std::string(prefix), std::string(trim(h.substr(colon + 1)))});
            continue;
        }
        if (!line.starts_with("|")) continue;
        std::string_view rest = line.substr(1);
        const size_t bar = rest.find('|');
        if (bar == std::string_view::npos) continue;
        const std::string_view id = trim(rest.substr(0, bar));
        if (!is_id(id)) continue; // header and separator rows
        std::string_view body = rest.substr(bar + 1);
        if (body.ends_with("|")) body.remove_suffix(1);
        const std::string where = "line " + std::to_string(lineno) + ": ";
        if (spec.sections.empty())
            return std::unexpected(Problem{where + std::string(id) + " comes before any section"});
        if (spec.find(id))
            return std::unexpected(Problem{where + "duplicate ID " + std::string(id)});
        spec.behaviours.push_back(
            {std::string(id), spec.sections.back().prefix, std::string(trim(body))});
    }
    if (spec.behaviours.empty())
        return std::unexpected(Problem{"no behaviour rows (\"| ID | behaviour |\") found"});
    // Sections without rows are not report sections.
    std::erase_if(spec.sections, [&](const Section& s) {
        for (const auto& b : spec.behaviours)
            if (b.section == s.prefix) return false;
        return true;
    });
    return spec;
}

Expected<std::string> read_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return std::unexpected(Problem{path + ": is a directory, not a file"});
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::unexpected(Problem{path + ": cannot open: " + std::strerror(errno)});
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return std::unexpected(Problem{path + ": read error"});
    return ss.str();
}

Expected<Spec> load_spec(const std::string& path) {
    auto text = read_file(path);
    if (!text) return std::unexpected(text.error());
    auto spec = parse_spec(*text);
    if (!spec) return std::unexpected(Problem{path + ": " + spec.error().message});
    return spec;
}

} // namespace gmem::report
