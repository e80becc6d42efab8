# The keys of the demo's user.
list "sensu_api_key" "found" {
  provider = sensu

  config {
    username = var.username
  }
}
