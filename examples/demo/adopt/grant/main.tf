# `make demo` grants the key to adopt with this configuration, then forgets it (terraform
# state rm): no state holds it afterwards, as for a key granted with `sensuctl api-key grant`.
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

resource "sensu_api_key" "by_hand" {
  username = var.username
}

output "id" {
  value = sensu_api_key.by_hand.id
}
