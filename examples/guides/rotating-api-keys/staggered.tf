locals {
  # A counter that goes up by one on the 1st of each month (UTC), at the time of the plan.
  month = tonumber(formatdate("YYYY", plantimestamp())) * 12 + tonumber(formatdate("M", plantimestamp()))
}

# Two keys that each live two months and are replaced in alternate months: a new key
# appears every month, and the previous one keeps working for another month.
resource "sensu_api_key" "blue" {
  username = "monitoring"
  keepers = {
    period = floor(local.month / 2)
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "sensu_api_key" "green" {
  username = "monitoring"
  keepers = {
    period = floor((local.month + 1) / 2)
  }
  lifecycle {
    create_before_destroy = true
  }
}

# Consumers are given the key that was replaced most recently.
resource "vault_kv_secret_v2" "sensu_monitoring" {
  mount = "secret"
  name  = "sensu/monitoring"
  data_json = jsonencode({
    api_key = local.month % 2 == 0 ? sensu_api_key.blue.key : sensu_api_key.green.key
  })
}
