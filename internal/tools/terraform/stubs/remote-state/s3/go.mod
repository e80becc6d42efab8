// Stands in for Terraform's s3 state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/s3

go 1.26.8
