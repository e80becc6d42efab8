# A key that authenticates as the existing Sensu user "ci-bot".
resource "sensu_api_key" "ci" {
  username = "ci-bot"
}

# A key that is replaced every 30 days. The new key is granted before the old one is
# revoked, so whatever reads it in this configuration is updated in between.
resource "time_rotating" "monitoring" {
  rotation_days = 30
}

resource "sensu_api_key" "monitoring" {
  username = "monitoring"

  keepers = {
    rotation = time_rotating.monitoring.id
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The id is public (the key's name on Sensu Go 7.x, its SHA-256 digest on 6.x).
output "monitoring_key_id" {
  value = sensu_api_key.monitoring.id
}

# The key is a secret: Terraform only shows it on request (terraform output -raw).
output "monitoring_key" {
  value     = sensu_api_key.monitoring.key
  sensitive = true
}
