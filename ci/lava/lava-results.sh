#!/bin/sh
# LAVA results of a run of the installed corpus (ci/lava/gmem-selftests.yaml):
# one test case per program of OUT/kselftest.ktap (set "programs": pass,
# fail, skip), and, when the run wrote the conformance report, one per
# behaviour ID of OUT/report.md (set "behaviours": PASS and observe -> pass,
# FAIL -> fail, SKIP, XFAIL and NOT COVERED -> skip), whose text goes to the
# log. Outside LAVA (no lava-test-case) it prints what it would record.
#   ci/lava/lava-results.sh OUT
out=${1:?usage: lava-results.sh OUTPUT_DIR}
[ -f "$out/kselftest.ktap" ] || { echo "lava-results.sh: no $out/kselftest.ktap" >&2; exit 2; }
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
