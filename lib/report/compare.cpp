#include "gmem/report/compare.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace gmem::report {
namespace {

// Higher is better. XFAIL (a known wrong answer) ranks above NOT COVERED so
// that losing the test that documents a known bug counts as a regression.
int rank(Status s) {
    switch (s) {
    case Status::pass: return 5;
    case Status::observe: return 4;
    case Status::skip: return 3;
    case Status::xfail: return 2;
    case Status::not_covered: return 1;
    case Status::fail: return 0;
    }
    return 0;
}

// What one test said, for --text-changes: the same row on two kernels
// differs only where one of these does.
struct Said {
    std::string program, test, what;
    bool operator==(const Said&) const = default;
};

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

std::vector<Said> said_of(const Row& row) {
    std::vector<Said> out;
    auto add = [&](const TestRecord* t, std::string what) {
        Said s{t ? t->program : "", t ? t->test : "", one_line(std::move(what))};
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    };
    if (row.tests.empty()) {
        add(nullptr, row.detail); // a report without its tests
        return out;
    }
    for (const auto& t : row.tests) {
        if (is_failure(t.status)) add(&t, "FAIL: " + t.summary());
        else if (t.status == TestStatus::skip) add(&t, "SKIP: " + t.reason);
        else if (t.status == TestStatus::xfail) add(&t, "XFAIL: " + t.reason);
        else if (t.observations.empty()) add(&t, "pass");
        else
            for (const auto& o : t.observations) add(&t, "observed: " + o);
    }
    return out;
}

// a minus b, one line per (program, what): "prog: test (+N more): what".
std::vector<std::string> said_only(const std::vector<Said>& a, const std::vector<Said>& b) {
    struct Group {
        const Said* first;
        unsigned more;
    };
    std::vector<Group> groups;
    for (const auto& s : a) {
        if (std::find(b.begin(), b.end(), s) != b.end()) continue;
        auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) {
            return x.first->program == s.program && x.first->what == s.what;
        });
        if (g == groups.end()) groups.push_back({&s, 0});
        else ++g->more;
    }
    std::vector<std::string> out;
    for (const auto& g : groups) {
        if (g.first->test.empty()) {
            out.push_back(g.first->what);
            continue;
        }
        std::string who = g.first->program + ": " + g.first->test;
        if (g.more) who += " (+" + std::to_string(g.more) + " more)";
        out.push_back(who + ": " + g.first->what);
    }
    return out;
}

// "first (+N more what)"
std::string with_more(const std::string& first, std::size_t total, std::string_view what) {
    if (total <= 1) return first;
    return first + " (+" + std::to_string(total - 1) + " more " + std::string(what) + ")";
}

Change make_change(ChangeKind kind, const std::string& id, const Row* before, const Row* after) {
    Change ch;
    ch.kind = kind;
    ch.id = id;
    std::vector<Said> was, now;
    if (before) {
        ch.before = before->status;
        ch.before_detail = before->detail;
        ch.before_why = brief_why(*before);
        was = said_of(*before);
    }
    if (after) {
        ch.after = after->status;
        ch.after_detail = after->detail;
        ch.after_why = brief_why(*after);
        now = said_of(*after);
    }
    ch.only_before = said_only(was, now);
    ch.only_after = said_only(now, was);
    return ch;
}

std::string meta_line(const Meta& m) {
    return "kernel " + (m.kernel_release.empty() ? std::string("unknown") : m.kernel_release) +
           ", corpus " + (m.corpus_version.empty() ? std::string("unknown") : m.corpus_version) +
           (m.date.empty() ? "" : ", " + m.date);
}

} // namespace

std::string clip(std::string_view text, std::size_t max_chars) {
    if (text.size() <= max_chars) return std::string(text);
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut)) + "…";
}

