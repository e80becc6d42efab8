// Stands in for Terraform's cos state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/cos

go 1.26.8
