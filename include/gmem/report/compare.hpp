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
    ChangeKind kind;
    std::string id;
    std::optional<Status> before, after;
    std::string before_detail, after_detail;
};

struct Comparison {
    Meta before, after;
    std::vector<Change> changes; // sorted: kind, then spec order
    unsigned unchanged = 0;
    bool pass_to_fail() const;
    bool any_regression() const; // pass_to_fail, new_failure, lost_pass, other_regression
};

Comparison compare(const Report& before, const Report& after);
std::string to_text(const Comparison& c);

} // namespace gmem::report
