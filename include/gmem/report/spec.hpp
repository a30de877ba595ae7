// The behaviour IDs of spec/BEHAVIORS.md as data: sections ("## CAP: capability
// probing") and rows ("| CAP-01 | text |"), in document order. The report has
// one row per ID found here.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::report {

// What the report library returns when an input cannot be used: a message for
// a person ("report.json: schema_version 7, this tool reads 1").
struct Problem {
    std::string message;
};
template <class T> using Expected = std::expected<T, Problem>;

struct Behaviour {
    std::string id;      // "CAP-01"
    std::string section; // "CAP"
    std::string text;    // the row's behaviour column, as written
};

struct Section {
    std::string prefix; // "CAP"
    std::string title;  // "capability probing"
};

struct Spec {
    std::vector<Section> sections;
    std::vector<Behaviour> behaviours;
    const Behaviour* find(std::string_view id) const;
};

// Rows are "| ID | behaviour |" where ID is LETTERS-DIGITS; a row belongs to the
// "## PREFIX: title" heading above it. No row, a duplicate ID, or a row before
// any heading is a Problem.
Expected<Spec> parse_spec(std::string_view markdown);
Expected<Spec> load_spec(const std::string& path);

// Reads a whole file; a Problem naming the path when it cannot.
Expected<std::string> read_file(const std::string& path);

} // namespace gmem::report
