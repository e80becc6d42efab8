# The configuration `make demo` applies: grant a key, look it up, list the user's keys.
# The provider is configured from the environment (SENSU_API_URL and credentials).
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

variable "username" {
  description = "The Sensu user the demo key authenticates as."
  type        = string
  default     = "admin"
}

provider "sensu" {}

resource "sensu_api_key" "demo" {
  username = var.username
  keepers = {
    purpose = "make demo"
  }
}

data "sensu_api_key" "demo" {
  id = sensu_api_key.demo.id
}

data "sensu_api_keys" "user" {
  username   = var.username
  depends_on = [sensu_api_key.demo]
}

output "id" {
  description = "The key's public id (safe to show)."
  value       = sensu_api_key.demo.id
}

output "lookup" {
  description = "What the sensu_api_key data source says about the key."
  value       = data.sensu_api_key.demo
}

output "keys_of_user" {
  description = "How many keys the user has."
  value       = length(data.sensu_api_keys.user.api_keys)
}

output "key" {
  description = "The secret key."
  value       = sensu_api_key.demo.key
  sensitive   = true
}
