#!/bin/sh
# Runs the installed guest_memfd conformance corpus, the kselftest way.
#
# This script sits at the top of a tree made by `cmake --install` (or unpacked
# from the cpack tarball; cmake/GmemInstall.cmake) and follows the kernel's
# tools/testing/selftests/run_kselftest.sh and kselftest/runner.sh:
#   kselftest-list.txt      collection:program, one a line
#   <collection>/settings   timeout=N (here also timeout_<program>=N and
#                           args_<program>=..., read before timeout=)
# It needs no CMake, CTest, build or source tree: a POSIX sh (busybox sh
# does), awk, tee, date and, to bound each program, timeout.
#
# Output: one KTAP stream on stdout (also OUT/kselftest.ktap): "TAP version
# 13", "1..N", per program "# timeout set to T", "# selftests: C: P", the
# program's own KTAP as "# " lines, then "ok N selftests: C: P" (# SKIP) or
# "not ok N selftests: C: P # exit=R" / "# TIMEOUT T seconds"; last, the
# totals. In OUT: ktap/<program>.ktap (each program's KTAP, GMEM_KTAP_DIR),
# log/<program>.log (its stdout and stderr), probe.txt and probe.json
# (bin/gmem-probe), and, when every corpus program ran (kselftest-labels.txt,
# label corpus), the per-behaviour report.md and report.json (bin/gmem-report,
# as ci/conformance writes them).
#
# Exit: 0 nothing failed (skips allowed), 1 a program failed or the report
# has a failing behaviour, 4 every program skipped or the report says NOT
# TESTED (KVM could not be used: TOOLS-06), 2 bad command line.
# (kselftest's own runner exits 0 or 1; 4 is kselftest's KSFT_SKIP.)

set -f # names and arguments are words, never file patterns
BASE_DIR=$(cd "$(dirname "$0")" && pwd -P) || exit 2
LIST=$BASE_DIR/kselftest-list.txt
LABELS=$BASE_DIR/kselftest-labels.txt
me=${0##*/}
nl='
'

usage() {
    cat <<EOF
Usage: $me [options] [-- program arguments...]

Runs the programs of kselftest-list.txt (all, or a selection) and prints one
KTAP stream; results and the conformance report go to the output directory.

  -l, --list               list the selected collection:program entries
  -c, --collection C       run every program of collection C (repeatable)
  -t, --test C:P           run program P of collection C (repeatable)
  -L, --label LABEL        run the programs with this label (repeatable;
                           kselftest-labels.txt: corpus, kvm, nokvm, ...)
  -S, --skip C:P           do not run C:P (repeatable)
  -o, --output DIR         results directory (default: a new
                           \${TMPDIR:-/tmp}/gmem-selftests.XXXXXX). A number
                           is taken as kselftest's -o (--override-timeout)
  --override-timeout N     every program's timeout is N seconds
  --timeout-scale N        multiply each program's timeout by N (emulators)
  --no-report              no conformance report even after a whole run
  --no-probe               do not run bin/gmem-probe (no probe.txt/json;
                           the report then says so)
  -d, --dry-run            print what would run, run nothing
  -f, --no-error-on-fail   exit 0 even if a program failed
  -h, --help               this text
  -- ARGS                  arguments for every program (e.g. -r TEST)

Per program, KSELFTEST_<PROGRAM>_ARGS (upper case) gives its arguments, as
with kselftest. GMEM_RUN_HOOK, if set, is run as
  \$GMEM_RUN_HOOK start COLLECTION PROGRAM TIMEOUT
  \$GMEM_RUN_HOOK end COLLECTION PROGRAM EXIT_CODE SECONDS [timeout]
around each program (ci/vm/init uses it to report progress to its host).

Exit: 0 nothing failed (skips allowed), 1 a program failed, 4 every program
skipped or the report says NOT TESTED (KVM could not be used), 2 bad command
line.
EOF
}

bad() {
    echo "$me: $*" >&2
    echo "(see $me --help)" >&2
    exit 2
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) [ "$1" -gt 0 ] ;; esac; }

[ -r "$LIST" ] || { echo "$me: no list of programs: $LIST" >&2; exit 2; }

