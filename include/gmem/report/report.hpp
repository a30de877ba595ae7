// The conformance report: one row per behaviour ID of the spec, built from
// what every corpus program printed, with the kernel's feature probe above it.
// Written as JSON (for tools and for `gmem-report compare`), Markdown (for
// people) and a short terminal form.
//
// How the tests naming one ID combine into its row (first rule that applies):
//   1. any test failed (not ok, XPASS, TIMEOUT, crash, or never ran because
//      its program ended early / printed nothing)      -> FAIL
//   2. any test is a known failure (XFAIL)             -> XFAIL (does not fail the run)
//   3. any test passed without observing               -> PASS (observations of the
//      other tests and skipped tests are listed)
//   4. any test passed but only observed               -> observe
//   5. every test skipped                              -> SKIP (the distinct reasons)
//   no test names the ID                               -> NOT COVERED
#pragma once

#include "gmem/util/not_tested.hpp"

#include "gmem/report/inputs.hpp"
#include "gmem/report/spec.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gmem::report {

inline constexpr int schema_version = 1;
inline constexpr std::string_view schema_name = "gmem-conformance-report";

enum class Status { pass, fail, xfail, skip, observe, not_covered };
std::string_view to_string(Status s); // "PASS" "FAIL" "XFAIL" "SKIP" "observe" "NOT COVERED"
std::optional<Status> status_from(std::string_view s);

// One test's outcome. not_run: listed by the program's -l but no result and
// not running when its program ended; crash: ended by a signal, or the
// program ended while it ran.
enum class TestStatus { pass, fail, skip, xfail, xpass, timeout, crash, not_run };
std::string_view to_string(TestStatus s); // "pass" "fail" ... "not_run"
std::optional<TestStatus> test_status_from(std::string_view s);
bool is_failure(TestStatus s); // fail, xpass, timeout, crash, not_run

struct TestRecord {
    std::string program;
    std::string test;                      // fixture.variant.test
    TestStatus status = TestStatus::pass;
    bool observed = false;                 // printed "# observe:" lines
    std::string reason;                    // SKIP/XFAIL/XPASS/TIMEOUT text, or why it did not run
    std::vector<std::string> messages;     // diagnostics (failure lines first as printed)
    std::vector<std::string> observations; // the "# observe:" texts
    std::vector<std::string> ids;          // as declared (may include unknown IDs)
    std::string summary() const;           // one line: the failure, skip reason, ...
};

struct Row {
    std::string id;
    std::string section;
    std::string behaviour;
    Status status = Status::not_covered;
    std::string detail;                    // one line, see report.cpp
    std::vector<TestRecord> tests;         // every test naming the ID
};

struct ProgramRecord {
    std::string name;
    CtestStatus ctest = CtestStatus::unknown;
    std::string ctest_detail;
    std::string ktap;                      // "complete" "incomplete" "empty" "missing"
    unsigned results = 0;                  // result lines in its KTAP
    std::vector<std::string> problems;     // each one fails the run
    // What the report had to change to show it, e.g. its output was not
    // valid UTF-8 text (the bad bytes are shown as \xNN); fails nothing.
    std::vector<std::string> notes;
};

struct UnknownId {
    std::string id;
    std::string program;
    std::string test;
};

struct Meta {
    std::string kernel_release;            // from the probe when empty
    std::string date;                      // ISO 8601 UTC
    std::string corpus_version;            // git describe --always --dirty
    std::string probe_json;                // gmem-probe --json output; "" = none
    std::string probe_note;                // why there is no probe
    // Inputs of the run that could not be used and were left out (a probe or
    // JUnit file of the wrong shape), each naming the file: they fail the run.
    std::vector<std::string> input_problems;
    std::string ran_on;                    // where the programs ran ("this host", "QEMU VM ..."); "" = unknown
    bool in_vm = false;                    // ran_on is a VM the runner booted (ci/run-kernel)
};

struct SectionCounts {
    std::string prefix;
    std::string title;
    unsigned ids = 0, pass = 0, fail = 0, xfail = 0, skip = 0, observe = 0, not_covered = 0;
};

struct Report {
    Meta meta;
    std::vector<Section> sections;
    std::vector<Row> rows;                        // spec order
    std::vector<ProgramRecord> programs;          // by name
    std::vector<UnknownId> unknown_ids;
    std::vector<TestRecord> unattributed;         // tests that name no known ID and failed
    unsigned tests_without_ids = 0;
    std::vector<std::string> stray_ktap;          // KTAP of programs CTest did not run (ignored)

    std::vector<SectionCounts> counts() const;    // one per section, then "total"
    unsigned failed_rows() const;
    unsigned program_problems() const;
    // The run failed: no program ran, a FAIL row, a program problem, an
    // unknown ID, a failing test that names no ID or an input left out.
    bool failed() const;
    // Why the kernel's guest_memfd was not tested at all (TOOLS-06), read
    // from the probe: KVM could not be opened (no /dev/kvm, no permission, an
    // error), or it answers KVM_CAP_GUEST_MEMFD 0 on /dev/kvm and on every VM
    // type. "" when KVM was usable with guest_memfd, or there is no probe.
    std::string not_tested_reason() const;
    // Not failed, and not tested: the verdict NOT TESTED, exit code 4.
    bool not_tested() const { return !failed() && !not_tested_reason().empty(); }
};

// Text from the programs (KTAP, test lists, names, CTest's details) is data:
// bytes that are not UTF-8 are kept as "\xNN" and the program gets a note.
Report build_report(const Spec& spec, const std::vector<ProgramInput>& programs, Meta meta);

std::string to_json(const Report& r);
// A Problem names the field that does not fit the schema
// ("does not match the report schema: field \"behaviours[3].tests[0].result\": ...").
Expected<Report> report_from_json(std::string_view text);
std::string to_markdown(const Report& r);
// The short form: counts per section, every FAIL, every problem, every
// distinct SKIP reason, the NOT COVERED IDs, the verdict.
std::string to_terminal(const Report& r);

} // namespace gmem::report
