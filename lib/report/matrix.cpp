// Many kernels' conformance reports side by side (see matrix.hpp).
#include "json_io.hpp"
#include "markdown.hpp"
#include "gmem/report/matrix.hpp"

#include "gmem/report/compare.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gmem::report {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::size_t message_max = 100; // characters of a FAIL / XFAIL message in a note
constexpr std::size_t reason_max = 200;  // characters of a SKIP reason in a note

using detail::md_cell;

// Code points, for lining up columns that hold UTF-8.
std::size_t width(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

std::string padded(const std::string& s, std::size_t w) {
    const std::size_t have = width(s);
    return have >= w ? s : s + std::string(w - have, ' ');
}

// What a cell's notes say: one per distinct SKIP reason; the first failing /
// XFAIL test with its message.
std::vector<std::string> note_texts(const Row& row) {
    std::vector<std::string> out;
    switch (row.status) {
    case Status::skip:
        for (const auto& t : row.tests) {
            if (t.status != TestStatus::skip) continue;
            std::string r = clip(t.reason, reason_max);
            if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(std::move(r));
        }
        if (out.empty() && !row.detail.empty()) out.push_back(clip(row.detail, reason_max));
        break;
    case Status::fail:
    case Status::xfail:
        if (auto why = brief_why(row, message_max); !why.empty()) out.push_back(std::move(why));
        break;
    default: break;
    }
    return out;
}

// Merges `ids` (one report's order) into `order`: an ID the earlier reports
// lack goes right after the ID it follows here.
template <class T, class Key>
void merge_in(std::vector<T>& order, const std::vector<T>& more, Key key) {
    std::size_t at = 0;
    for (const auto& x : more) {
        const auto it = std::find_if(order.begin(), order.end(), [&](const T& o) { return key(o) == key(x); });
        if (it != order.end()) {
            at = static_cast<std::size_t>(it - order.begin()) + 1;
            continue;
        }
        order.insert(order.begin() + static_cast<std::ptrdiff_t>(at), x);
        ++at;
    }
}

std::string status_text(const std::optional<Status>& s, bool markdown) {
    if (!s) return markdown ? "—" : "-";
    return std::string(to_string(*s));
}

// The rows a view shows and the notes they use, renumbered 1.. in order of
// first use.
struct Shown {
    std::vector<const MatrixRow*> rows;
    std::map<unsigned, unsigned> number; // matrix note -> shown number
    std::vector<unsigned> order;         // matrix notes in shown order
};

Shown shown(const Matrix& m, const MatrixView& view) {
    Shown s;
    for (const auto& r : m.rows) {
        if (view.differing_only && !r.differs) continue;
        s.rows.push_back(&r);
        if (!view.reasons) continue;
        for (const auto& c : r.cells)
            for (unsigned n : c.notes)
                if (s.number.emplace(n, static_cast<unsigned>(s.order.size() + 1)).second) s.order.push_back(n);
    }
    return s;
}

std::string cell_text(const MatrixCell& c, const Shown& s, bool reasons, bool markdown) {
    std::string out = status_text(c.status, markdown);
    if (reasons && !c.notes.empty()) {
        std::vector<unsigned> refs;
        for (unsigned n : c.notes) refs.push_back(s.number.at(n));
        std::sort(refs.begin(), refs.end());
        out += " [";
        for (std::size_t i = 0; i < refs.size(); ++i) out += (i ? "," : "") + std::to_string(refs[i]);
        out += "]";
    }
    return out;
}

std::string first_pass_text(const Matrix& m, const MatrixRow& r, bool markdown) {
    if (!r.first_pass) return markdown ? "—" : "-";
    return m.columns[*r.first_pass].name;
}

std::string counts_line(const SectionCounts& c) {
    return std::to_string(c.pass) + " PASS, " + std::to_string(c.fail) + " FAIL, " + std::to_string(c.xfail) +
           " XFAIL, " + std::to_string(c.skip) + " SKIP, " + std::to_string(c.observe) + " observe, " +
           std::to_string(c.not_covered) + " NOT COVERED";
}

std::string or_unknown(const std::string& s) { return s.empty() ? "unknown" : s; }

} // namespace

unsigned Matrix::differing() const {
    return static_cast<unsigned>(std::count_if(rows.begin(), rows.end(), [](const MatrixRow& r) { return r.differs; }));
}

