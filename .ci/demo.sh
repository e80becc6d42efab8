#!/usr/bin/env bash
# `make demo`: builds the provider, picks a CLI (.ci/select-cli.sh: TF_ACC_TERRAFORM_PATH, else
# the terraform on PATH, else Terraform 1.8.5 built once), starts the in-memory Sensu API on
# loopback (unless SENSU_API_URL points at a real backend), then grants a key, looks it up,
# proves it authenticates, destroys it and proves it is revoked; with a CLI that has ephemeral
# resources, it also uses an ephemeral key and proves it revoked; with `terraform query`, it adopts a
# key granted out of band. Exits non-zero on any failed
# step. The key itself is never printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GOFLAGS=-buildvcs=false CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

say()  { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ok()   { printf '    \033[32mOK\033[0m %s\n' "$*"; }
fail() { printf '    \033[31mFAILED\033[0m %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
api_pid=""
cleanup() {
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

say "Building the provider"
go build -o "$work/plugins/terraform-provider-sensu" .
ok "built $(basename "$work")/plugins/terraform-provider-sensu"

say "Picking the CLI: TF_ACC_TERRAFORM_PATH, else terraform on PATH, else Terraform 1.8.5 (built once)"
.ci/select-cli.sh 2>&1 >"$work/cli" | sed -u 's/^/    /' || fail "no CLI to run"
eval "$(cat "$work/cli")"
ok "$cli_name $cli_version"

# cli_at_least TERRAFORM [OPENTOFU]: the CLI is Terraform TERRAFORM or later, or OpenTofu
# OPENTOFU or later (no OPENTOFU: OpenTofu lacks the feature). Gates steps that need a newer
# CLI than the oldest supported, for example:
#   if cli_at_least 1.10 1.11; then ...ephemeral resource...; fi
#   if cli_at_least 1.14; then ...terraform query...; fi
cli_at_least() {
  local want=$1
  if [ "$cli_name" = OpenTofu ]; then want=${2:-}; [ -n "$want" ] || return 1; fi
  [ "$(printf '%s\n%s\n' "$cli_version" "$want" | sort -V | head -n1)" = "$want" ]
}

if [ -z "${SENSU_API_URL:-}" ]; then
  say "Starting the in-memory Sensu API on loopback (Sensu Go ${SENSU_DEMO_GENERATION:-6}.x wire format)"
  go build -o "$work/sensu-inmem" ./internal/sensu/sensutest/cmd/sensu-inmem
  "$work/sensu-inmem" -listen 127.0.0.1:0 -generation "${SENSU_DEMO_GENERATION:-6}" -url-file "$work/url" >"$work/api.log" 2>&1 &
  api_pid=$!
  for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
  [ -s "$work/url" ] || { cat "$work/api.log" >&2; fail "the in-memory API did not start"; }
  export SENSU_API_URL=$(cat "$work/url") SENSU_USERNAME=admin SENSU_PASSWORD='P@ssw0rd!'
  unset SENSU_API_KEY SENSU_ACCESS_TOKEN SENSU_REFRESH_TOKEN
  ok "listening at $SENSU_API_URL (user admin)"
else
  say "Using the Sensu backend at $SENSU_API_URL"
fi

# A CLI config that uses the provider just built, and never a registry.
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "sensu-community/sensu" = "$work/plugins"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
cp examples/demo/main.tf "$work/"
tf() { "$cli" -chdir="$work" "$@"; }

# show: a CLI command's output (stdout and stderr, colours removed), indented, without blank
# lines and without the "Provider development overrides are in effect" warning: the CLI config
# above causes it, and it says nothing to a reader of the demo. Every other warning is kept.
# Commands that can warn run with colour on, because only then do Terraform and OpenTofu draw
# a diagnostic as a box (╷ ... ╵) whose end can be told apart from the output that follows.
show() {
  sed -E 's/\x1b\[[0-9;]*m//g' | awk '
    /^╷/ { block = $0 "\n"; boxed = 1; next }
    boxed { block = block $0 "\n" }
    boxed && /^╵/ { boxed = 0; if (block !~ /Provider development overrides are in effect/) printf "%s", block; next }
    !boxed { print }
    END { if (boxed) printf "%s", block }
  ' | grep -vE '^\s*$' | sed 's/^/    /'
}
username=${SENSU_DEMO_USERNAME:-admin}

# authenticates KEY: the HTTP status of an API call made with the key alone.
authenticates() {
  local curl_tls=()
  [ -n "${SENSU_TRUSTED_CA_FILE:-}" ] && curl_tls+=(--cacert "$SENSU_TRUSTED_CA_FILE")
  [ "${SENSU_INSECURE_SKIP_TLS_VERIFY:-false}" = true ] && curl_tls+=(--insecure)
  curl -s -o /dev/null -w '%{http_code}' "${curl_tls[@]}" -H @- \
    "$SENSU_API_URL/api/core/v2/namespaces/default/checks" <<<"Authorization: Key $1"
}

say "Granting a key for user '$username' (terraform apply)"
tf apply -auto-approve -input=false -var "username=$username" 2>&1 | show
id=$(tf output -raw id)
ok "granted key $id"

say "Looking it up (data sources)"
tf output -no-color lookup 2>&1 | show
ok "the user has $(tf output -raw keys_of_user) key(s)"

say "Proving the key authenticates (GET /api/core/v2/namespaces/default/checks with Authorization: Key)"
key=$(tf output -raw key)
status=$(authenticates "$key")
[ "$status" = 200 ] || fail "the granted key got HTTP $status"
ok "HTTP $status"

say "Destroying it (terraform destroy)"
tf destroy -auto-approve -input=false -var "username=$username" 2>&1 | show
ok "destroyed"

say "Proving the key is revoked"
status=$(authenticates "$key")
[ "$status" = 401 ] || fail "the revoked key got HTTP $status, want 401"
ok "HTTP $status: the key no longer authenticates"

# tf_in DIR ARGS...: a CLI command in one of the demo's other configurations.
tf_in() { local dir=$1; shift; "$cli" -chdir="$work/$dir" "$@"; }
key_ids() { tf_in keys apply -auto-approve -input=false -no-color -var "username=$username" >/dev/null && tf_in keys output -raw ids; }
steps="grant -> lookup -> key works -> destroy -> key revoked"

if cli_at_least 1.10 1.11; then
  mkdir -p "$work/ephemeral" "$work/keys"
  cp examples/demo/ephemeral/main.tf "$work/ephemeral/"
  cp examples/demo/keys/main.tf "$work/keys/"
  before=" $(key_ids) "

  say "An ephemeral key: a second provider block lists keys with it; revoked when the run ends (terraform apply)"
  tf_in ephemeral apply -auto-approve -input=false -var "username=$username" 2>&1 | show
  seen=$(tf_in ephemeral output -raw ids_seen_with_the_ephemeral_key)
  new=()
  for id in $seen; do [[ $before == *" $id "* ]] || new+=("$id"); done
  [ ${#new[@]} -ge 1 ] || fail "the provider block that used the ephemeral key saw no new key"
  ok "listed with the ephemeral key ${new[*]}: it authenticated during the run"
  grep -q '"ids_seen_with_the_ephemeral_key"' "$work/ephemeral/terraform.tfstate" || fail "no state was written"
  grep -qE '"(key|api_key)"' "$work/ephemeral/terraform.tfstate" && fail "the state holds a key attribute"
  ok "the state holds the output, and no key"

  say "Proving every ephemeral key is revoked after the run"
  after=" $(key_ids) "
  for id in "${new[@]}"; do [[ $after == *" $id "* ]] && fail "the ephemeral key $id still exists"; done
  ok "none of them exists any more"
  steps="$steps -> ephemeral key used and revoked"
else
  say "Skipping the ephemeral step: $cli_name $cli_version has no ephemeral resources (Terraform 1.10+, OpenTofu 1.11+)"
fi

if cli_at_least 1.14; then
  mkdir -p "$work/adopt/grant" "$work/keys"
  cp examples/demo/adopt/main.tf examples/demo/adopt/adopt.tfquery.hcl "$work/adopt/"
  cp examples/demo/adopt/grant/main.tf "$work/adopt/grant/"
  cp examples/demo/keys/main.tf "$work/keys/"

  say "A key granted outside Terraform: granted, then forgotten by the configuration that granted it"
  tf_in adopt/grant apply -auto-approve -input=false -no-color -var "username=$username" >/dev/null
  adopt_id=$(tf_in adopt/grant output -raw id)
  tf_in adopt/grant state rm -no-color sensu_api_key.by_hand 2>&1 | show
  rm -f "$work/adopt/grant/terraform.tfstate" "$work/adopt/grant/terraform.tfstate.backup"
  [[ " $(key_ids) " == *" $adopt_id "* ]] || fail "the key $adopt_id does not exist"
  ok "key $adopt_id exists, and no Terraform state holds it"

  say "Finding it (terraform query)"
  tf_in adopt query -var "username=$username" 2>&1 | tee "$work/query.log" | show
  sed -E 's/\x1b\[[0-9;]*m//g' "$work/query.log" | grep -q "id=$adopt_id " || fail "terraform query did not list the key $adopt_id"
  ok "listed"

  say "Generating its import configuration (terraform query -generate-config-out=generated.tf)"
  tf_in adopt query -var "username=$username" -generate-config-out=generated.tf 2>&1 | show
  grep -q "id = \"$adopt_id\"" "$work/adopt/generated.tf" || fail "generated.tf does not import $adopt_id"
  grep -qE '^\s*key\s*=' "$work/adopt/generated.tf" && fail "generated.tf sets key"
  # The review: the user may have other keys, which the demo must leave alone. Keep only the
  # demo's key, under a name of its own, as the guide "Adopting existing keys" does.
  cat >"$work/adopt/keys.tf" <<HCL
resource "sensu_api_key" "adopted" {
  username = var.username
}

import {
  to = sensu_api_key.adopted
  identity = {
    id = "$adopt_id"
  }
}
HCL
  rm "$work/adopt/generated.tf"
  ok "reviewed: kept the import of $adopt_id as sensu_api_key.adopted"

  say "Importing it (terraform apply): nothing is granted"
  tf_in adopt apply -auto-approve -input=false -var "username=$username" 2>&1 | tee "$work/adopt.log" | show
  grep -q "Resources: 1 imported, 0 added, 0 changed, 0 destroyed" <(sed -E 's/\x1b\[[0-9;]*m//g' "$work/adopt.log") \
    || fail "the apply did not just import the key"
  tf_in adopt plan -input=false -detailed-exitcode -no-color -var "username=$username" >/dev/null \
    || fail "the plan after the import is not empty"
  ok "imported; the plan after it is empty"

  say "Destroying it (terraform destroy) and proving it is revoked"
  tf_in adopt destroy -auto-approve -input=false -var "username=$username" 2>&1 | show
  [[ " $(key_ids) " == *" $adopt_id "* ]] && fail "the adopted key $adopt_id still exists"
  ok "key $adopt_id no longer exists"
  steps="$steps -> key granted out of band, found by query, imported, destroyed"
else
  say "Skipping the adopt step: $cli_name $cli_version has no terraform query (Terraform 1.14+)"
fi

say "Demo finished: $steps"
