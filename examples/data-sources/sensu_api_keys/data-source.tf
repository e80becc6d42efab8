# Every API key in the cluster.
data "sensu_api_keys" "all" {}

# Only the keys that authenticate as one user.
data "sensu_api_keys" "ci" {
  username = "ci-bot"
}

output "ci_key_ids" {
  value = data.sensu_api_keys.ci.api_keys[*].id
}

# Keys granted more than 90 days ago, for example to revoke or to bring under Terraform.
output "keys_older_than_90_days" {
  value = [
    for k in data.sensu_api_keys.all.api_keys : k.id
    if timecmp(k.created_at, timeadd(plantimestamp(), "-2160h")) < 0
  ]
}

# Warn at every plan about keys that outlive their user's access: a disabled user cannot log
# in, but its API keys still authenticate.
check "no_keys_of_disabled_users" {
  assert {
    condition = alltrue([for k in data.sensu_api_keys.all.api_keys : k.user_disabled != true])
    error_message = format("These API keys belong to disabled users and still authenticate: %s. Revoke them.", join(", ", [
      for k in data.sensu_api_keys.all.api_keys : "${k.id} (${k.username})" if k.user_disabled == true
    ]))
  }
}
