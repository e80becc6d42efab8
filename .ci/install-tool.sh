#!/usr/bin/env bash
# Installs a Go-built development tool with `go install`, cached outside the checkout keyed
# by version, linked into .tools/. Prints the link's path.
#
#   .ci/install-tool.sh tfplugindocs | golangci-lint | goreleaser
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-sensu"
export GOFLAGS=-buildvcs=false

case "${1:-}" in
  tfplugindocs)  module=github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs; version=v0.25.0 ;;
  golangci-lint) module=github.com/golangci/golangci-lint/v2/cmd/golangci-lint;     version=v2.15.0 ;;
  goreleaser)    module=github.com/goreleaser/goreleaser/v2;                         version=v2.16.0 ;;
  *) echo "usage: $0 tfplugindocs|golangci-lint|goreleaser" >&2; exit 2 ;;
esac

dir="$cache/$1-$version"
bin="$dir/$1"
if [ ! -x "$bin" ] || [ ! -f "$dir/.installed-$version" ]; then
  echo "Building $1 $version into $dir ..." >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install "$module@$version" >&2
  touch "$dir/.installed-$version"
fi
mkdir -p "$root/.tools"
ln -sf "$bin" "$root/.tools/$1"
echo "$root/.tools/$1"
