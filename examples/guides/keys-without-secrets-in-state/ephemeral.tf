# 2. An ephemeral key: Terraform 1.10+ or OpenTofu 1.11+. Granted when the run opens it,
# revoked when the run ends; it never reaches a plan or the state.
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

provider "sensu" {}

ephemeral "sensu_api_key" "run" {
  username = "terraform-ci"
}

provider "sensu" {
  alias   = "as_ci"
  api_key = ephemeral.sensu_api_key.run.key
}

# Listing API keys takes a cluster admin: terraform-ci is a member of cluster-admins.
data "sensu_api_keys" "mine" {
  provider = sensu.as_ci
  username = "terraform-ci"
}
