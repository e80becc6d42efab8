# Sensu Go 7.x: list the ephemeral keys whose run never revoked them (the provider names
# them tf-ephemeral-…), with their user and creation time.
sensuctl api-key list --format json |
  jq -r 'select(.spec.metadata.name | startswith("tf-ephemeral-"))
         | [.spec.metadata.name, .spec.username, (.spec.created_at | todate)] | @tsv'

# Revoke one once you are sure no run is still using it.
sensuctl api-key revoke tf-ephemeral-0123456789abcdef0123456789abcdef --skip-confirm
