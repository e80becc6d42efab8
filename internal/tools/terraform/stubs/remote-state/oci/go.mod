// Stands in for Terraform's oci state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/oci

go 1.26.8
