#include "gmem/util/ktap.hpp"

#include "gmem/util/text.hpp"

#include <charconv>

namespace gmem::ktap {
namespace {

bool parse_uint(std::string_view s, unsigned& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// "ok 3 name # SKIP reason" / "not ok 4 name"
bool parse_result(std::string_view line, TestResult& r, std::string& err) {
    if (line.starts_with("ok ")) {
        r.ok = true;
        line.remove_prefix(3);
    } else if (line.starts_with("not ok ")) {
        r.ok = false;
        line.remove_prefix(7);
    } else {
        return false;
    }
    const size_t sp = line.find(' ');
    if (!parse_uint(line.substr(0, sp), r.number)) {
        err = "result line without a test number";
        return true;
    }
    std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    const size_t hash = rest.find('#');
    r.name = std::string(trim(rest.substr(0, hash)));
    if (hash != std::string_view::npos) {
        std::string_view d = trim(rest.substr(hash + 1));
        const size_t dsp = d.find(' ');
        std::string_view word = d.substr(0, dsp);
        for (std::string_view known : {"SKIP", "TODO", "XFAIL", "XPASS", "TIMEOUT", "ERROR"}) {
            if (word == known) {
                r.directive = std::string(word);
                r.directive_text =
                    dsp == std::string_view::npos ? "" : std::string(trim(d.substr(dsp + 1)));
                return true;
            }
        }
        r.directive_text = std::string(d); // plain diagnostic data
    }
    return true;
}

} // namespace

Document parse(std::string_view text) {
    Document doc;
    std::vector<std::string> pending;
    std::string pending_ids;
    size_t lineno = 0;
    while (!text.empty()) {
        std::string_view line = util::next_line(text);
        ++lineno;
        const std::string where = "line " + std::to_string(lineno) + ": ";
        if (doc.version.empty()) {
            if (line == "KTAP version 1" || line == "TAP version 13") {
                doc.version = std::string(line);
            } else if (!trim(line).empty()) {
                doc.errors.push_back(where + "expected a version line, got '" +
                                     std::string(line) + "'");
                doc.version = "?";
            }
            continue;
        }
        if (line.starts_with("1..")) {
            unsigned n = 0;
            if (doc.plan) doc.errors.push_back(where + "second plan line");
            else if (!doc.tests.empty()) doc.errors.push_back(where + "plan after results");
            else if (!parse_uint(line.substr(3), n)) doc.errors.push_back(where + "bad plan");
            else doc.plan = n;
            continue;
        }
        if (line.starts_with("#")) {
            std::string_view d = line.substr(1);
            if (d.starts_with(" ")) d.remove_prefix(1);
            if (d.starts_with("ids: ")) pending_ids = std::string(d.substr(5));
            pending.emplace_back(d);
            continue;
        }
        TestResult r;
        std::string err;
        if (parse_result(line, r, err)) {
            if (!err.empty()) {
                doc.errors.push_back(where + err);
                continue;
            }
            const unsigned want = static_cast<unsigned>(doc.tests.size()) + 1;
            if (r.number != want)
                doc.errors.push_back(where + "test number " + std::to_string(r.number) +
                                     ", expected " + std::to_string(want));
            if (r.name.empty()) doc.errors.push_back(where + "result without a name");
            r.diagnostics = std::move(pending);
            r.ids = std::move(pending_ids);
            pending.clear();
            pending_ids.clear();
            doc.tests.push_back(std::move(r));
            continue;
        }
        // Unknown lines are allowed by KTAP (kernel messages, stray output).
    }
    if (doc.version.empty()) doc.errors.push_back("no version line");
    if (!doc.plan) doc.errors.push_back("no plan line");
    else if (*doc.plan != doc.tests.size())
        doc.errors.push_back("plan says " + std::to_string(*doc.plan) + " tests, " +
                             std::to_string(doc.tests.size()) + " results found");
    doc.trailing = std::move(pending);
    return doc;
}

} // namespace gmem::ktap
