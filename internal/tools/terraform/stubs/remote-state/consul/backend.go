// Package consul stands in for Terraform's consul state backend, left out of this build.
package consul

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "consul" backend.
func New() backend.Backend { return notincluded.New("consul") }
