// gmem-report: the conformance report of a corpus run, one row per behaviour
// ID of spec/BEHAVIORS.md, the comparison of two such reports and the matrix
// of many.
//   gmem-report build   --ktap-dir DIR [--junit F] [--probe F] ... -> report.json/.md + short form
//   gmem-report list    --ctest-json F --out DIR                  -> <program>.list per program
//   gmem-report compare OLD.json NEW.json [--strict] [--detail] [--text-changes]
//   gmem-report matrix  REPORT.json... [--names A,B,...] [--json F] [--markdown F] [--reasons] [--differing]
//   gmem-report show    REPORT.json [--markdown]
// See usage() for the exit codes.
#include "gmem/report/compare.hpp"
#include "gmem/report/inputs.hpp"
#include "gmem/report/matrix.hpp"
#include "gmem/report/report.hpp"
#include "gmem/util/locate.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#ifndef GMEM_SPEC_PATH
#define GMEM_SPEC_PATH "spec/BEHAVIORS.md"
#endif
#ifndef GMEM_CORPUS_VERSION
#define GMEM_CORPUS_VERSION "unknown"
#endif

namespace {

namespace rep = gmem::report;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_bad_input = 2;
constexpr int exit_not_tested = gmem::util::exit_not_tested; // the kernel was not tested (TOOLS-06)

const char* g_prog = "gmem-report";

void usage(FILE* out) {
    std::fprintf(out,
                 "Usage:\n"
                 "  %1$s build --ktap-dir DIR [--junit FILE] [--spec FILE] [--probe FILE]\n"
                 "        [--probe-note TEXT] [--corpus-version V] [--date ISO8601]\n"
                 "        [--ran-on TEXT] [--in-vm] [--json FILE] [--markdown FILE] [--quiet]\n"
                 "      Reads DIR/<program>.ktap (and <program>.list, the program's -l output),\n"
                 "      CTest's JUnit file and gmem-probe --json output; writes the report as\n"
                 "      JSON and Markdown and prints the short form. --ran-on says where the\n"
                 "      programs ran (shown in the header); --in-vm: in a VM a runner booted.\n"
                 "      Exit: 0 nothing failed, 1 a behaviour FAILs / a program crashed or\n"
                 "      printed nothing / a test names an unknown ID, 2 bad input, 4 NOT\n"
                 "      TESTED: nothing failed but KVM could not be used (no /dev/kvm, no\n"
                 "      permission, no guest_memfd at all), so the kernel was not tested.\n"
                 "      Program output that is not UTF-8 is kept as \\xNN and noted; a JUnit\n"
                 "      or probe file that cannot be used is left out of the report (still\n"
                 "      written, naming it) and the exit code is 2.\n"
                 "  %1$s list --ctest-json FILE --out DIR [--timeout SECONDS]\n"
                 "      For every test in `ctest --show-only=json-v1` output, runs the program\n"
                 "      with -l and writes DIR/<name>.list. Exit: 0 (programs that cannot be\n"
                 "      listed are named on stderr), 2 bad input.\n"
                 "  %1$s compare OLD.json NEW.json [--strict] [--detail] [--text-changes]\n"
                 "      Lists the IDs whose status changed, regressions first, one line each:\n"
                 "      the first failing test and its message (100 characters), or the SKIP\n"
                 "      reason. Same-status rows whose text changed are only counted;\n"
                 "      --text-changes lists what their tests said differently, --detail prints\n"
                 "      every change with the whole detail of both sides.\n"
                 "      Exit: 0 no ID went PASS -> FAIL, 1 at least one did (--strict: any\n"
                 "      regression), 2 bad input (missing file, not JSON, other schema).\n"
                 "  %1$s matrix REPORT.json... [--names A,B,...] [--json FILE] [--markdown FILE]\n"
                 "        [--reasons] [--differing]\n"
                 "      One row per behaviour ID, one column per report (titled with its kernel\n"
                 "      release or the --names entry; give the reports oldest first), the\n"
                 "      status in each cell, a \"first PASS\" column and a mark on the rows whose\n"
                 "      status differs. --reasons adds the SKIP reasons and FAIL messages as\n"
                 "      numbered notes, --differing shows only the differing rows (the JSON,\n"
                 "      schema gmem-conformance-matrix v1, always has every row).\n"
                 "      Exit: 0 (a view: it judges nothing), 2 bad input (missing file, not\n"
                 "      JSON, other schema, no report, duplicate names).\n"
                 "  %1$s show REPORT.json [--markdown]\n"
                 "      Prints the short form (or Markdown) of a saved report. Exit as build.\n",
                 g_prog);
}

int bad(const std::string& msg) {
    std::fprintf(stderr, "%s: %s\n", g_prog, msg.c_str());
    return exit_bad_input;
}

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    return static_cast<bool>(out);
}

