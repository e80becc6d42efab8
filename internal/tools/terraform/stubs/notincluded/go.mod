// The one implementation behind every stub backend in ../remote-state: see ../../go.mod.
module github.com/hashicorp/terraform/internal/backend/remote-state/notincluded

go 1.26.8
