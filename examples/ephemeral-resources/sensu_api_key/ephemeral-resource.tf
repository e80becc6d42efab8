terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

# Configured from the environment (eval $(sensuctl env)) as a cluster admin.
provider "sensu" {}

# A key of the terraform-ci user that exists only while this plan or apply runs.
ephemeral "sensu_api_key" "ci" {
  username = "terraform-ci"
}

# A second provider block that authenticates with it: everything that uses this block
# acts as terraform-ci, and no credential of terraform-ci is stored anywhere.
provider "sensu" {
  alias   = "as_ci"
  api_key = ephemeral.sensu_api_key.ci.key
}

# Listing API keys takes a cluster admin: terraform-ci is a member of cluster-admins.
data "sensu_api_keys" "ci" {
  provider = sensu.as_ci
  username = "terraform-ci"
}
