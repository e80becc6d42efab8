terraform {
  required_providers {
    sensu = {
      source = "sensu-community/sensu"
    }
  }
}

variable "sensu_api_url" {
  type        = string
  description = "URL of the Sensu backend API, for example https://sensu.example.com:8080."
}

variable "sensu_username" {
  type        = string
  description = "A member of cluster-admins."
}

variable "sensu_password" {
  type      = string
  sensitive = true
}

# Username and password: the provider logs in when it first needs the API and renews its
# access token as needed.
provider "sensu" {
  api_url  = var.sensu_api_url
  username = var.sensu_username
  password = var.sensu_password
}

# An API key of a cluster admin: no login at all.
#
# provider "sensu" {
#   api_url = var.sensu_api_url
#   api_key = var.sensu_api_key
# }

# An access token and its refresh token, as sensuctl holds them. Access tokens last 5 minutes,
# and on Sensu Go 6.x a refresh token works only once: prefer a password or an API key.
#
# provider "sensu" {
#   api_url       = var.sensu_api_url
#   access_token  = var.sensu_access_token
#   refresh_token = var.sensu_refresh_token
# }

# Everything from the environment, for example after `eval $(sensuctl env)` or with
# SENSU_API_URL and SENSU_API_KEY set by a CI system.
#
# provider "sensu" {}
