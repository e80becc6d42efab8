// Package gcs stands in for Terraform's gcs state backend, left out of this build.
package gcs

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "gcs" backend.
func New() backend.Backend { return notincluded.New("gcs") }
