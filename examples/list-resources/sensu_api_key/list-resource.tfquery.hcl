# Every key the cluster has (up to `limit`, 100 by default).
list "sensu_api_key" "all" {
  provider = sensu
}

# The keys of one user, with the attributes an import of each would start from.
list "sensu_api_key" "ci_bot" {
  provider         = sensu
  include_resource = true
  limit            = 500

  config {
    username = "ci-bot"
  }
}
