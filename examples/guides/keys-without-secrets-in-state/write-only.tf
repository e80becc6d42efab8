# 3. A write-only secret: Sensu Go 7.x, and Terraform 1.11+ or OpenTofu 1.11+.
# The secret is generated for the run (ephemeral random_password, hashicorp/random 3.7+),
# handed to Sensu as a bcrypt hash and to a secret store through write-only arguments,
# and written to no plan or state.
ephemeral "random_password" "monitoring" {
  length  = 48
  special = false
}

resource "sensu_api_key" "monitoring" {
  username       = "monitoring"
  name           = "monitoring"
  key_wo         = ephemeral.random_password.monitoring.result
  key_wo_version = 1 # change to rotate: the key is replaced with one for a new secret
}

resource "aws_secretsmanager_secret_version" "monitoring" {
  secret_id                = aws_secretsmanager_secret.monitoring.id
  secret_string_wo         = ephemeral.random_password.monitoring.result
  secret_string_wo_version = sensu_api_key.monitoring.key_wo_version
}
