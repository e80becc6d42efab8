#!/usr/bin/env bash
# Prints the directory of the PostgreSQL server programs (initdb, pg_ctl) that `make bench`
# runs a throwaway server from, for Terraform's `pg` state backend. Installs Debian's
# postgresql package first when no server is installed and this runs as root (as CI does on
# a fresh machine). Nothing else is set up here: the benchmark creates, starts and removes
# its own database cluster.
set -euo pipefail

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  return 1
}

if bin=$(find_bin); then echo "$bin"; exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "no PostgreSQL server installed (initdb, pg_ctl), and cannot install one here (not root, or no apt-get)" >&2
  exit 1
fi
echo "Installing PostgreSQL (apt-get install postgresql) for the benchmark's remote state..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends postgresql >&2; }
find_bin
