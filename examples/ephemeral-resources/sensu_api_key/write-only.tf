terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
    aws   = { source = "hashicorp/aws" }
  }
}

provider "sensu" {}
provider "aws" {}

# A key for a job that runs while this apply runs: it is revoked when Terraform closes the
# ephemeral resource at the end of the apply, so whatever receives it must use it before then.
ephemeral "sensu_api_key" "job" {
  username = "maintenance-job"
}

resource "aws_secretsmanager_secret" "job_key" {
  name = "sensu/maintenance-job"
}

# A write-only argument takes the key without storing it in the plan or the state. Each apply
# grants a new key, so the version changes with every plan to write each run's key.
resource "aws_secretsmanager_secret_version" "job_key" {
  secret_id                = aws_secretsmanager_secret.job_key.id
  secret_string_wo         = ephemeral.sensu_api_key.job.key
  secret_string_wo_version = parseint(formatdate("YYYYMMDDhhmmss", plantimestamp()), 10)
}