// --name value options; flags are listed in `flags`. Returns false (message
// printed) on an unknown option, a missing value or a stray argument when
// positional is not wanted.
struct Args {
    std::map<std::string, std::string> opts;
    std::vector<std::string> positional;
};

bool parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                const std::vector<std::string>& flags, Args& out) {
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (!a.starts_with("--")) {
            out.positional.push_back(a);
            continue;
        }
        const std::string name = a.substr(2);
        if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
            out.opts[name] = "1";
        } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
            if (i + 1 >= argc) {
                bad("option " + a + " needs a value");
                return false;
            }
            out.opts[name] = argv[++i];
        } else {
            bad("unknown option " + a);
            return false;
        }
    }
    return true;
}

std::optional<std::string> opt(const Args& a, const std::string& name) {
    const auto it = a.opts.find(name);
    if (it == a.opts.end()) return std::nullopt;
    return it->second;
}

int verdict_exit(const rep::Report& r) {
    return r.failed() ? exit_failed : r.not_tested() ? exit_not_tested : exit_ok;
}

int cmd_build(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, 2,
                    {"ktap-dir", "junit", "spec", "probe", "probe-note", "corpus-version", "date",
                     "json", "markdown", "ran-on"},
                    {"quiet", "in-vm"}, a))
        return exit_bad_input;
    if (!a.positional.empty()) return bad("unexpected argument '" + a.positional.front() + "'");
    const auto dir = opt(a, "ktap-dir");
    if (!dir) return bad("build needs --ktap-dir DIR");
    // Default: the spec of an installed tree (bin/../spec), else the source tree's.
    auto spec = rep::load_spec(
        opt(a, "spec").value_or(gmem::util::helper_path("../spec/BEHAVIORS.md", GMEM_SPEC_PATH)));
    if (!spec) return bad("spec: " + spec.error().message);
    // A JUnit or probe file that cannot be used is left out: the report of
    // what the programs printed is still written, and the exit code is 2.
    auto run = rep::read_run(*dir, opt(a, "junit"), opt(a, "probe"));
    if (!run) return bad(run.error().message);
    const std::vector<std::string>& left_out = run->left_out;

    rep::Meta meta;
    meta.date = opt(a, "date").value_or(now_utc());
    meta.corpus_version = opt(a, "corpus-version").value_or(GMEM_CORPUS_VERSION);
    meta.probe_note = opt(a, "probe-note").value_or("");
    meta.ran_on = opt(a, "ran-on").value_or("");
    meta.in_vm = opt(a, "in-vm").has_value();
    meta.probe_json = run->probe_json;
    if (meta.probe_json.empty() && meta.probe_note.empty())
        meta.probe_note = opt(a, "probe") ? "the --probe file was left out" : "no --probe file given";
    meta.input_problems = left_out;
    const rep::Report report = rep::build_report(*spec, run->programs, meta);
    if (const auto p = opt(a, "json"); p && !write_file(*p, rep::to_json(report)))
        return bad(*p + ": cannot write");
    if (const auto p = opt(a, "markdown"); p && !write_file(*p, rep::to_markdown(report)))
        return bad(*p + ": cannot write");
    if (!opt(a, "quiet")) std::fputs(rep::to_terminal(report).c_str(), stdout);
    for (const auto& l : left_out) bad(l + " (left out of the report)");
    if (!left_out.empty()) return exit_bad_input;
    return verdict_exit(report);
}

int cmd_list(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, 2, {"ctest-json", "out", "timeout"}, {}, a)) return exit_bad_input;
    if (!a.positional.empty()) return bad("unexpected argument '" + a.positional.front() + "'");
    const auto json_path = opt(a, "ctest-json");
    const auto out = opt(a, "out");
    if (!json_path || !out) return bad("list needs --ctest-json FILE and --out DIR");
    unsigned timeout = 10;
    if (const auto t = opt(a, "timeout")) {
        try {
            size_t used = 0;
            const unsigned long v = std::stoul(*t, &used);
            if (used != t->size() || v == 0 || v > 3600) throw std::out_of_range("");
            timeout = static_cast<unsigned>(v);
        } catch (...) {
            return bad("--timeout wants 1..3600 seconds, got '" + *t + "'");
        }
    }
    auto text = rep::read_file(*json_path);
    if (!text) return bad(text.error().message);
    auto unlisted = rep::write_listings(*text, *out, timeout);
    if (!unlisted) return bad(*json_path + ": " + unlisted.error().message);
    for (const auto& u : *unlisted) std::fprintf(stderr, "%s: cannot list %s\n", g_prog, u.c_str());
    return exit_ok;
}

