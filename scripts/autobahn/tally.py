"""Tally an Autobahn|Testsuite fuzzingclient report and judge it.

Usage: python tally.py REPORT_DIR EXPECTED_CASES

REPORT_DIR is the spec's outdir (it holds index.json and one JSON report per
case). Prints how many cases ended in each outcome, for `behavior` (the
protocol exchange) and `behaviorClose` (the closing handshake), then lists
every case that is FAILED or NON-STRICT with what its report says.

Exit status: 0 when at least EXPECTED_CASES cases ran and none is FAILED or
NON-STRICT; 1 otherwise; 2 when the report is missing or unreadable.
OK, INFORMATIONAL and UNIMPLEMENTED are accepted.

Runs under Python 2.7 (the suite's own interpreter) and Python 3.
"""

from __future__ import print_function

import json
import os
import sys

OUTCOMES = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
BAD = ("FAILED", "NON-STRICT")


def case_key(case_id):
    """Sort "1.1.10" after "1.1.9"."""
    key = []
    for part in case_id.split("."):
        try:
            key.append((0, int(part), ""))
        except ValueError:
            key.append((1, 0, part))
    return key


def one_line(value, limit=300):
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    report_dir, expected = argv[1], int(argv[2])
    index_path = os.path.join(report_dir, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (IOError, OSError, ValueError) as e:
        print("autobahn: cannot read %s: %s" % (index_path, e), file=sys.stderr)
        return 2
    if not index:
        print("autobahn: %s lists no agent" % index_path, file=sys.stderr)
        return 2

    status = 0
    for agent in sorted(index):
        cases = index[agent]
        counts = {"behavior": {}, "behaviorClose": {}}
        bad = []
        for case_id in sorted(cases, key=case_key):
            result = cases[case_id]
            for field in ("behavior", "behaviorClose"):
                outcome = result.get(field, "MISSING")
                counts[field][outcome] = counts[field].get(outcome, 0) + 1
            if result.get("behavior") in BAD or result.get("behaviorClose") in BAD:
                bad.append((case_id, result))

        print("Autobahn|Testsuite tally for agent %s: %d cases" % (agent, len(cases)))
        for field in ("behavior", "behaviorClose"):
            seen = counts[field]
            extra = sorted(k for k in seen if k not in OUTCOMES)
            parts = ["%s %d" % (k, seen.get(k, 0)) for k in OUTCOMES + tuple(extra)]
            print("  %-14s %s" % (field + ":", ", ".join(parts)))

        if len(cases) < expected:
            print("autobahn: only %d of the %d cases ran" % (len(cases), expected))
            status = 1
        for field in ("behavior", "behaviorClose"):
            odd = sorted(k for k in counts[field] if k not in OUTCOMES)
            if odd:
                print("autobahn: unknown %s outcome(s): %s" % (field, ", ".join(odd)))
                status = 1

        if bad:
            status = 1
            print("autobahn: %d case(s) FAILED or NON-STRICT:" % len(bad))
            for case_id, result in bad:
                print("  case %s: behavior %s, behaviorClose %s, close code %s"
                      % (case_id, result.get("behavior"), result.get("behaviorClose"),
                         result.get("remoteCloseCode")))
                detail = {}
                report_file = result.get("reportfile")
                if report_file:
                    try:
                        with open(os.path.join(report_dir, report_file)) as f:
                            detail = json.load(f)
                    except (IOError, OSError, ValueError):
                        detail = {}
                for key in ("description", "expectation", "result",
                            "resultClose"):
                    if detail.get(key):
                        print("    %s: %s" % (key, one_line(detail[key])))
                if report_file:
                    html = os.path.splitext(report_file)[0] + ".html"
                    print("    report: %s" % os.path.join(report_dir, html))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
