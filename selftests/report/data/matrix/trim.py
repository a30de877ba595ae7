#!/usr/bin/env python3
"""Cuts a real conformance report (gmem-report build / ci/run-kernel's
report.json) down to a few behaviour IDs for report_test's matrix and compare
checks: the rows keep their tests as recorded; the probe is dropped; counts and
the verdict are recomputed for the rows kept.

  trim.py REPORT.json OUT.json ID [ID...]
"""
import json
import sys


def main():
    src, out, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
    r = json.load(open(src))
    rows = [b for b in r["behaviours"] if b["id"] in ids]
    missing = set(ids) - {b["id"] for b in rows}
    if missing:
        sys.exit(f"{src}: no row for {' '.join(sorted(missing))}")
    r["behaviours"] = rows
    r["probe"] = None
    r["probe_note"] = "trimmed for report_test (selftests/report/data/matrix/trim.py)"
    kept = {b["section"] for b in rows}
    r["sections"] = [s for s in r["sections"] if s["prefix"] in kept]
    keys = ["PASS", "FAIL", "XFAIL", "SKIP", "observe", "NOT COVERED"]
    counts = []
    for s in r["sections"] + [{"prefix": "total", "title": ""}]:
        c = {"section": s["prefix"], "title": s["title"], "ids": 0}
        c.update({k: 0 for k in keys})
        for b in rows:
            if s["prefix"] in (b["section"], "total"):
                c["ids"] += 1
                c[b["status"]] += 1
        counts.append(c)
    r["counts"] = counts
    r["failed"] = (not r["programs"] or any(b["status"] == "FAIL" for b in rows)
                   or any(p["problems"] for p in r["programs"])
                   or bool(r["unknown_ids"]) or bool(r["unattributed_failures"]))
    with open(out, "w") as f:
        f.write(json.dumps(r, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
