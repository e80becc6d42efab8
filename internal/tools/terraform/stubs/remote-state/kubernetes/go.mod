// Stands in for Terraform's kubernetes state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/kubernetes

go 1.26.8
