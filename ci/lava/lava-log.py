#!/usr/bin/python3
"""LAVA helpers of ci/lava/run-lava.

lava-log.py split LAVA_RUN_STDERR OUT
Splits the log stream of lava-run (its stderr: one YAML mapping a line,
{dt, lvl, msg}) into what ci/lava/run-lava reads:

  OUT/results.tsv  one line per test case of the test definitions:
                   definition, set (empty outside a lava-test-set), case, result
  OUT/job.tsv      LAVA's own cases (definition "lava"): case, result, error
  OUT/target.txt   what the device printed (lvl "target"), one line each
  OUT/errors.txt   lvl "error" messages

Prints the job's result (the "job" case: pass, fail, or "none" when the log
has none). Exit 2 when the log cannot be read. LAVA's results are read from
here, never from lava-run's exit code: the job passes even when its test
cases fail (ci/lava/run-lava).

lava-log.py validate JOB.yaml...
Checks job files against LAVA's own job schema (lava_common, installed with
lava-dispatcher), as lava-server does on submission; {{ PARAMETERS }} of a
template are strings to it. Exit 0 valid, 1 not (the reason printed), 2
unreadable.
"""
import sys

import yaml


USAGE = "usage: lava-log.py split LAVA_RUN_STDERR OUT_DIR | lava-log.py validate JOB.yaml..."


def validate(files):
    try:
        from lava_common.schemas import validate as lava_validate
        from voluptuous import Invalid
    except ImportError:
        print("lava-log.py: no lava_common (Debian package lava-dispatcher)", file=sys.stderr)
        return 2
    rc = 0
    for f in files:
        try:
            data = yaml.safe_load(open(f, encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            print(f"lava-log.py: {f}: {e}", file=sys.stderr)
            return 2
        try:
            lava_validate(data, strict=True)
            print(f"{f}: a valid LAVA job")
        except Invalid as e:
            print(f"{f}: not a valid LAVA job: {e}")
            rc = 1
    return rc


def main(argv):
    if len(argv) >= 3 and argv[1] == "validate":
        return validate(argv[2:])
    if len(argv) != 4 or argv[1] != "split":
        print(USAGE, file=sys.stderr)
        return 2
    log, out = argv[2], argv[3]
    try:
        lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"lava-log.py: {log}: {e.strerror}", file=sys.stderr)
        return 2
    job = "none"
    results, jobcases, target, errors = [], [], [], []
    for n, line in enumerate(lines, 1):
        if not line.startswith("{"):
            continue
        try:
            rec = yaml.load(line, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)
        except yaml.YAMLError:
            print(f"lava-log.py: {log}:{n}: not a YAML mapping: {line[:80]}", file=sys.stderr)
            continue
        if not isinstance(rec, dict):
            continue
        lvl, msg = rec.get("lvl"), rec.get("msg")
        if lvl == "target":
            # LAVA's ShellLogger escapes " as \" (lava_dispatcher/shell.py),
            # drops \r, ESC and empty lines (lava-results.sh frames every
            # line of a file with "|", so none is empty).
            target.append(str(msg).replace('\\"', '"').replace("\r", ""))
        elif lvl == "error":
            errors.append(str(msg))
        elif lvl == "results" and isinstance(msg, dict):
            definition = str(msg.get("definition", ""))
            case = str(msg.get("case", ""))
            result = str(msg.get("result", ""))
            if definition == "lava":
                if case == "job":
                    job = result
                err = str(msg.get("error_msg", "")).replace("\n", " ").replace("\t", " ")
                jobcases.append(f"{case}\t{result}\t{err}")
            else:
                results.append(f"{definition}\t{msg.get('set', '')}\t{case}\t{result}")
    for name, rows in (("results.tsv", results), ("job.tsv", jobcases),
                       ("target.txt", target), ("errors.txt", errors)):
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(r + "\n")
    print(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
