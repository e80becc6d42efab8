package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

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
	case sensu.IsRefreshRefused(err):
		detail = "The provider's access token has expired and Sensu refused to renew it with the refresh token. " +
			"On Sensu Go 6.x a refresh token works only once, and Terraform starts the provider several times per run: " +
			"the first renewal used it up (or sensuctl did). Run `eval $(sensuctl env)` again for a fresh pair, or better, " +
			"configure username and password or an api_key, which every provider process can reuse.\n\n" + err.Error()
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
