#include "gmem/report/compare.hpp"

#include <algorithm>
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

std::string meta_line(const Meta& m) {
    return "kernel " + (m.kernel_release.empty() ? std::string("unknown") : m.kernel_release) +
           ", corpus " + (m.corpus_version.empty() ? std::string("unknown") : m.corpus_version) +
           (m.date.empty() ? "" : ", " + m.date);
}

} // namespace

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
            order.push_back({pos, {ChangeKind::added, r.id, std::nullopt, r.status, "", r.detail}});
            continue;
        }
        const Row& o = *it->second;
        old_rows.erase(it);
        Change ch{ChangeKind::detail_changed, r.id, o.status, r.status, o.detail, r.detail};
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
        order.push_back({pos, ch});
    }
    for (const auto& r : before.rows) // what is left is gone from the newer spec
        if (old_rows.count(r.id))
            order.push_back({++pos, {ChangeKind::removed, r.id, r.status, std::nullopt, r.detail, ""}});
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        if (a.second.kind != b.second.kind) return a.second.kind < b.second.kind;
        return a.first < b.first;
    });
    for (auto& [p, ch] : order) c.changes.push_back(std::move(ch));
    return c;
}

std::string to_text(const Comparison& c) {
    std::ostringstream os;
    os << "before: " << meta_line(c.before) << "\n";
    os << "after:  " << meta_line(c.after) << "\n";
    auto status = [](const std::optional<Status>& s) {
        return s ? std::string(to_string(*s)) : std::string("(absent)");
    };
    const struct {
        const char* title;
        std::vector<ChangeKind> kinds;
    } groups[] = {
        {"Regressions", {ChangeKind::pass_to_fail, ChangeKind::new_failure, ChangeKind::lost_pass,
                         ChangeKind::other_regression}},
        {"Improvements", {ChangeKind::improvement}},
        {"Same status, detail changed", {ChangeKind::detail_changed}},
        {"Spec changes", {ChangeKind::added, ChangeKind::removed}},
    };
    for (const auto& g : groups) {
        std::vector<const Change*> in;
        for (const auto& ch : c.changes)
            if (std::find(g.kinds.begin(), g.kinds.end(), ch.kind) != g.kinds.end()) in.push_back(&ch);
        if (in.empty()) continue;
        os << "\n" << g.title << " (" << in.size() << "):\n";
        for (const auto* ch : in) {
            char head[96];
            const std::string arrow = status(ch->before) + " -> " + status(ch->after);
            std::snprintf(head, sizeof(head), "  %-10s %-24s", ch->id.c_str(), arrow.c_str());
            os << head << (ch->after ? ch->after_detail : ch->before_detail) << "\n";
            if (ch->before && ch->after) os << std::string(37, ' ') << "was: " << ch->before_detail << "\n";
        }
    }
    os << "\n" << c.unchanged << " ID(s) unchanged.\n";
    unsigned p2f = 0;
    for (const auto& ch : c.changes) p2f += ch.kind == ChangeKind::pass_to_fail;
    if (p2f) os << p2f << " ID(s) went from PASS to FAIL.\n";
    else if (c.any_regression()) os << "No PASS -> FAIL; other regressions are listed above.\n";
    else os << "No regressions.\n";
    return os.str();
}

} // namespace gmem::report
