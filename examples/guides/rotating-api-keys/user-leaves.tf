# Every key in the cluster, whoever granted it, with whether its user is disabled.
data "sensu_api_keys" "all" {}

# Warns at every plan and apply (without failing them) about keys that still
# authenticate as a user who has been disabled.
check "no_keys_of_disabled_users" {
  assert {
    condition = alltrue([for k in data.sensu_api_keys.all.api_keys : k.user_disabled != true])
    error_message = format("API keys of disabled users still authenticate: %s", join(", ", [
      for k in data.sensu_api_keys.all.api_keys : "${k.id} (${k.username})" if k.user_disabled == true
    ]))
  }
}

# The service that used the departed user's key now gets a key of its own service user.
# Changing username replaces the key; with create_before_destroy the new key exists
# before the old one is revoked.
resource "sensu_api_key" "deploy" {
  username = "svc-deploy" # was "alice"

  lifecycle {
    create_before_destroy = true
  }
}
