#!/usr/bin/env bash
# Fails unless every test listed in .ci/required-tests passed (ran, not skipped) on at least one
# CLI of the matrix, so that a test which skips everywhere (a CLI too old for it, a missing
# backend) cannot pass CI unnoticed.
#
#   .ci/require-ran.sh LOG_DIR [LIST]
#
# LOG_DIR holds one `go test -v` log per CLI, named after it (make testacc with
# TESTACC_LOG_DIR=LOG_DIR writes them). LIST, by default .ci/required-tests, holds one extended
# regular expression per line, matched against whole test names (`TestX` or `TestX/subtest`);
# blank lines and `#` comments are ignored.
set -euo pipefail
dir=${1:?usage: $0 LOG_DIR [LIST]}
list=${2:-$(dirname "$0")/required-tests}

shopt -s nullglob
logs=("$dir"/*.log)
[ ${#logs[@]} -gt 0 ] || { echo "require-ran: no *.log in $dir" >&2; exit 1; }

# names RESULT LOG: the tests that LOG reports with RESULT (PASS, SKIP or FAIL), one a line.
names() { sed -nE "s/^[[:space:]]*--- $1: ([^ ]+) \\(.*/\\1/p" "$2"; }

# any_matches PATTERN: some line of stdin is wholly matched by PATTERN (exit 2: bad PATTERN).
any_matches() { grep -Eq -- "^($1)\$"; }

status=0
while IFS= read -r line || [ -n "$line" ]; do
  pattern=$(sed -E 's/#.*//; s/^[[:space:]]+//; s/[[:space:]]+$//' <<<"$line")
  [ -n "$pattern" ] || continue
  passed=() other=()
  for log in "${logs[@]}"; do
    cli=$(basename "$log" .log)
    for result in PASS FAIL SKIP; do
      # Not a pipe: grep -q stops reading at its first match, and pipefail would report the
      # writer's SIGPIPE.
      rc=0; any_matches "$pattern" <<<"$(names "$result" "$log")" || rc=$?
      [ "$rc" -le 1 ] || { echo "require-ran: bad pattern in $list: $pattern" >&2; exit 2; }
      if [ "$rc" -eq 0 ]; then
        case $result in
          PASS) passed+=("$cli") ;;
          FAIL) other+=("failed on $cli") ;;
          SKIP) other+=("skipped on $cli") ;;
        esac
        break
      fi
    done
  done
  if [ ${#passed[@]} -gt 0 ]; then
    echo "ok    $pattern: passed on ${passed[*]}"
  else
    status=1
    if [ ${#other[@]} -gt 0 ]; then
      echo "FAIL  $pattern: passed on no CLI ($(printf '%s, ' "${other[@]}" | sed 's/, $//'))"
    else
      echo "FAIL  $pattern: in no log of $dir (renamed or removed?)"
    fi
  fi
done <"$list"
exit $status
