// Stands in for Terraform's consul state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/consul

go 1.26.8
