#!/usr/bin/env bash
# Picks the CLI that `make testacc`, `make demo`, `make docs` and `make fmt` run, and says on
# stderr which one and why:
#   1. TF_ACC_TERRAFORM_PATH when set: it must be a supported CLI, or this fails;
#   2. else the `terraform` on PATH, when it is a supported version;
#   3. else Terraform 1.8.5, built once by .ci/install-cli.sh (a few minutes).
# Supported: Terraform >= 1.8.5 and OpenTofu >= 1.12.6, the oldest versions CI tests.
#
# Prints shell assignments, for `sel=$(.ci/select-cli.sh) && eval "$sel"`:
#   cli=PATH  cli_name=Terraform|OpenTofu  cli_version=X.Y.Z
#   provider_host=registry.terraform.io|registry.opentofu.org (for TF_ACC_PROVIDER_HOST)
#
#   .ci/select-cli.sh             # Terraform or OpenTofu
#   .ci/select-cli.sh terraform   # Terraform only
#   .ci/select-cli.sh docs        # Terraform that reports every kind of schema the provider
#                                 # has, for tfplugindocs: 1.14 or later (list resources), else
#                                 # the newest Terraform of the matrix, built once
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

min_terraform=$("$root/.ci/install-cli.sh" --version terraform)
min_opentofu=$("$root/.ci/install-cli.sh" --version tofu)
want=${1:-any}
fallback=terraform strict=true
if [ "$want" = docs ]; then
  # `terraform providers schema -json` leaves out ephemeral resources before 1.10 and list
  # resources before 1.14, and tfplugindocs documents only what it reports. An older
  # TF_ACC_TERRAFORM_PATH (CI points it at the oldest Terraform) is passed over, not refused.
  want=terraform min_terraform=1.14.0 fallback=terraform-newest strict=false
fi

# version_at_least A B: version A (any -suffix ignored) is B or later.
version_at_least() {
  [ "$(printf '%s\n%s\n' "${1%%-*}" "$2" | sort -V | head -n1)" = "$2" ]
}

# inspect BIN: sets name and version from `BIN version`, or fails.
inspect() {
  local out
  out=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null) || return 1
  [[ ${out%%$'\n'*} =~ ^(Terraform|OpenTofu)\ v([0-9]+\.[0-9]+\.[0-9]+[^ ]*)$ ]] || return 1
  name=${BASH_REMATCH[1]} version=${BASH_REMATCH[2]}
}

# fits BIN: BIN is a supported CLI of the kind wanted; otherwise sets why.
fits() {
  name="" version="" why=""
  if ! inspect "$1"; then why="does not run, or is neither Terraform nor OpenTofu"; return 1; fi
  case "$name" in
    Terraform) version_at_least "$version" "$min_terraform" || { why="is Terraform $version, older than $min_terraform"; return 1; } ;;
    OpenTofu)
      [ "$want" = terraform ] && { why="is OpenTofu $version, and this needs Terraform"; return 1; }
      version_at_least "$version" "$min_opentofu" || { why="is OpenTofu $version, older than $min_opentofu"; return 1; } ;;
  esac
}

emit() {
  local host=registry.terraform.io
  [ "$name" = OpenTofu ] && host=registry.opentofu.org
  echo "Using $name $version: $1 ($2)" >&2
  printf 'cli=%q cli_name=%q cli_version=%q provider_host=%q\n' "$1" "$name" "${version%%-*}" "$host"
  exit 0
}

if [ -n "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  # go test runs in the package's directory: make the path absolute.
  case $TF_ACC_TERRAFORM_PATH in
    /*) ;;
    */*) TF_ACC_TERRAFORM_PATH=$PWD/$TF_ACC_TERRAFORM_PATH ;;
    *) TF_ACC_TERRAFORM_PATH=$(command -v "$TF_ACC_TERRAFORM_PATH" || echo "$TF_ACC_TERRAFORM_PATH") ;;
  esac
  if fits "$TF_ACC_TERRAFORM_PATH"; then emit "$TF_ACC_TERRAFORM_PATH" "TF_ACC_TERRAFORM_PATH"; fi
  if $strict && { [ "$name" != OpenTofu ] || [ "$want" != terraform ]; }; then
    echo "TF_ACC_TERRAFORM_PATH=$TF_ACC_TERRAFORM_PATH $why." >&2
    echo "Point it at Terraform >= $min_terraform or OpenTofu >= $min_opentofu, or unset it to use the terraform on PATH." >&2
    exit 1
  fi
  echo "Not using TF_ACC_TERRAFORM_PATH=$TF_ACC_TERRAFORM_PATH: it $why." >&2
fi

if on_path=$(command -v terraform); then
  if fits "$on_path"; then emit "$on_path" "terraform on PATH"; fi
  echo "Not using the terraform on PATH ($on_path): it $why." >&2
fi

echo "No Terraform >= $min_terraform found: installing Terraform $("$root/.ci/install-cli.sh" --version "$fallback")." >&2
built=$("$root/.ci/install-cli.sh" "$fallback")
fits "$built" || { echo "$built $why" >&2; exit 1; }
emit "$built" "built by .ci/install-cli.sh"
