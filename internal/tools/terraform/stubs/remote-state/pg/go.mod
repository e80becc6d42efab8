// Stands in for Terraform's pg state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/pg

go 1.26.8
