// Package notincluded is the state backend that the stubs in ../remote-state return: every
// use fails with an error that names the backend and says why it is missing (a backend block
// with arguments fails a step earlier, on "Unsupported argument": the stand-in has no schema).
// Terraform's own `local` backend, the one the provider's tests use, is not affected.
package notincluded

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/hashicorp/terraform/internal/backend"
	"github.com/hashicorp/terraform/internal/configs/configschema"
	"github.com/hashicorp/terraform/internal/states/statemgr"
	"github.com/hashicorp/terraform/internal/tfdiags"
)

// New returns the stand-in for the state backend called name.
func New(name string) backend.Backend { return notIncluded{name: name} }

type notIncluded struct{ name string }

func (notIncluded) ConfigSchema() *configschema.Block { return &configschema.Block{} }

func (b notIncluded) PrepareConfig(v cty.Value) (cty.Value, tfdiags.Diagnostics) {
	return v, b.fail()
}

func (b notIncluded) Configure(cty.Value) tfdiags.Diagnostics { return b.fail() }

func (b notIncluded) StateMgr(string) (statemgr.Full, tfdiags.Diagnostics) { return nil, b.fail() }

func (b notIncluded) DeleteWorkspace(string, bool) tfdiags.Diagnostics { return b.fail() }

func (b notIncluded) Workspaces() ([]string, tfdiags.Diagnostics) { return nil, b.fail() }

func (b notIncluded) fail() tfdiags.Diagnostics {
	var diags tfdiags.Diagnostics
	return diags.Append(tfdiags.Sourceless(tfdiags.Error,
		fmt.Sprintf("The %q backend is not included in this build", b.name),
		fmt.Sprintf("This Terraform was built from source for terraform-provider-sensu's test matrix, without the %q state backend. Use a Terraform release to use it.", b.name)))
}
