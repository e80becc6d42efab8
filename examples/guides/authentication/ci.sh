# In a CI job: the URL and an API key of a cluster admin come from the CI system's secret store.
export SENSU_API_URL="https://sensu.example.com:8080"
export SENSU_API_KEY="$SENSU_TERRAFORM_KEY"
export SENSU_TRUSTED_CA_FILE="/etc/ssl/certs/sensu-ca.pem"
terraform apply -input=false -auto-approve
