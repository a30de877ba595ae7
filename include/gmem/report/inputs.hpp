// What a corpus run leaves behind, per program: CTest's verdict (JUnit), the
// KTAP the program wrote (GMEM_KTAP_DIR/<program>.ktap) and the list of its
// tests with their behaviour IDs (<program>.list, the program's `-l` output,
// saved before the run so that a program that crashes or prints nothing still
// names the IDs it would have covered).
#pragma once

#include "gmem/report/spec.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::report {

enum class CtestStatus { unknown, passed, failed, skipped, not_run };
std::string_view to_string(CtestStatus s); // "unknown", "passed", ...

struct CtestResult {
    std::string name;
    CtestStatus status = CtestStatus::unknown;
    std::string detail; // "SKIP_RETURN_CODE=4", "Unable to find executable", ...
};

struct ListedTest {
    std::string name;              // fixture.variant.test
    std::vector<std::string> ids;  // as declared
};

struct ProgramInput {
    std::string name;
    CtestResult ctest;                               // status unknown without JUnit
    std::optional<std::string> ktap;                 // file content; nullopt: no file
    std::optional<std::vector<ListedTest>> listing;  // nullopt: no <program>.list
    std::string listing_problem = {};                // why its <program>.list was not usable
    // A KTAP file of a program CTest did not run (with a JUnit file given):
    // typically a checker's child that inherited GMEM_KTAP_DIR. Not a result.
    bool stray = false;
};

// The <testcase> elements of CTest's JUnit file (--output-junit): name,
// status="run|fail|notrun|disabled" and the <skipped message=...>.
Expected<std::vector<CtestResult>> parse_junit(std::string_view xml);

// "name<TAB>ID ID ..." per line, as printed by a harness program's -l.
Expected<std::vector<ListedTest>> parse_listing(std::string_view text);

std::vector<std::string> split_ids(std::string_view ids);

// Every program named by the JUnit file (when given), a <program>.ktap or a
// <program>.list in ktap_dir, sorted by name. A <program>.list that is not a
// test list does not stop the others: the program gets listing_problem.
Expected<std::vector<ProgramInput>> read_results(const std::string& ktap_dir,
                                                 const std::optional<std::string>& junit_path);

// Everything `gmem-report build` reads: read_results() plus gmem-probe's JSON
// (check_probe). A JUnit or probe file that cannot be used is left out and
// named in left_out ("FILE: why"), so that the report of what the programs
// printed is still written; only an unusable ktap_dir is a Problem.
struct RunInputs {
    std::vector<ProgramInput> programs;
    std::string probe_json;             // checked, compact; "" = none
    std::vector<std::string> left_out;
};
Expected<RunInputs> read_run(const std::string& ktap_dir, std::optional<std::string> junit_path,
                             const std::optional<std::string>& probe_path);

// gmem-probe --json output, checked before the report uses it: JSON nested at
// most 64 levels, an object, and every field the report shows has the type
// gmem-probe writes (objects, true/false, arrays; text or numbers where shown
// as they are). Unknown fields are kept, missing ones shown as unknown.
// Returns the probe as compact JSON, or a Problem naming the field
// ("field \"kvm.usable\": expected true or false, got string").
Expected<std::string> check_probe(std::string_view text);

// Lists the tests of every program in CTest's `--show-only=json-v1` output by
// running `<program> -l` (bounded by timeout_s) and writes <name>.list into
// out_dir. Returns one line per program that could not be listed (the report
// then shows what is missing); a Problem when the JSON or out_dir is unusable.
Expected<std::vector<std::string>> write_listings(std::string_view ctest_json,
                                                  const std::string& out_dir,
                                                  unsigned timeout_s = 10);

} // namespace gmem::report
