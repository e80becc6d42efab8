#!/usr/bin/env bash
# Installs the Terraform or OpenTofu CLI that the acceptance tests run, builds it from source
# through the Go module proxy (no binary download is possible here), caches it outside the
# checkout keyed by version, and links it into .tools/ (git-ignored). Prints the link's path.
#
#   .ci/install-cli.sh terraform   # Terraform 1.8.5 (later versions carry replace directives)
#   .ci/install-cli.sh tofu        # OpenTofu 1.12.6, from internal/tools/opentofu
set -euo pipefail

TERRAFORM_VERSION=1.8.5
OPENTOFU_VERSION=1.12.6

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-sensu"
export GOFLAGS=-buildvcs=false

# has_version BIN VERSION: the cached binary runs and reports exactly that version.
has_version() {
  local out
  [ -x "$1" ] && out=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null) &&
    head -n1 <<<"$out" | grep -Eq "v$2(-dev)?\$"
}

case "${1:-}" in
  terraform)
    dir="$cache/terraform-$TERRAFORM_VERSION"; bin="$dir/terraform"
    if ! has_version "$bin" "$TERRAFORM_VERSION"; then
      echo "Building Terraform $TERRAFORM_VERSION into $dir (about 3-8 minutes)..." >&2
      mkdir -p "$dir"
      GOBIN="$dir" go install "github.com/hashicorp/terraform@v$TERRAFORM_VERSION" >&2
      has_version "$bin" "$TERRAFORM_VERSION" || { echo "built terraform does not report v$TERRAFORM_VERSION" >&2; exit 1; }
    fi
    ;;
  tofu)
    dir="$cache/tofu-$OPENTOFU_VERSION"; bin="$dir/tofu"
    if ! has_version "$bin" "$OPENTOFU_VERSION"; then
      echo "Building OpenTofu $OPENTOFU_VERSION into $dir (about 5-8 minutes)..." >&2
      mkdir -p "$dir"
      (cd "$root/internal/tools/opentofu" && go build -o "$bin.tmp" github.com/opentofu/opentofu/cmd/tofu >&2 && mv "$bin.tmp" "$bin")
      has_version "$bin" "$OPENTOFU_VERSION" || { echo "built tofu does not report v$OPENTOFU_VERSION" >&2; exit 1; }
    fi
    ;;
  *)
    echo "usage: $0 terraform|tofu" >&2; exit 2 ;;
esac

mkdir -p "$root/.tools"
ln -sf "$bin" "$root/.tools/$1"
echo "$root/.tools/$1"
