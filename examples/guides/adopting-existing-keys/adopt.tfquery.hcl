# adopt.tfquery.hcl, next to the configuration that configures the provider.
list "sensu_api_key" "ci_bot" {
  provider = sensu

  config {
    username = "ci-bot"
  }
}
