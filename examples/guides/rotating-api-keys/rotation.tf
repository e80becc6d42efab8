# A new key every 30 days, written to Vault where the monitoring jobs read it.
resource "time_rotating" "monitoring" {
  rotation_days = 30
}

resource "sensu_api_key" "monitoring" {
  username = "monitoring"

  # time_rotating gets a new id at the first apply after 30 days, which replaces the key.
  keepers = {
    rotation = time_rotating.monitoring.id
  }

  # Grant the new key, update the Vault secret, and only then revoke the old key.
  lifecycle {
    create_before_destroy = true
  }
}

resource "vault_kv_secret_v2" "sensu_monitoring" {
  mount = "secret"
  name  = "sensu/monitoring"
  data_json = jsonencode({
    api_key = sensu_api_key.monitoring.key
  })
}