std::string brief_why(const Row& row, std::size_t max_chars) {
    if (row.status == Status::pass || row.status == Status::not_covered) return "";
    std::vector<const TestRecord*> fails, xfails;
    std::vector<std::string> reasons, observations;
    for (const auto& t : row.tests) {
        if (is_failure(t.status)) fails.push_back(&t);
        else if (t.status == TestStatus::xfail) xfails.push_back(&t);
        else if (t.status == TestStatus::skip) {
            if (std::find(reasons.begin(), reasons.end(), t.reason) == reasons.end()) reasons.push_back(t.reason);
        } else {
            for (const auto& o : t.observations)
                if (std::find(observations.begin(), observations.end(), o) == observations.end())
                    observations.push_back(o);
        }
    }
    auto test_why = [&](const std::vector<const TestRecord*>& v, std::string_view what) {
        const TestRecord& t = *v.front();
        return with_more(t.program + ": " + t.test + ": " + clip(one_line(t.summary()), max_chars), v.size(), what);
    };
    switch (row.status) {
    case Status::fail:
        if (!fails.empty()) return test_why(fails, "failing");
        break;
    case Status::xfail:
        if (!xfails.empty()) return test_why(xfails, "known failures");
        break;
    case Status::skip:
        if (!reasons.empty()) return with_more(clip(one_line(reasons.front()), max_chars), reasons.size(), "reasons");
        break;
    case Status::observe:
        if (!observations.empty())
            return with_more("observed: " + clip(one_line(observations.front()), max_chars), observations.size(),
                             "observations");
        break;
    default: break;
    }
    return clip(one_line(row.detail), max_chars); // a report without its tests
}

std::string_view to_string(ChangeKind k) {
    switch (k) {
    case ChangeKind::pass_to_fail: return "PASS -> FAIL";
    case ChangeKind::new_failure: return "now FAIL";
    case ChangeKind::lost_pass: return "no longer PASS";
    case ChangeKind::other_regression: return "worse";
    case ChangeKind::improvement: return "better";
    case ChangeKind::detail_changed: return "same status, other detail";
    case ChangeKind::added: return "new ID";
    case ChangeKind::removed: return "ID gone";
    }
    return "?";
}

bool Comparison::pass_to_fail() const {
    return std::any_of(changes.begin(), changes.end(),
                       [](const Change& c) { return c.kind == ChangeKind::pass_to_fail; });
}

bool Comparison::any_regression() const {
    return std::any_of(changes.begin(), changes.end(), [](const Change& c) {
        return c.kind == ChangeKind::pass_to_fail || c.kind == ChangeKind::new_failure ||
               c.kind == ChangeKind::lost_pass || c.kind == ChangeKind::other_regression;
    });
}

Comparison compare(const Report& before, const Report& after) {
    Comparison c;
    c.before = before.meta;
    c.after = after.meta;
    std::map<std::string, const Row*> old_rows;
    for (const auto& r : before.rows) old_rows[r.id] = &r;
    std::vector<std::pair<size_t, Change>> order; // spec position, change
    size_t pos = 0;
    for (const auto& r : after.rows) {
        ++pos;
        const auto it = old_rows.find(r.id);
        if (it == old_rows.end()) {
            order.push_back({pos, make_change(ChangeKind::added, r.id, nullptr, &r)});
            continue;
        }
        const Row& o = *it->second;
        old_rows.erase(it);
        Change ch = make_change(ChangeKind::detail_changed, r.id, &o, &r);
        if (o.status == r.status) {
            if (o.detail == r.detail) {
                ++c.unchanged;
                continue;
            }
        } else if (o.status == Status::pass && r.status == Status::fail) {
            ch.kind = ChangeKind::pass_to_fail;
        } else if (r.status == Status::fail) {
            ch.kind = ChangeKind::new_failure;
        } else if (o.status == Status::pass) {
            ch.kind = ChangeKind::lost_pass;
        } else if (rank(r.status) < rank(o.status)) {
            ch.kind = ChangeKind::other_regression;
        } else {
            ch.kind = ChangeKind::improvement;
        }
        order.push_back({pos, std::move(ch)});
    }
    for (const auto& r : before.rows) // what is left is gone from the newer spec
        if (old_rows.count(r.id)) {
            order.push_back({++pos, make_change(ChangeKind::removed, r.id, &r, nullptr)});
        }
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        if (a.second.kind != b.second.kind) return a.second.kind < b.second.kind;
        return a.first < b.first;
    });
    for (auto& [p, ch] : order) c.changes.push_back(std::move(ch));
    return c;
}