Expected<Matrix> build_matrix(const std::vector<NamedReport>& reports) {
    if (reports.empty()) return std::unexpected(Problem{"no report given"});
    Matrix m;
    for (const auto& in : reports) {
        MatrixColumn col;
        col.name = !in.name.empty() ? in.name
                   : !in.report.meta.kernel_release.empty() ? in.report.meta.kernel_release
                                                            : in.source;
        if (col.name.empty()) return std::unexpected(Problem{"a column has no name"});
        for (const auto& other : m.columns)
            if (other.name == col.name)
                return std::unexpected(Problem{"two columns are named '" + col.name + "' (" + other.source + " and " +
                                               in.source + "): give distinct --names"});
        col.source = in.source;
        col.meta = in.report.meta;
        col.meta.probe_json.clear();
        col.total = in.report.counts().back();
        col.failed = in.report.failed();
        m.columns.push_back(std::move(col));
        merge_in(m.sections, in.report.sections, [](const Section& s) { return s.prefix; });
    }

    // Every ID of any report, in spec order; behaviour text from the newest.
    std::vector<std::string> ids;
    for (const auto& in : reports) {
        std::vector<std::string> mine;
        for (const auto& r : in.report.rows) mine.push_back(r.id);
        merge_in(ids, mine, [](const std::string& s) { return s; });
    }
    std::map<std::string, std::size_t> row_of;
    for (const auto& id : ids) {
        row_of[id] = m.rows.size();
        MatrixRow r;
        r.id = id;
        r.cells.resize(reports.size());
        m.rows.push_back(std::move(r));
    }
    std::map<std::string, unsigned> note_of;
    for (std::size_t k = 0; k < reports.size(); ++k) {
        for (const auto& row : reports[k].report.rows) {
            MatrixRow& r = m.rows[row_of.at(row.id)];
            r.section = row.section;
            r.behaviour = row.behaviour;
            MatrixCell& c = r.cells[k];
            c.status = row.status;
            for (auto& text : note_texts(row)) {
                auto [it, added] = note_of.emplace(text, static_cast<unsigned>(m.notes.size() + 1));
                if (added) m.notes.push_back(text);
                c.notes.push_back(it->second);
            }
        }
    }
    for (auto& r : m.rows) {
        if (std::none_of(m.sections.begin(), m.sections.end(), [&](const Section& x) { return x.prefix == r.section; }))
            m.sections.push_back({r.section, ""}); // a report whose sections list lacks it
        for (std::size_t k = 0; k < r.cells.size(); ++k) {
            if (r.cells[k].status != r.cells.front().status) r.differs = true;
            if (!r.first_pass && r.cells[k].status == Status::pass) r.first_pass = k;
        }
    }
    return m;
}

std::string to_json(const Matrix& m) {
    ojson j;
    j["schema"] = matrix_schema_name;
    j["schema_version"] = matrix_schema_version;
    ojson kernels = ojson::array();
    for (const auto& c : m.columns)
        kernels.push_back({{"name", c.name},
                           {"source", c.source},
                           {"kernel_release", c.meta.kernel_release},
                           {"corpus_version", c.meta.corpus_version},
                           {"date", c.meta.date},
                           {"failed", c.failed},
                           {"counts",
                            {{"ids", c.total.ids},
                             {"PASS", c.total.pass},
                             {"FAIL", c.total.fail},
                             {"XFAIL", c.total.xfail},
                             {"SKIP", c.total.skip},
                             {"observe", c.total.observe},
                             {"NOT COVERED", c.total.not_covered}}}});
    j["kernels"] = kernels;
    ojson sections = ojson::array();
    for (const auto& s : m.sections) sections.push_back({{"prefix", s.prefix}, {"title", s.title}});
    j["sections"] = sections;
    ojson notes = ojson::array();
    for (std::size_t i = 0; i < m.notes.size(); ++i) notes.push_back({{"n", i + 1}, {"text", m.notes[i]}});
    j["notes"] = notes;
    j["differing"] = m.differing();
    ojson rows = ojson::array();
    for (const auto& r : m.rows) {
        ojson cells = ojson::array();
        for (const auto& c : r.cells)
            cells.push_back({{"status", c.status ? ojson(std::string(to_string(*c.status))) : ojson(nullptr)},
                             {"notes", c.notes}});
        rows.push_back({{"id", r.id},
                        {"section", r.section},
                        {"behaviour", r.behaviour},
                        {"differs", r.differs},
                        {"first_pass", r.first_pass ? ojson(m.columns[*r.first_pass].name) : ojson(nullptr)},
                        {"cells", cells}});
    }
    j["behaviours"] = rows;
    return detail::dump(j, 2) + "\n";
}

