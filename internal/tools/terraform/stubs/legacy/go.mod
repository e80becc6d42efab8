// Stands in for Terraform's internal/legacy module, which nothing in the CLI imports: see ../../go.mod.
module github.com/hashicorp/terraform/internal/legacy

go 1.26.8
