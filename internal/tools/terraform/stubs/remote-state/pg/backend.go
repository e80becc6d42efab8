// Package pg stands in for Terraform's pg state backend, left out of this build.
package pg

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "pg" backend.
func New() backend.Backend { return notincluded.New("pg") }
