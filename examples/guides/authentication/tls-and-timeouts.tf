provider "sensu" {
  api_url = "https://sensu.example.com:8080"
  api_key = var.sensu_api_key

  # CA certificates to trust in addition to the system's: a file on the machine that runs
  # Terraform, PEM text (here from a file in the configuration), or both.
  trusted_ca_file = "/etc/ssl/certs/sensu-ca.pem"
  trusted_ca_pem  = file("${path.module}/sensu-intermediate-ca.pem")

  # Each attempt of a request may take up to 30 seconds, and a request that failed
  # transiently is tried at most 1 + 6 times.
  timeout     = "30s"
  max_retries = 6
}
