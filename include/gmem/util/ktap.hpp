// A strict reader of the KTAP v1 that our harness (and kselftest) prints: the
// harness self-tests use it to prove the output parses, and the conformance
// report uses it to read every program's results.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::ktap {

struct TestResult {
    unsigned number = 0;
    bool ok = false;
    std::string name;
    std::string directive;        // "", "SKIP", "XFAIL", "XPASS", "TIMEOUT", "ERROR", "TODO"
    std::string directive_text;   // what follows the directive
    std::vector<std::string> diagnostics; // "# ..." lines since the previous result, without "# "
    std::string ids;              // from the harness's "# ids: ..." line, if any
};

struct Document {
    std::string version;          // "KTAP version 1" or "TAP version 13"
    std::optional<unsigned> plan; // from "1..N"
    std::vector<TestResult> tests;
    std::vector<std::string> trailing; // diagnostics after the last result (totals, ...)
    std::vector<std::string> errors;   // why the text is not valid KTAP; empty = valid
};

Document parse(std::string_view text);

} // namespace gmem::ktap
