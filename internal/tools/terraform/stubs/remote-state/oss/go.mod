// Stands in for Terraform's oss state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/oss

go 1.26.8