namespace {

struct Group {
    const char* title;
    std::vector<ChangeKind> kinds;
};
const Group groups[] = {
    {"Regressions", {ChangeKind::pass_to_fail, ChangeKind::new_failure, ChangeKind::lost_pass,
                     ChangeKind::other_regression}},
    {"Improvements", {ChangeKind::improvement}},
    {"Same status, detail changed", {ChangeKind::detail_changed}},
    {"Spec changes", {ChangeKind::added, ChangeKind::removed}},
};

std::string status_of(const std::optional<Status>& s) {
    return s ? std::string(to_string(*s)) : std::string("(absent)");
}

std::vector<const Change*> of_group(const Comparison& c, const Group& g) {
    std::vector<const Change*> in;
    for (const auto& ch : c.changes)
        if (std::find(g.kinds.begin(), g.kinds.end(), ch.kind) != g.kinds.end()) in.push_back(&ch);
    return in;
}

// Today's full form: every change with the whole detail of both sides.
void detail_text(std::ostringstream& os, const Comparison& c) {
    for (const auto& g : groups) {
        const auto in = of_group(c, g);
        if (in.empty()) continue;
        os << "\n" << g.title << " (" << in.size() << "):\n";
        for (const auto* ch : in) {
            char head[96];
            const std::string arrow = status_of(ch->before) + " -> " + status_of(ch->after);
            std::snprintf(head, sizeof(head), "  %-10s %-24s", ch->id.c_str(), arrow.c_str());
            os << head << (ch->after ? ch->after_detail : ch->before_detail) << "\n";
            if (ch->before && ch->after) os << std::string(37, ' ') << "was: " << ch->before_detail << "\n";
        }
    }
    os << "\n" << c.unchanged << " ID(s) unchanged.\n";
}

// One line per status change; same-status rows counted (or, with
// text_changes, their differing lines).
void brief_text(std::ostringstream& os, const Comparison& c, bool text_changes) {
    constexpr std::size_t said_max = 200;
    unsigned same_status = 0;
    std::size_t id_width = 10; // over the lines shown
    for (const auto& ch : c.changes)
        if (text_changes || ch.kind != ChangeKind::detail_changed) id_width = std::max(id_width, ch.id.size());
    for (const auto& g : groups) {
        const auto in = of_group(c, g);
        const bool text = g.kinds.front() == ChangeKind::detail_changed;
        if (text) same_status = static_cast<unsigned>(in.size());
        if (in.empty() || (text && !text_changes)) continue;
        os << "\n" << (text ? "Same status, other text" : g.title) << " (" << in.size() << "):\n";
        std::size_t width = 0;
        for (const auto* ch : in)
            width = std::max(width, status_of(ch->before).size() + 4 + status_of(ch->after).size());
        for (const auto* ch : in) {
            os << "  " << ch->id << std::string(id_width - std::min(id_width, ch->id.size()) + 1, ' ');
            if (text) {
                os << status_of(ch->after) << "\n";
                const std::string indent(id_width + 3, ' ');
                for (const auto& l : ch->only_before) os << indent << "- " << clip(l, said_max) << "\n";
                for (const auto& l : ch->only_after) os << indent << "+ " << clip(l, said_max) << "\n";
                continue;
            }
            std::string arrow = status_of(ch->before) + " -> " + status_of(ch->after);
            const std::string& why = ch->after ? ch->after_why : ch->before_why;
            if (!why.empty()) arrow += std::string(width - arrow.size(), ' ') + "  (" + why + ")";
            os << arrow << "\n";
        }
    }
    os << "\n" << c.unchanged + same_status << " ID(s) kept their status";
    if (same_status && !text_changes)
        os << " (" << same_status << " with other text: --text-changes lists them)";
    else if (same_status)
        os << " (" << same_status << " with other text, listed above)";
    os << ".\n";
}

} // namespace

std::string to_text(const Comparison& c, const TextOptions& opt) {
    std::ostringstream os;
    os << "before: " << meta_line(c.before) << "\n";
    os << "after:  " << meta_line(c.after) << "\n";
    if (opt.detail) detail_text(os, c);
    else brief_text(os, c, opt.text_changes);
    unsigned p2f = 0;
    for (const auto& ch : c.changes) p2f += ch.kind == ChangeKind::pass_to_fail;
    if (p2f) os << p2f << " ID(s) went from PASS to FAIL.\n";
    else if (c.any_regression()) os << "No PASS -> FAIL; other regressions are listed above.\n";
    else os << "No regressions.\n";
    return os.str();
}

} // namespace gmem::report
