#!/usr/bin/env bash
# Reads `go test -v` output on stdin, prints it, then a one-line summary per suite, and exits
# non-zero when go test failed (its final "FAIL" line) or ran no test.
set -uo pipefail
label=${1:-tests}
log=$(mktemp)
tee "$log"
pass=$(grep -cE '^\s*--- PASS' "$log")
fail=$(grep -cE '^\s*--- FAIL' "$log")
skip=$(grep -cE '^\s*--- SKIP' "$log")
echo
echo "$label: $pass passed, $fail failed, $skip skipped"
status=0
if grep -qE '^(FAIL|panic:)' "$log" || [ "$fail" -gt 0 ]; then status=1; fi
if [ "$pass" -eq 0 ]; then echo "$label: no test passed" >&2; status=1; fi
rm -f "$log"
exit $status