std::string to_markdown(const Matrix& m, const MatrixView& view) {
    const Shown s = shown(m, view);
    std::ostringstream md;
    md << "# guest_memfd conformance matrix\n\n";
    md << "| kernel | release | corpus | date | PASS | FAIL | XFAIL | SKIP | observe | NOT COVERED |\n"
          "|---|---|---|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& c : m.columns)
        md << "| " << md_cell(c.name) << " | " << md_cell(or_unknown(c.meta.kernel_release)) << " | "
           << md_cell(or_unknown(c.meta.corpus_version)) << " | " << md_cell(c.meta.date) << " | " << c.total.pass
           << " | " << c.total.fail << " | " << c.total.xfail << " | " << c.total.skip << " | " << c.total.observe
           << " | " << c.total.not_covered << " |\n";
    md << "\n" << m.differing() << " of " << m.rows.size()
       << " IDs have a status that differs between the kernels (marked ≠)"
       << (view.differing_only ? "; only those are shown" : "")
       << ". \"first PASS\": the first kernel, in the order given, where the ID PASSes; — : none (or the "
          "ID is not in that report).\n";
    for (const auto& sec : m.sections) {
        std::vector<const MatrixRow*> rows;
        for (const auto* r : s.rows)
            if (r->section == sec.prefix) rows.push_back(r);
        if (rows.empty()) continue;
        md << "\n## " << md_cell(sec.prefix) << ": " << md_cell(sec.title) << "\n\n| ID | ≠ |";
        for (const auto& c : m.columns) md << " " << md_cell(c.name) << " |";
        md << " first PASS |\n|---|---|";
        for (std::size_t i = 0; i < m.columns.size(); ++i) md << "---|";
        md << "---|\n";
        for (const auto* r : rows) {
            md << "| " << r->id << " | " << (r->differs ? "≠" : "") << " |";
            for (const auto& c : r->cells) {
                const std::string t = cell_text(c, s, view.reasons, true);
                md << " " << (c.status == Status::fail ? "**" + t + "**" : md_cell(t)) << " |";
            }
            md << " " << md_cell(first_pass_text(m, *r, true)) << " |\n";
        }
    }
    if (view.reasons && !s.order.empty()) {
        md << "\n## Reasons\n\nSKIP reasons; FAIL and XFAIL: the first such test and its message (cut at "
           << message_max << " characters).\n\n";
        for (std::size_t i = 0; i < s.order.size(); ++i)
            md << "- [" << i + 1 << "] " << md_cell(m.notes[s.order[i] - 1]) << "\n";
    }
    return md.str();
}

std::string to_terminal(const Matrix& m, const MatrixView& view) {
    const Shown s = shown(m, view);
    std::ostringstream os;
    os << "guest_memfd conformance matrix: " << m.columns.size() << " kernel(s)\n";
    std::size_t name_w = 0;
    for (const auto& c : m.columns) name_w = std::max(name_w, width(c.name));
    for (const auto& c : m.columns)
        os << "  " << padded(c.name, name_w) << "  corpus " << or_unknown(c.meta.corpus_version) << ", "
           << or_unknown(c.meta.date) << ": " << counts_line(c.total) << "\n";
    os << "\n" << m.differing() << " of " << m.rows.size() << " IDs differ between the kernels (marked ≠"
       << (view.differing_only ? "; only those shown" : "; --differing shows only those") << ").\n";

    // Column widths over what is shown.
    std::size_t id_w = 2, first_w = 10;
    std::vector<std::size_t> col_w;
    for (const auto& c : m.columns) col_w.push_back(width(c.name));
    for (const auto* r : s.rows) {
        id_w = std::max(id_w, width(r->id));
        first_w = std::max(first_w, width(first_pass_text(m, *r, false)));
        for (std::size_t k = 0; k < r->cells.size(); ++k)
            col_w[k] = std::max(col_w[k], width(cell_text(r->cells[k], s, view.reasons, false)));
    }
    if (s.rows.empty()) return os.str();
    auto line = [&](const std::string& mark, const std::string& id, const std::vector<std::string>& cells,
                    const std::string& first) {
        std::string l = mark + " " + padded(id, id_w);
        for (std::size_t k = 0; k < cells.size(); ++k) l += "  " + padded(cells[k], col_w[k]);
        l += "  " + first;
        while (!l.empty() && l.back() == ' ') l.pop_back();
        os << l << "\n";
    };
    std::vector<std::string> titles;
    for (const auto& c : m.columns) titles.push_back(c.name);
    os << "\n";
    line(" ", "ID", titles, "first PASS");
    for (const auto& sec : m.sections) {
        bool header = false;
        for (const auto* r : s.rows) {
            if (r->section != sec.prefix) continue;
            if (!header) os << sec.prefix << ": " << sec.title << "\n";
            header = true;
            std::vector<std::string> cells;
            for (const auto& c : r->cells) cells.push_back(cell_text(c, s, view.reasons, false));
            line(r->differs ? "≠" : " ", r->id, cells, first_pass_text(m, *r, false));
        }
    }
    if (view.reasons && !s.order.empty()) {
        os << "\nReasons:\n";
        for (std::size_t i = 0; i < s.order.size(); ++i)
            os << "  [" << i + 1 << "] " << m.notes[s.order[i] - 1] << "\n";
    }
    return os.str();
}

} // namespace gmem::report
