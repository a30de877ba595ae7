// Two conformance reports side by side (two kernels, or the two ends of a
// bisect step): the IDs whose status changed, regressions first.
#pragma once

#include "gmem/report/report.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gmem::report {

// In the order the comparison lists them.
enum class ChangeKind {
    pass_to_fail,     // PASS -> FAIL: the exit code says so
    new_failure,      // anything else -> FAIL
    lost_pass,        // PASS -> XFAIL / observe / SKIP / NOT COVERED
    other_regression, // down the ladder PASS > observe > SKIP > XFAIL > NOT COVERED > FAIL
    improvement,      // up the ladder
    detail_changed,   // same status, other observations / reasons / failure
    added,            // ID only in the newer report (spec grew)
    removed,          // ID only in the older report
};
std::string_view to_string(ChangeKind k);

struct Change {
    ChangeKind kind = ChangeKind::detail_changed;
    std::string id;
    std::optional<Status> before, after;
    std::string before_detail, after_detail;
    std::string before_why, after_why; // brief_why of each side ("" when absent)
    // What each test said, one line per test ("prog: test: SKIP: reason"),
    // only on the side that said it (for --text-changes).
    std::vector<std::string> only_before, only_after;
};

struct Comparison {
    Meta before, after;
    std::vector<Change> changes; // sorted: kind, then spec order
    unsigned unchanged = 0;
    bool pass_to_fail() const;
    bool any_regression() const; // pass_to_fail, new_failure, lost_pass, other_regression
};

Comparison compare(const Report& before, const Report& after);

// How much to_text prints.
struct TextOptions {
    // false (brief, `gmem-report compare`'s default): one line per ID whose
    // status changed, "CAP-04     PASS -> FAIL    (prog: test: <message, 100 chars>)";
    // same-status rows are only counted. true (`--detail`): every change with
    // the row's whole detail and what it was before.
    bool detail = false;
    // Brief mode: also list the same-status rows whose tests said something
    // else (`--text-changes`), as "- was" / "+ now" lines per test.
    bool text_changes = false;
};
std::string to_text(const Comparison& c, const TextOptions& opt = {});

// The short "why" of a row for one line: the first failing (or XFAIL) test
// with its message, the first SKIP reason or observation, cut at max_chars,
// with "(+N more)" when there are more; "" for PASS and NOT COVERED. Rows
// read from a report without tests fall back to the row's detail.
std::string brief_why(const Row& row, std::size_t max_chars = 100);

// Cuts text at max_chars (on a UTF-8 character boundary) and adds "…".
std::string clip(std::string_view text, std::size_t max_chars);

} // namespace gmem::report
