# A key for a job that this apply starts and that finishes before the apply ends: the
# key is revoked when Terraform closes the ephemeral resource, at the end of the run.
ephemeral "sensu_api_key" "job" {
  username = "maintenance-job"
}

# Handed to a write-only argument, the key reaches the job without being stored in the
# plan or the state. (For a key that must outlive the run, use the sensu_api_key
# resource with key_wo instead: see the guide "Keys without secrets in state".)
resource "aws_secretsmanager_secret_version" "job_key" {
  secret_id                = aws_secretsmanager_secret.job_key.id
  secret_string_wo         = ephemeral.sensu_api_key.job.key
  secret_string_wo_version = 1
}
