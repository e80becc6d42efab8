# 1. The key in the state: any Terraform or OpenTofu this provider supports.
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

provider "sensu" {}

resource "sensu_api_key" "monitoring" {
  username = "monitoring"
}

output "monitoring_key" {
  value     = sensu_api_key.monitoring.key
  sensitive = true
}
