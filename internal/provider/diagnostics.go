package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

// clientFrom takes the client the provider's Configure handed over. Nil data means the
// provider is not configured yet (validation); the caller then returns quietly.
func clientFrom(data any, diags *diag.Diagnostics) *sensu.Client {
	if data == nil {
		return nil
	}
	client, ok := data.(*sensu.Client)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *sensu.Client, got %T. Please report this issue to the provider developers.", data))
		return nil
	}
	return client
}

// addAPIError turns a client error into a diagnostic that says what went wrong and what to
// do. summary names the action ("Error Granting Sensu API Key"); an error about the username
// is put on usernameAttr when one is given.
func addAPIError(diags *diag.Diagnostics, client *sensu.Client, summary string, err error, usernameAttr *path.Path) {
	url := client.URL()
	var detail string
	switch {
	case sensu.IsUnresolvedGrant(err):
		diags.AddError("Sensu API Key Grant Could Not Be Confirmed",
			"Sensu did not answer the grant, and the provider could not make sure whether it created a key. "+
				"Terraform does not track such a key, so check for one and revoke it:\n\n"+err.Error())
		return
	case sensu.IsUserNotFound(err):
		detail = "Sensu has no such user. Create the user first (for example with `sensuctl user create`) or correct the username.\n\n" + err.Error()
		if usernameAttr != nil {
			diags.AddAttributeError(*usernameAttr, summary, detail)
			return
		}
	case sensu.IsGenerationError(err):
		detail = fmt.Sprintf("Sensu at %s cannot do this: %s.", url, err)
	case sensu.IsRefreshRefused(err):
		detail = "The provider's access token has expired and Sensu refused to renew it with the refresh token. " +
			"On Sensu Go 6.x a refresh token works only once, and Terraform starts the provider several times per run: " +
			"the first renewal used it up (or sensuctl did). It also works only while its login session lasts, about 6 minutes " +
			"after it was issued (Sensu 6.12.0 keeps a session for the access token's 5 minutes and one more), so a shell " +
			"configured by `eval $(sensuctl env)` longer ago than that cannot renew at all. Run `eval $(sensuctl env)` again " +
			"for a fresh pair, or better, configure username and password or an api_key, which every provider process can reuse.\n\n" + err.Error()
	case sensu.IsUnauthorized(err):
		detail = unauthorizedHelp(client.AuthMethod()) + "\n\n" + err.Error()
	case sensu.IsForbidden(err):
		detail = "The provider's credentials are valid but not allowed to manage API keys (HTTP 403). API keys are cluster-wide: " +
			"only cluster admins (members of the cluster-admins group) can grant, view or revoke them. " +
			"Configure the provider with a cluster admin's credentials.\n\n" + err.Error()
	case sensu.IsTLSVerification(err):
		detail = fmt.Sprintf("The TLS certificate of %s could not be verified. If the backend uses a private CA, set trusted_ca_file "+
			"(SENSU_TRUSTED_CA_FILE) or trusted_ca_pem to its CA certificate. insecure_skip_tls_verify turns verification off "+
			"(for testing only).\n\n%s", url, err)
	case sensu.IsTransportError(err):
		detail = fmt.Sprintf("Could not reach the Sensu API at %s. Check api_url (SENSU_API_URL) and that the backend is running "+
			"and reachable from here.\n\n%s", url, err)
	case sensu.IsUnexpectedResponse(err):
		detail = fmt.Sprintf("%s answered with something that is not a Sensu API response. Check that api_url (SENSU_API_URL) "+
			"points at the API of a Sensu Go backend (port 8080 by default), not at a web UI or a proxy error page.\n\n%s", url, err)
	default:
		detail = fmt.Sprintf("Sensu at %s returned an error:\n\n%s", url, err)
	}
	diags.AddError(summary, detail)
}

