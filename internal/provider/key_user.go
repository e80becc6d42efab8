package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

// A key outlives its user's access: disabling a Sensu user (sensuctl user disable; Sensu
// never deletes users) refuses the user's logins, but its API keys keep authenticating on
// both generations. The provider reads each key's user, once per user per provider process
// (the client's cache), and says so. None of this ever fails a plan.

// Warning summaries, one per situation.
const (
	summaryDisabledUser = "Sensu API Key Of A Disabled User"
	summaryUnknownUser  = "Sensu API Key Of An Unknown User"
	summaryUserNotRead  = "Cannot Check The User Of A Sensu API Key"
)

// warnAboutKeyUser adds the warning a refresh of the key id gives when its user is
// disabled, unknown or cannot be read.
func warnAboutKeyUser(ctx context.Context, client *sensu.Client, id, username string, diags *diag.Diagnostics) {
	user, err := client.CachedUser(ctx, username)
	if err == nil {
		if user.Disabled {
			diags.AddWarning(summaryDisabledUser, disabledUserDetail(ctx, client, id, username))
		}
		return
	}
	addUserReadWarning(diags, "API key "+id, username, err)
}

func disabledUserDetail(ctx context.Context, client *sensu.Client, id, username string) string {
	revoke := "remove this sensu_api_key from the configuration and apply, or run `terraform destroy -target` on it"
	if gen, err := client.Generation(ctx); err == nil && !gen.NamesAreSecret() {
		revoke += fmt.Sprintf(", or run `sensuctl api-key revoke %s` (Terraform then plans a new key)", id)
	} else if err == nil {
		revoke += " (on Sensu Go 6.x `sensuctl api-key revoke` needs the key itself, which the state holds, not the id)"
	}
	return fmt.Sprintf("The Sensu user %q is disabled: Sensu refuses its logins, but its API key %s still "+
		"authenticates, since disabling a user revokes none of its keys. Anyone holding the key still acts as %q.\n\n"+
		"If the user has left, revoke the key: %s. If the user keeps its access, reinstate it with "+
		"`sensuctl user reinstate %s` and this warning goes away.",
		username, id, username, revoke, username)
}

// addUserReadWarning explains why the user of what (a key, or several) could not be
// checked. A cancelled read says nothing: Terraform is stopping.
func addUserReadWarning(diags *diag.Diagnostics, what, username string, err error) {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return
	case sensu.IsNotFound(err):
		diags.AddWarning(summaryUnknownUser, fmt.Sprintf(
			"Sensu has no user %q, the user of %s. Sensu never deletes users, so the user was removed outside "+
				"Sensu's API, or the key was granted for a name that never existed. Sensu refuses an API key whose user "+
				"does not exist; revoke the key if nothing should use it (remove the sensu_api_key from the configuration "+
				"and apply), or create the user again.\n\n%s", username, what, err))
	case sensu.IsForbidden(err):
		diags.AddWarning(summaryUserNotRead, fmt.Sprintf(
			"The provider's credentials may not read Sensu user %q, the user of %s, so it cannot tell whether the user "+
				"is disabled (a disabled user's API keys keep authenticating). Reading users takes a cluster admin, "+
				"as managing API keys does.\n\n%s", username, what, err))
	default:
		diags.AddWarning(summaryUserNotRead, fmt.Sprintf(
			"The provider could not read Sensu user %q, the user of %s, so it cannot tell whether the user is disabled "+
				"(a disabled user's API keys keep authenticating). The key itself was read.\n\n%s", username, what, err))
	}
}

// userDisabledValue is what a data source reports for a user read through the cache.
func userDisabledValue(r sensu.UserResult) types.Bool {
	if r.Err != nil || r.User == nil {
		return types.BoolNull()
	}
	return types.BoolValue(r.User.Disabled)
}