rep::Expected<rep::Report> load_report(const std::string& path) {
    auto text = rep::read_file(path);
    if (!text) return std::unexpected(text.error());
    auto r = rep::report_from_json(*text);
    if (!r) return std::unexpected(rep::Problem{path + ": " + r.error().message});
    return r;
}

int cmd_compare(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, 2, {}, {"strict", "detail", "text-changes"}, a)) return exit_bad_input;
    if (a.positional.size() != 2) return bad("compare needs OLD.json NEW.json");
    auto before = load_report(a.positional[0]);
    if (!before) return bad(before.error().message);
    auto after = load_report(a.positional[1]);
    if (!after) return bad(after.error().message);
    const rep::Comparison c = rep::compare(*before, *after);
    rep::TextOptions view;
    view.detail = opt(a, "detail").has_value();
    view.text_changes = opt(a, "text-changes").has_value();
    std::fputs(rep::to_text(c, view).c_str(), stdout);
    if (c.pass_to_fail()) return exit_failed;
    if (opt(a, "strict") && c.any_regression()) return exit_failed;
    return exit_ok;
}

std::vector<std::string> split_names(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

int cmd_matrix(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, 2, {"names", "json", "markdown"}, {"reasons", "differing"}, a))
        return exit_bad_input;
    if (a.positional.empty()) return bad("matrix needs at least one REPORT.json");
    std::vector<std::string> names(a.positional.size());
    if (const auto n = opt(a, "names")) {
        names = split_names(*n);
        if (names.size() != a.positional.size())
            return bad("--names gives " + std::to_string(names.size()) + " name(s) for " +
                       std::to_string(a.positional.size()) + " report(s)");
        for (const auto& name : names)
            if (name.empty()) return bad("--names has an empty name");
    }
    std::vector<rep::NamedReport> reports;
    for (size_t i = 0; i < a.positional.size(); ++i) {
        auto r = load_report(a.positional[i]);
        if (!r) return bad(r.error().message);
        reports.push_back({names[i], a.positional[i], std::move(*r)});
    }
    auto m = rep::build_matrix(reports);
    if (!m) return bad(m.error().message);
    rep::MatrixView view;
    view.reasons = opt(a, "reasons").has_value();
    view.differing_only = opt(a, "differing").has_value();
    if (const auto p = opt(a, "json"); p && !write_file(*p, rep::to_json(*m))) return bad(*p + ": cannot write");
    if (const auto p = opt(a, "markdown"); p && !write_file(*p, rep::to_markdown(*m, view)))
        return bad(*p + ": cannot write");
    std::fputs(rep::to_terminal(*m, view).c_str(), stdout);
    return exit_ok;
}

int cmd_show(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, 2, {}, {"markdown"}, a)) return exit_bad_input;
    if (a.positional.size() != 1) return bad("show needs REPORT.json");
    auto r = load_report(a.positional[0]);
    if (!r) return bad(r.error().message);
    std::fputs((opt(a, "markdown") ? rep::to_markdown(*r) : rep::to_terminal(*r)).c_str(), stdout);
    return verdict_exit(*r);
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 0 && argv[0]) {
        const char* slash = std::strrchr(argv[0], '/');
        g_prog = slash ? slash + 1 : argv[0];
    }
    if (argc < 2) {
        usage(stderr);
        return exit_bad_input;
    }
    const std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        usage(stdout);
        return exit_ok;
    }
    try {
        if (cmd == "build") return cmd_build(argc, argv);
        if (cmd == "list") return cmd_list(argc, argv);
        if (cmd == "compare") return cmd_compare(argc, argv);
        if (cmd == "show") return cmd_show(argc, argv);
        if (cmd == "matrix") return cmd_matrix(argc, argv);
    } catch (const std::exception& e) {
        // Not reached on any input (the parsers are fuzzed: ci/fuzz); kept
        // so that a bug still ends with a message and exit 2.
        return bad(std::string("internal error: ") + e.what());
    }
    bad("unknown command '" + cmd + "'");
    usage(stderr);
    return exit_bad_input;
}
