// Package cos stands in for Terraform's cos state backend, left out of this build.
package cos

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "cos" backend.
func New() backend.Backend { return notincluded.New("cos") }
