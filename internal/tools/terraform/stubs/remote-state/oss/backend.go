// Package oss stands in for Terraform's oss state backend, left out of this build.
package oss

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "oss" backend.
func New() backend.Backend { return notincluded.New("oss") }
