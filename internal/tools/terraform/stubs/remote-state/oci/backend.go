// Package oci stands in for Terraform's oci state backend, left out of this build.
package oci

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "oci" backend.
func New() backend.Backend { return notincluded.New("oci") }