func unauthorizedHelp(method sensu.AuthMethod) string {
	switch method {
	case sensu.AuthAPIKey:
		return "Sensu rejected the provider's API key (HTTP 401): it is wrong or has been revoked. Check api_key (SENSU_API_KEY)."
	case sensu.AuthAccessToken:
		return "Sensu rejected the provider's access token (HTTP 401). Access tokens expire after 5 minutes: set refresh_token " +
			"(SENSU_REFRESH_TOKEN) so the provider can renew it, run `eval $(sensuctl env)` again, or authenticate with " +
			"username and password or an API key."
	default:
		return "Sensu rejected the provider's username or password (HTTP 401). Check username and password " +
			"(SENSU_USERNAME, SENSU_PASSWORD)."
	}
}

// clientValidator applies one of the client's own input rules at validation time, so the
// provider and the client cannot disagree about what is valid.
type clientValidator struct {
	describe string // what a valid value is, for the docs
	check    func(string) error
}

var _ validator.String = clientValidator{}

func (v clientValidator) Description(context.Context) string { return "must be " + v.describe }
func (v clientValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v clientValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value", "The value is not "+v.describe+": "+err.Error()+".")
	}
}

// addGrantError is addAPIError for a grant: a taken name is put on `name` with its owner,
// anything about the user on `username`.
func addGrantError(diags *diag.Diagnostics, client *sensu.Client, summary string, err error) {
	var taken *sensu.NameTakenError
	if errors.As(err, &taken) {
		diags.AddAttributeError(path.Root("name"), "Sensu API Key Name Taken",
			fmt.Sprintf("Sensu at %s already has %s. Sensu would silently overwrite that key, so the provider grants nothing. "+
				"Choose another name, or, if the key is meant to be managed here, adopt it with `terraform import` by the id %q "+
				"(or an import block). A key replaced with create_before_destroy needs a new name too.", client.URL(), err, taken.Name))
		return
	}
	usernameAttr := path.Root("username")
	addAPIError(diags, client, summary, err, &usernameAttr)
}

// checkGrantOptions adds an error, at plan time, for a chosen name or secret that the
// backend's generation cannot take. It does nothing before the provider is configured.
func checkGrantOptions(ctx context.Context, client *sensu.Client, name, secret types.String, diags *diag.Diagnostics) {
	if client == nil || (name.IsNull() && secret.IsNull()) {
		return
	}
	gen, err := client.Generation(ctx)
	if err != nil {
		addAPIError(diags, client, "Error Contacting Sensu", err, nil)
		return
	}
	if !gen.NamesAreSecret() {
		return
	}
	why := fmt.Sprintf("Sensu at %s is %s. It generates every API key itself, and the key is also the key's name, "+
		"which appears in the URL of every request about the key.", client.URL(), gen)
	if !name.IsNull() {
		diags.AddAttributeError(path.Root("name"), "Sensu API Key Names Need Sensu Go 7.x",
			why+" So a name cannot be chosen: remove `name`. The provider identifies a 6.x key by `id`, the SHA-256 digest of the key.")
	}
	if !secret.IsNull() {
		diags.AddAttributeError(path.Root("key_wo"), "Write-Only Sensu API Keys Need Sensu Go 7.x",
			why+" So the secret cannot be chosen, and the provider must hold the key in state to read and revoke it: remove "+
				"`key_wo` and `key_wo_version` and use `key`, or the `sensu_api_key` ephemeral resource, which keeps the key out of the state.")
	}
}

// revokeByHand says how to revoke a key outside Terraform, by its public id.
func revokeByHand(gen sensu.Generation, id string) string {
	if !gen.NamesAreSecret() {
		return fmt.Sprintf("Revoke it by hand with `sensuctl api-key revoke %s --skip-confirm`.", id)
	}
	return fmt.Sprintf("On Sensu Go 6.x the key is its own name, so find it by its SHA-256 digest and revoke it by hand:\n\n"+
		"  sensuctl api-key list --format json | jq -r '.[].metadata.name' | while read -r k; do\n"+
		"    [ \"$(printf %%s \"$k\" | sha256sum | cut -c1-64)\" = %s ] && sensuctl api-key revoke \"$k\" --skip-confirm\n"+
		"  done", id)
}