tests="" colls="" labels="" skips="" out="" override="" scale=1
list=0 dry=0 error_on_fail=1 report=1 probe=1 compat_note=""
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    -l | --list) list=1 ;;
    -d | --dry-run) dry=1 ;;
    -f | --no-error-on-fail) error_on_fail=0 ;;
    --no-report) report=0 ;;
    --no-probe) probe=0 ;;
    -t | --test | -c | --collection | -L | --label | -S | --skip | -o | --output | \
        --override-timeout | --timeout-scale)
        [ $# -ge 2 ] && [ -n "$2" ] || bad "option $1 needs a value"
        case $1 in
        -t | --test) tests="$tests$2$nl" ;;
        -c | --collection) colls="$colls$2$nl" ;;
        -L | --label) labels="$labels$2$nl" ;;
        -S | --skip) skips="$skips$2$nl" ;;
        -o | --output)
            if is_uint "$2"; then
                override=$2
                compat_note="-o $2 taken as kselftest's --override-timeout (a directory named by digits: -o ./$2)"
            else
                out=$2
            fi
            ;;
        --override-timeout) is_uint "$2" || bad "--override-timeout needs seconds (got '$2')"; override=$2 ;;
        --timeout-scale) is_uint "$2" || bad "--timeout-scale needs a positive integer (got '$2')"; scale=$2 ;;
        esac
        shift
        ;;
    --) shift; break ;;
    *) bad "unknown option '$1'" ;;
    esac
    shift
done
# "$@" now holds the arguments for every program.

# ---- the selection, in the order of kselftest-list.txt
available=$(grep -v '^#' "$LIST" | grep .)
want=""
if [ -n "$colls$tests$labels" ]; then
    for c in $colls; do
        found=""
        for e in $available; do
            case $e in "$c":*) found="$found$e$nl" ;; esac
        done
        [ -n "$found" ] || bad "no such collection '$c' (-l lists collection:program)"
        want="$want$found"
    done
    for t in $tests; do
        case "$nl$available$nl" in *"$nl$t$nl"*) want="$want$t$nl" ;; *) bad "no such test '$t' (-l lists collection:program)" ;; esac
    done
    for l in $labels; do
        found=$(awk -v l="$l" '{ for (i = 2; i <= NF; i++) if ($i == l) { print $1; break } }' "$LABELS" 2>/dev/null)
        [ -n "$found" ] || bad "no program has label '$l' ($LABELS)"
        want="$want$found$nl"
    done
else
    want=$available
fi
for s in $skips; do
    case "$nl$available$nl" in *"$nl$s$nl"*) ;; *) bad "--skip $s: no such test" ;; esac
done
selected=""
for e in $available; do
    case "$nl$want$nl" in *"$nl$e$nl"*) ;; *) continue ;; esac
    case "$nl$skips" in *"$nl$e$nl"*) continue ;; esac
    selected="$selected$e$nl"
done
total=0
for e in $selected; do total=$((total + 1)); done

if [ $list = 1 ]; then
    printf '%s' "$selected"
    exit 0
fi

# ---- per-program settings: sets tmo and pargs
read_settings() { # collection program
    tmo=45 ptmo="" pargs=""
    if [ -r "$BASE_DIR/$1/settings" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in '#'* | '') continue ;; esac
            key=${line%%=*} val=${line#*=}
            case $key in
            timeout) tmo=$val ;;
            "timeout_$2") ptmo=$val ;;
            "args_$2") pargs=$val ;;
            esac
        done <"$BASE_DIR/$1/settings"
    fi
    [ -n "$ptmo" ] && tmo=$ptmo
    is_uint "$tmo" || tmo=45
    if [ -n "$override" ]; then tmo=$override; else tmo=$((tmo * scale)); fi
    # kselftest's per-program arguments: KSELFTEST_<PROGRAM>_ARGS.
    if [ -n "$ksft_args_env" ]; then
        var=KSELFTEST_$(printf '%s' "$2" | tr -c '[:alnum:]_' '_' | tr '[:lower:]' '[:upper:]')_ARGS
        eargs=""
        eval "eargs=\${$var-unset}"
        [ "$eargs" = unset ] || pargs=$eargs
    fi
}
# Any KSELFTEST_*_ARGS at all? (Saves three processes per program when not.)
ksft_args_env=$(env | grep '^KSELFTEST_[A-Za-z0-9_]*_ARGS=')

