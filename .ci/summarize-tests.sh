#!/usr/bin/env bash
# Reads `go test -v` output on stdin, prints it, then a one-line summary per suite, and exits
# non-zero when go test failed (its final "FAIL" line) or ran no test. With TESTACC_LOG_DIR
# set, the output is also kept as $TESTACC_LOG_DIR/LABEL.log (.ci/require-ran.sh reads it).
set -uo pipefail
label=${1:-tests}
if [ -n "${TESTACC_LOG_DIR:-}" ]; then
  mkdir -p "$TESTACC_LOG_DIR" && log="$TESTACC_LOG_DIR/$label.log"
else
  log=$(mktemp) && trap 'rm -f "$log"' EXIT
fi
tee "$log"
pass=$(grep -cE '^\s*--- PASS' "$log")
fail=$(grep -cE '^\s*--- FAIL' "$log")
skip=$(grep -cE '^\s*--- SKIP' "$log")
echo
echo "$label: $pass passed, $fail failed, $skip skipped"
status=0
if grep -qE '^(FAIL|panic:)' "$log" || [ "$fail" -gt 0 ]; then status=1; fi
if [ "$pass" -eq 0 ]; then echo "$label: no test passed" >&2; status=1; fi
exit $status
