# Sensu Go 7.x: list the ephemeral keys left by runs that were killed before they could
# revoke them (every ephemeral key carries the label terraform_ephemeral=true), with their
# user and creation time.
sensuctl api-key list --label-selector 'terraform_ephemeral == true' --format json |
  jq -r '[.spec.metadata.name, .spec.username, (.spec.created_at | todate)] | @tsv'

# Revoke one once you are sure no run is still using it.
sensuctl api-key revoke tf-ephemeral-0123456789abcdef0123456789abcdef --skip-confirm
