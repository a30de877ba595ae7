// JSON in and out for lib/report, bounded: nothing recursive (nlohmann's
// serializer, comparison, copy) ever runs on input nested deeper than
// max_json_depth, and output never throws on text that is not UTF-8.
// Internal to lib/report.
#pragma once

#include "gmem/report/spec.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace gmem::report::detail {

// Reports nest 5 levels, gmem-probe's output 4, CTest's JSON 5.
inline constexpr std::size_t max_json_depth = 64;

// The offset of the bracket that opens level max_depth + 1 (outside strings),
// or nullopt. A plain scan: no recursion, whatever the input.
inline std::optional<std::size_t> nesting_beyond(std::string_view text, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return std::nullopt;
}

// "not JSON" (the message callers and tests know), or nested too deep.
template <class Json = nlohmann::json> Expected<Json> parse_json(std::string_view text) {
    if (const auto at = nesting_beyond(text, max_json_depth))
        return std::unexpected(Problem{"JSON nested deeper than " + std::to_string(max_json_depth) +
                                       " levels (at byte " + std::to_string(*at) + ")"});
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::unexpected(Problem{"not JSON"});
    return j;
}

// dump() that writes U+FFFD for bytes that are not UTF-8 instead of throwing
// (the report's strings are made valid before; this is the last guard).
template <class Json> std::string dump(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

} // namespace gmem::report::detail
