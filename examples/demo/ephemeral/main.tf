# The ephemeral step of `make demo` (Terraform 1.10+, OpenTofu 1.11+): a key that exists only
# while the run lasts, used as the credentials of a second provider block, and revoked when
# the run ends. It never reaches the plan or the state.
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

variable "username" {
  description = "The Sensu user the ephemeral key authenticates as (a cluster admin: it lists keys)."
  type        = string
  default     = "admin"
}

provider "sensu" {}

ephemeral "sensu_api_key" "run" {
  username = var.username
}

provider "sensu" {
  alias   = "with_key"
  api_key = ephemeral.sensu_api_key.run.key
}

data "sensu_api_keys" "seen_with_key" {
  provider = sensu.with_key
  username = var.username
}

output "ids_seen_with_the_ephemeral_key" {
  description = "The ids of the user's keys, listed with the ephemeral key during the run."
  value       = join(" ", [for k in data.sensu_api_keys.seen_with_key.api_keys : k.id])
}
