// Package s3 stands in for Terraform's s3 state backend, left out of this build.
package s3

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "s3" backend.
func New() backend.Backend { return notincluded.New("s3") }
