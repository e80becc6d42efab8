#!/usr/bin/env bash
# Tests .ci/require-ran.sh against fake `go test -v` logs of two CLIs. .ci/run runs it.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/require-ran.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/terraform-1.8.5.log" <<'LOG'
=== RUN   TestAccOld
--- PASS: TestAccOld (1.20s)
=== RUN   TestAccNew
    resource_test.go:10: Terraform 1.8.5 is older than 1.10
--- SKIP: TestAccNew (0.00s)
=== RUN   TestAccParent
=== RUN   TestAccParent/row_one
    --- PASS: TestAccParent/row_one (0.30s)
    --- SKIP: TestAccParent/row_two (0.00s)
--- PASS: TestAccParent (0.31s)
--- SKIP: TestAccEverywhereSkipped (0.00s)
--- FAIL: TestAccBroken (0.10s)
FAIL
LOG
cat >"$dir/opentofu-1.12.6.log" <<'LOG'
--- PASS: TestAccNew (2.00s)
--- SKIP: TestAccEverywhereSkipped (0.00s)
--- SKIP: TestAccBroken (0.00s)
LOG

failures=0
# expect WANT_STATUS WANT_OUTPUT LIST_LINE...: require-ran.sh exits WANT_STATUS and prints WANT_OUTPUT.
expect() {
  local want_status=$1 want_output=$2 got_status=0 got_output; shift 2
  printf '%s\n' "$@" >"$dir/list"
  got_output=$("$script" "$dir" "$dir/list" 2>&1) || got_status=$?
  if [ "$got_status" != "$want_status" ] || ! grep -qF -- "$want_output" <<<"$got_output"; then
    printf 'FAIL: list [%s]: want status %s and "%s", got status %s:\n%s\n' "$*" "$want_status" "$want_output" "$got_status" "$got_output" >&2
    failures=$((failures + 1))
  fi
}

expect 0 "ok    TestAccOld: passed on terraform-1.8.5" TestAccOld
expect 0 "passed on opentofu-1.12.6" TestAccNew                     # skipped on one CLI, passed on the other
expect 0 "ok    TestAccParent/row_one" "# a comment" "" "  TestAccParent/row_one  # trailing"
expect 0 "ok    TestAcc(Old|New)" "TestAcc(Old|New)"
expect 1 "FAIL  TestAccEverywhereSkipped: passed on no CLI (skipped on opentofu-1.12.6, skipped on terraform-1.8.5)" TestAccEverywhereSkipped
expect 1 "FAIL  TestAccBroken: passed on no CLI (skipped on opentofu-1.12.6, failed on terraform-1.8.5)" TestAccBroken
expect 1 "FAIL  TestAccParent/row_two: passed on no CLI" TestAccParent/row_two
expect 1 "FAIL  TestAccOl: in no log" TestAccOl                        # whole names only
expect 1 "FAIL  TestAccMissing: in no log" TestAccOld TestAccMissing   # one missing test fails the list
expect 2 "bad pattern" "TestAcc("
rm "$dir"/*.log
expect 1 "no *.log in" TestAccOld

[ "$failures" -eq 0 ] || exit 1
echo "require-ran.sh: all cases pass"
