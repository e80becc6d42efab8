# `make demo` lists a user's keys with this, before and after the ephemeral step.
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

variable "username" {
  type    = string
  default = "admin"
}

provider "sensu" {}

data "sensu_api_keys" "user" {
  username = var.username
}

output "ids" {
  value = join(" ", [for k in data.sensu_api_keys.user.api_keys : k.id])
}
