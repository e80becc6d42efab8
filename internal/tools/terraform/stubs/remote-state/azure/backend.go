// Package azure stands in for Terraform's azurerm state backend, left out of this build.
package azure

import (
	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/backend/remote-state/notincluded"
)

// New is what Terraform's internal/backend/init calls for the "azurerm" backend.
func New() backend.Backend { return notincluded.New("azurerm") }
