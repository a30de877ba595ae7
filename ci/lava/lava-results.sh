#!/bin/sh
# LAVA results of a run of the installed corpus (ci/lava/gmem-selftests.yaml):
# one test case per program of OUT/kselftest.ktap (set "programs": pass,
# fail, skip), and, when the run wrote the conformance report, one per
# behaviour ID of OUT/report.md (set "behaviours": PASS and observe -> pass,
# FAIL -> fail, SKIP, XFAIL and NOT COVERED -> skip), whose text goes to the
# log. Outside LAVA (no lava-test-case) it prints what it would record.
# With GMEM_LAVA_CAPTURE=true (the definition's CAPTURE) it first prints the
# run's files into the log, framed as ci/vm/init frames them for its host
# ("@@GMEM FILE NAME", each line prefixed "|", "@@GMEM EOF NAME"):
# kselftest.ktap, ktap/<program>.ktap (its log when it wrote no KTAP),
# probe.json and dmesg.txt, so that the per-behaviour report can be rebuilt
# from the LAVA log alone (ci/lava/run-lava does, with ci/vm/lib.sh).
#   ci/lava/lava-results.sh OUT
out=${1:?usage: lava-results.sh OUTPUT_DIR}
[ -f "$out/kselftest.ktap" ] || { echo "lava-results.sh: no $out/kselftest.ktap" >&2; exit 2; }
if [ "${GMEM_LAVA_CAPTURE:-false}" = true ]; then
    send_file() { # name path
        echo "@@GMEM FILE $1"
        sed 's/^/|/' "$2"
        echo "@@GMEM EOF $1"
    }
    send_file kselftest.ktap "$out/kselftest.ktap"
    for log in "$out"/log/*.log; do
        [ -f "$log" ] || continue
        p=${log##*/}
        p=${p%.log}
        if [ -f "$out/ktap/$p.ktap" ]; then send_file "ktap/$p.ktap" "$out/ktap/$p.ktap"; else send_file "ktap/$p.ktap" "$log"; fi
    done
    [ -f "$out/probe.json" ] && send_file probe.json "$out/probe.json"
    dmesg >"$out/dmesg.txt" 2>&1 && send_file dmesg.txt "$out/dmesg.txt"
fi
if command -v lava-test-case >/dev/null 2>&1; then
    test_case() { lava-test-case "$1" --result "$2"; }
    test_set() { lava-test-set "$1" "$2"; }
else
    test_case() { echo "test case $1: $2"; }
    test_set() { echo "test set $2: $1"; }
fi

test_set start programs
# Only the runner's own result lines start with "ok"/"not ok": the programs'
# output is indented as "# " lines.
while IFS= read -r line; do
    case $line in
    "ok "*"# SKIP"*) r=skip ;;
    "ok "*) r=pass ;;
    "not ok "*) r=fail ;;
    *) continue ;;
    esac
    name=${line#*selftests: }
    name=${name%% #*}
    id=$(printf '%s' "$name" | sed 's/: /./; s/[^A-Za-z0-9_.-]/_/g')
    test_case "$id" "$r"
done <"$out/kselftest.ktap"
test_set stop programs

[ -f "$out/report.md" ] || exit 0
test_set start behaviours
awk -F'|' '/^\| [A-Z]+-[0-9][0-9] \|/ {
    id = $2; st = $3; gsub(/ /, "", id); gsub(/^ +| +$/, "", st); print id, st }' "$out/report.md" |
    while read -r id status rest; do
        case $status in
        PASS | observe) r=pass ;;
        FAIL) r=fail ;;
        *) r=skip ;;
        esac
        test_case "$id" "$r"
    done
test_set stop behaviours
cat "$out/report.md"
