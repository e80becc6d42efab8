# 3. A write-only secret: Sensu Go 7.x, and Terraform 1.11+ or OpenTofu 1.11+.
# The secret is generated in the run (ephemeral random_password), handed to Sensu as a
# bcrypt hash and to a secret store through write-only arguments, and written to no plan
# or state.
terraform {
  required_providers {
    sensu  = { source = "sensu-community/sensu" }
    random = { source = "hashicorp/random", version = ">= 3.7.0" }
    aws    = { source = "hashicorp/aws" }
  }
}

provider "sensu" {}
provider "aws" {}

ephemeral "random_password" "monitoring" {
  length  = 48
  special = false
}

resource "sensu_api_key" "monitoring" {
  username = "monitoring"
  name     = "monitoring"
  key_wo   = ephemeral.random_password.monitoring.result
  # Terraform cannot see a new secret: change the version to replace the key with one for it.
  key_wo_version = 1
}

resource "aws_secretsmanager_secret" "monitoring" {
  name = "sensu/monitoring"
}

resource "aws_secretsmanager_secret_version" "monitoring" {
  secret_id                = aws_secretsmanager_secret.monitoring.id
  secret_string_wo         = ephemeral.random_password.monitoring.result
  secret_string_wo_version = sensu_api_key.monitoring.key_wo_version
}