if [ $dry = 1 ]; then
    for e in $selected; do
        coll=${e%%:*} prog=${e#*:}
        read_settings "$coll" "$prog"
        echo "cd $BASE_DIR/$coll && timeout $tmo ./$prog${pargs:+ $pargs}${*:+ $*}"
    done
    exit 0
fi

# ---- output directory
if [ -z "$out" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/gmem-selftests.XXXXXX") || { echo "$me: mktemp failed" >&2; exit 2; }
fi
mkdir -p "$out/ktap" "$out/log" 2>/dev/null && out=$(cd "$out" && pwd -P) ||
    { echo "$me: cannot create the output directory $out" >&2; exit 2; }
set +f
rm -f "$out"/ktap/* "$out"/log/* "$out/report.md" "$out/report.json" "$out/probe.txt" \
    "$out/probe.json" "$out/probe.err"
rm -rf "$out/report-input"
set -f
ktap=$out/kselftest.ktap
: >"$ktap"

emit() { printf '%s\n' "$1"; printf '%s\n' "$1" >>"$ktap"; }
emit_file() { sed 's/^/# /' "$1" | tee -a "$ktap"; } # a file, as "# " lines

version=$(cat "$BASE_DIR/VERSION" 2>/dev/null || echo unknown)
timeout_cmd=""
command -v timeout >/dev/null 2>&1 && timeout_cmd=timeout

emit "TAP version 13"
emit "1..$total"
emit "# gmem-selftests $version on Linux $(uname -r); results in $out"
[ -n "$compat_note" ] && emit "# $compat_note"
[ -n "$timeout_cmd" ] || emit "# no timeout command: programs run unbounded"
if [ $probe = 1 ] && [ -x "$BASE_DIR/bin/gmem-probe" ]; then
    "$BASE_DIR/bin/gmem-probe" >"$out/probe.txt" 2>&1
    "$BASE_DIR/bin/gmem-probe" --json >"$out/probe.json" 2>"$out/probe.err"
    emit_file "$out/probe.txt"
fi

n_pass=0 n_fail=0 n_skip=0 num=0 prev_coll=""
ran=""
run_one() { # collection program [program arguments...]
    coll=$1 prog=$2
    shift 2
    num=$((num + 1))
    read_settings "$coll" "$prog"
    hdr="selftests: $coll: $prog"
    log=$out/log/$prog.log
    emit "# timeout set to $tmo"
    emit "# $hdr"
    [ -n "${GMEM_RUN_HOOK:-}" ] && $GMEM_RUN_HOOK start "$coll" "$prog" "$tmo"
    # Seconds since boot, read without a process (one costs a lot under
    # emulation); date where there is no /proc.
    now_s=""
    read -r now_s _ </proc/uptime 2>/dev/null || now_s=$(date +%s)
    t0=${now_s%.*}
    if [ ! -x "$BASE_DIR/$coll/$prog" ]; then
        emit "# Warning: file $coll/$prog is missing!"
        echo "$BASE_DIR/$coll/$prog: missing or not executable" >"$log"
        rc=127
    else
        rcf=$out/log/.rc
        : >"$rcf"
        : >"$log"
        # The program's output, live, as "# " lines (awk flushes each line),
        # and unprefixed in its log. Its exit code travels through a file.
        # shellcheck disable=SC2086 # words on purpose, as kselftest does
        {
            (cd "$BASE_DIR/$coll" && export GMEM_KTAP_DIR="$out/ktap" &&
                exec $timeout_cmd ${timeout_cmd:+-k 10 $tmo} ./"$prog" $pargs "$@") </dev/null 2>&1
            echo $? >"$rcf"
        } | awk -v f="$ktap" -v lf="$log" '{ print >lf; l = "# " $0; print l; print l >>f; fflush() }'
        rc=""
        read -r rc <"$rcf"
        is_uint "$rc" || [ "$rc" = 0 ] || rc=255
    fi
    read -r now_s _ </proc/uptime 2>/dev/null || now_s=$(date +%s)
    secs=$((${now_s%.*} - t0))
    flag=""
    case $rc in
    124) [ -n "$timeout_cmd" ] && flag=timeout ;;
    137 | 143) [ -n "$timeout_cmd" ] && [ "$secs" -ge "$tmo" ] && flag=timeout ;;
    esac
    if [ -n "$flag" ]; then
        emit "not ok $num $hdr # TIMEOUT $tmo seconds"
        n_fail=$((n_fail + 1))
    elif [ "$rc" = 0 ]; then
        emit "ok $num $hdr"
        n_pass=$((n_pass + 1))
    elif [ "$rc" = 4 ]; then
        emit "ok $num $hdr # SKIP"
        n_skip=$((n_skip + 1))
    else
        # 2 is kselftest's XFAIL, but a bad command line for our programs.
        emit "not ok $num $hdr # exit=$rc"
        n_fail=$((n_fail + 1))
    fi
    [ -n "${GMEM_RUN_HOOK:-}" ] && $GMEM_RUN_HOOK end "$coll" "$prog" "$rc" "$secs" $flag
    ran="$ran$coll:$prog$nl"
}

for e in $selected; do
    coll=${e%%:*}
    if [ "$coll" != "$prev_coll" ] && [ -w /dev/kmsg ]; then
        echo "kselftest: Running tests in $coll" >>/dev/kmsg
    fi
    prev_coll=$coll
    run_one "$coll" "${e#*:}" "$@"
done
rm -f "$out/log/.rc"

# ---- the per-behaviour report: only after every corpus program ran as
# shipped (a selection would report the other programs' IDs as not run).
report_rc=0
corpus=$(awk '{ for (i = 2; i <= NF; i++) if ($i == "corpus") { print $1; break } }' "$LABELS" 2>/dev/null)
why=""
if [ $report = 0 ]; then
    why="--no-report"
elif [ ! -x "$BASE_DIR/bin/gmem-report" ]; then
    why="no bin/gmem-report in $BASE_DIR"
elif [ -z "$corpus" ]; then
    why="no corpus program in $LABELS"
elif [ $# -gt 0 ]; then
    why="programs ran with extra arguments"
else
    for c in $corpus; do
        case "$nl$ran" in *"$nl$c$nl"*) ;; *) why="not every corpus program ran (-L corpus or no selection runs them all)"; break ;; esac
    done
fi
if [ -z "$why" ]; then
    rdir=$out/report-input
    mkdir -p "$rdir/ktap"
    # Each corpus program's -l list (a program that crashed or printed nothing
    # still fails the IDs it names), listed by gmem-report from a CTest-style
    # JSON file, as ci/conformance does.
    json=$rdir/corpus-tests.json
    {
        printf '{"kind":"ctestInfo","tests":['
        sep=""
        for c in $corpus; do
            p=${c#*:}
            [ -f "$out/ktap/$p.ktap" ] && cp "$out/ktap/$p.ktap" "$rdir/ktap/"
            path=$(printf '%s' "$BASE_DIR/${c%%:*}/$p" | sed 's/\\/\\\\/g; s/"/\\"/g')
            printf '%s{"name":"%s","command":["%s"]}' "$sep" "$p" "$path"
            sep=","
        done
        printf ']}\n'
    } >"$json"
    "$BASE_DIR/bin/gmem-report" list --ctest-json "$json" --out "$rdir/ktap" >"$rdir/list.err" 2>&1
    if [ -s "$out/probe.json" ]; then
        "$BASE_DIR/bin/gmem-report" build --ktap-dir "$rdir/ktap" --spec "$BASE_DIR/spec/BEHAVIORS.md" \
            --corpus-version "$version" --json "$out/report.json" --markdown "$out/report.md" \
            --probe "$out/probe.json" >"$rdir/report.txt" 2>&1
    else
        "$BASE_DIR/bin/gmem-report" build --ktap-dir "$rdir/ktap" --spec "$BASE_DIR/spec/BEHAVIORS.md" \
            --corpus-version "$version" --json "$out/report.json" --markdown "$out/report.md" \
            --probe-note "no gmem-probe --json output" >"$rdir/report.txt" 2>&1
    fi
    report_rc=$?
    emit_file "$rdir/list.err"
    emit_file "$rdir/report.txt"
    case $report_rc in
    0) emit "# report: $out/report.md (JSON: $out/report.json)" ;;
    1) emit "# report: $out/report.md: a behaviour failed" ;;
    4)
        # NOT TESTED (TOOLS-06): nothing failed, but KVM could not be used
        # here; the verdict line of report.txt says why. Not a failure of a
        # program: the programs' own SKIPs already say so.
        emit "# report: $out/report.md: NOT TESTED: KVM could not be used here (see the verdict above)"
        report_rc=0 not_tested=1
        ;;
    *) emit "# report: gmem-report build failed (exit $report_rc): $out/report-input/report.txt" ;;
    esac
else
    emit "# no conformance report: $why"
fi

[ $n_skip -gt 0 ] &&
    emit "# $n_skip skipped test(s) detected. Consider enabling relevant config options to improve coverage."
emit "# Totals: pass:$n_pass fail:$n_fail xfail:0 xpass:0 skip:$n_skip error:0"

if [ $n_fail -gt 0 ] || [ $report_rc -ne 0 ]; then
    [ $error_on_fail = 1 ] && exit 1
    exit 0
fi
[ $n_pass -eq 0 ] && [ $n_skip -gt 0 ] && exit 4
# The report's verdict NOT TESTED (TOOLS-06): no usable KVM, nothing of the
# kernel's guest_memfd was tested; never a pass.
[ "${not_tested:-0}" = 1 ] && exit 4
exit 0
