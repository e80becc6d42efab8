// Package kubernetes stands in for Terraform's kubernetes state backend, left out of this build.
package kubernetes

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "kubernetes" backend.
func New() backend.Backend { return notincluded.New("kubernetes") }
