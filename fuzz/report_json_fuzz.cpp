// Fuzz target: reading saved reports (report_from_json) and everything that
// runs on them: `gmem-report show` (terminal and Markdown), `compare` (every
// pair, every view) and `matrix` (JSON, Markdown, terminal, every view). The
// input is up to four reports cut at NUL bytes. Properties: nothing throws, a
// report that reads writes back to the same JSON, the matrix JSON parses.
#include "fuzz_check.hpp"

#include "gmem/report/compare.hpp"
#include "gmem/report/matrix.hpp"
#include "gmem/report/report.hpp"

#include <nlohmann/json.hpp>

namespace rep = gmem::report;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<rep::NamedReport> reports;
    std::size_t k = 0;
    for (const auto& text : gmem::fuzz::parts(data, size, 4)) {
        auto r = rep::report_from_json(text);
        ++k;
        if (!r) continue;
        const std::string json = rep::to_json(*r);
        auto back = rep::report_from_json(json);
        FUZZ_CHECK(back.has_value(), "a report that was read writes readable JSON: %s", back.error().message.c_str());
        FUZZ_CHECK(rep::to_json(*back) == json, "and reads back unchanged");
        (void)rep::to_terminal(*r);
        (void)rep::to_markdown(*r);
        reports.push_back({"", "r" + std::to_string(k), std::move(*r)});
    }
    for (const auto& a : reports)
        for (const auto& b : reports) {
            const auto c = rep::compare(a.report, b.report);
            for (bool detail : {false, true})
                for (bool text_changes : {false, true}) (void)rep::to_text(c, {detail, text_changes});
        }
    if (reports.empty()) return 0;
    auto m = rep::build_matrix(reports);
    if (!m) {
        // Only duplicate column names refuse a matrix: name the columns.
        for (std::size_t i = 0; i < reports.size(); ++i) reports[i].name = "k" + std::to_string(i);
        m = rep::build_matrix(reports);
        FUZZ_CHECK(m.has_value(), "distinct names make a matrix: %s", m.error().message.c_str());
    }
    const std::string mj = rep::to_json(*m);
    FUZZ_CHECK(!nlohmann::json::parse(mj, nullptr, false).is_discarded(), "the matrix JSON parses");
    for (bool reasons : {false, true})
        for (bool differing : {false, true}) {
            (void)rep::to_markdown(*m, {reasons, differing});
            (void)rep::to_terminal(*m, {reasons, differing});
        }
    return 0;
}
