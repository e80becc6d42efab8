#!/usr/bin/env bash
# Installs a Terraform or OpenTofu CLI at an exact version: builds it from source through the
# Go module proxy (no binary download is possible here), caches it outside the checkout keyed
# by version, and links it into .tools/ (git-ignored). Prints the link's path. A cached binary
# is trusted only when it reports the version wanted.
#
#   .ci/install-cli.sh terraform          # Terraform 1.8.5, the oldest supported (go install)
#   .ci/install-cli.sh terraform-newest   # the newest Terraform that builds here, from internal/tools/terraform
#   .ci/install-cli.sh tofu               # OpenTofu, from internal/tools/opentofu
#   .ci/install-cli.sh --version NAME     # print NAME's version, build nothing
#
# `make demo`, `make testacc` and `make docs` do not call this directly: .ci/select-cli.sh
# prefers the user's own CLI and calls this only when none fits.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-sensu"
export GOFLAGS=-buildvcs=false

# required_version DIR MODULE: the version of MODULE that the tools module in DIR requires.
required_version() {
  awk -v m="$2" '$1 == "require" && $2 == m { v = $3 } $1 == m { v = $2 } END { sub(/^v/, "", v); print v }' "$1/go.mod"
}

TERRAFORM_VERSION=1.8.5
TERRAFORM_NEWEST_VERSION=$(required_version "$root/internal/tools/terraform" github.com/hashicorp/terraform)
OPENTOFU_VERSION=$(required_version "$root/internal/tools/opentofu" github.com/opentofu/opentofu)

# has_version BIN VERSION: the binary runs and reports exactly that version (builds from
# source before this script passed -X ...version.dev=no report VERSION-dev).
has_version() {
  local out
  [ -x "$1" ] && out=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null) &&
    head -n1 <<<"$out" | grep -Eq " v${2//./\\.}(-dev)?\$"
}

# build NAME VERSION BIN FUNCTION: unless BIN already reports VERSION, FUNCTION OUT builds
# the CLI into OUT, which replaces BIN once it reports VERSION.
build() {
  local name=$1 version=$2 bin=$3 build_into=$4 started=$SECONDS
  has_version "$bin" "$version" && return
  echo "Building $name $version into $(dirname "$bin") (a few minutes, once)..." >&2
  mkdir -p "$(dirname "$bin")"
  "$build_into" "$bin.tmp" >&2
  has_version "$bin.tmp" "$version" || { echo "the $name built does not report v$version" >&2; exit 1; }
  mv "$bin.tmp" "$bin"
  echo "Built $name $version in $((SECONDS - started))s." >&2
}

# Without -X .../version.dev=no, a build from source reports VERSION-dev, which version
# constraints (and terraform-plugin-testing's tfversion checks) treat as a pre-release.
terraform_ldflags="-X github.com/hashicorp/terraform/version.dev=no"
opentofu_ldflags="-X github.com/opentofu/opentofu/version.dev=no"

# Up to 1.10, Terraform's go.mod has no replace directives, so `go install` works.
build_terraform_oldest() {
  local gobin
  gobin=$(mktemp -d)
  GOBIN="$gobin" go install -ldflags "$terraform_ldflags" "github.com/hashicorp/terraform@v$TERRAFORM_VERSION"
  mv "$gobin/terraform" "$1" && rmdir "$gobin"
}
build_terraform_newest() {
  (cd "$root/internal/tools/terraform" && go build -ldflags "$terraform_ldflags" -o "$1" github.com/hashicorp/terraform)
}
build_opentofu() {
  (cd "$root/internal/tools/opentofu" && go build -ldflags "$opentofu_ldflags" -o "$1" github.com/opentofu/opentofu/cmd/tofu)
}

if [ "${1:-}" = --version ]; then
  case "${2:-}" in
    terraform) echo "$TERRAFORM_VERSION" ;;
    terraform-newest) echo "$TERRAFORM_NEWEST_VERSION" ;;
    tofu) echo "$OPENTOFU_VERSION" ;;
    *) echo "usage: $0 --version terraform|terraform-newest|tofu" >&2; exit 2 ;;
  esac
  exit 0
fi

case "${1:-}" in
  terraform)
    bin="$cache/terraform-$TERRAFORM_VERSION/terraform"
    build Terraform "$TERRAFORM_VERSION" "$bin" build_terraform_oldest ;;
  terraform-newest)
    bin="$cache/terraform-$TERRAFORM_NEWEST_VERSION/terraform"
    build Terraform "$TERRAFORM_NEWEST_VERSION" "$bin" build_terraform_newest ;;
  tofu)
    bin="$cache/tofu-$OPENTOFU_VERSION/tofu"
    build OpenTofu "$OPENTOFU_VERSION" "$bin" build_opentofu ;;
  *)
    echo "usage: $0 terraform|terraform-newest|tofu" >&2; exit 2 ;;
esac

mkdir -p "$root/.tools"
ln -sf "$bin" "$root/.tools/$1"
echo "$root/.tools/$1"
