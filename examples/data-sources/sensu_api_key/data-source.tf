# Sensu Go 7.x: look a key up by its name.
data "sensu_api_key" "ci" {
  id = "surelyworkablemullet"
}

output "ci_key_owner" {
  value = data.sensu_api_key.ci.username
}

# Sensu Go 6.x: the id is the hex SHA-256 digest of the key, so a key that is held elsewhere
# is looked up by its digest and the key itself is never sent in a URL or shown in a plan.
variable "legacy_key" {
  type      = string
  sensitive = true
}

data "sensu_api_key" "legacy" {
  id = sha256(var.legacy_key)
}

output "legacy_key_granted_at" {
  value = data.sensu_api_key.legacy.created_at
}

# Stop the plan when the key a deployment uses belongs to a user who was disabled: Sensu
# refuses the user's logins but keeps its API keys working.
variable "deploy_key_id" {
  type = string
}

data "sensu_api_key" "deploy" {
  id = var.deploy_key_id

  lifecycle {
    postcondition {
      condition     = self.user_disabled != true
      error_message = "API key ${self.id} belongs to ${self.username}, who is disabled in Sensu, yet it still authenticates: revoke it."
    }
  }
}
