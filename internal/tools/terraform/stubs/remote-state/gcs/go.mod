// Stands in for Terraform's gcs state backend module: see ../../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/gcs

go 1.26.8
