package sensu

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// callerSecret is a secret a configuration would pass as key_wo.
const callerSecret = "Xq7#kP2vR9mW4tY8zB3nC6fH1jL5sD0g"

// storedKey7 is a 7.x GET answer for a key that is not the client's: another hash.
func storedKey7(name, username, createdBy string) string {
	return `{"type":"APIKey","api_version":"core/v2","metadata":{"name":"` + name + `","created_by":"` + createdBy +
		`"},"spec":{"metadata":{"name":"` + name + `","created_by":"` + createdBy + `"},"username":"` + username +
		`","created_at":1795769926,"hash":"JDJhJDEwJGFiY2RlZmdoaWprbG1ub3BxcnN0dXVNVGhpc0lzTm90QUhhc2g="}}`
}

func client7(t *testing.T, url string, maxRetries int) *Client {
	cfg := testConfig(url)
	cfg.Generation = Generation7
	cfg.MaxRetries = maxRetries
	return newTestClient(t, cfg)
}

// TestGrant7ChosenName: a free name costs one read (404) and the PUT, nothing else.
func TestGrant7ChosenName(t *testing.T) {
	auth := "Key " + adminAPIKey
	g := &grant7Check{t: t, username: "dev", nameRule: regexp.MustCompile(`^ci-bot$`)}
	s := newScriptedServer(t, "terraform-provider-sensu/test",
		exchange{method: "GET", path: "/api/core/v2/apikeys/ci-bot", auth: auth, status: 404,
			header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound},
		exchange{method: "PUT", path: "/api/core/v2/apikeys", auth: auth, bodyType: appJSON, verify: g.verify, status: 201,
			header: map[string]string{"Content-Type": textPlain}, reply: g.reply(`{"name":%q,"key":""}`)},
	)
	k, err := client7(t, s.URL(), 3).CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "dev", Name: "ci-bot"})
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if k.ID != "ci-bot" || k.Name != "ci-bot" || k.Username != "dev" {
		t.Errorf("key = %s/%s for %s, want ci-bot for dev", k.ID, k.Name, k.Username)
	}
	if bcrypt.CompareHashAndPassword(g.hash, []byte(k.Key)) != nil {
		t.Error("the returned key does not match the hash that was sent")
	}
}

// TestGrant7NameTaken: a name that exists is never PUT over; the error names its owner.
func TestGrant7NameTaken(t *testing.T) {
	s := newScriptedServer(t, "terraform-provider-sensu/test",
		exchange{method: "GET", path: "/api/core/v2/apikeys/ci-bot", auth: "Key " + adminAPIKey, status: 200,
			header: map[string]string{"Content-Type": appJSON}, respBody: storedKey7("ci-bot", "deploy", "alice")},
	)
	_, err := client7(t, s.URL(), 3).CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "dev", Name: "ci-bot"})
	var taken *NameTakenError
	if !errors.As(err, &taken) || !IsNameTaken(err) {
		t.Fatalf("err = %v, want a NameTakenError", err)
	}
	if taken.Username != "deploy" || taken.CreatedBy != "alice" {
		t.Errorf("taken = %+v, want the owner deploy, granted by alice", taken)
	}
	if want := `an API key named "ci-bot" already exists for user "deploy", granted by "alice"`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// TestGrant7CallerSecret: only the bcrypt hash of a caller's secret travels; the secret
// appears in no request, no log and no answer other than the key handed back.
func TestGrant7CallerSecret(t *testing.T) {
	auth := "Key " + adminAPIKey
	g := &grant7Check{t: t, username: "dev", nameRule: regexp.MustCompile(`^tf-ephemeral-[0-9a-f]{32}$`)}
	var sent []byte
	s := newScriptedServer(t, "terraform-provider-sensu/test",
		exchange{method: "PUT", path: "/api/core/v2/apikeys", auth: auth, bodyType: appJSON, status: 201,
			verify: func(t *testing.T, body []byte) { sent = body; g.verify(t, body) },
			header: map[string]string{"Content-Type": textPlain}, reply: g.reply(`{"name":%q,"key":""}`)},
	)
	ctx, logs := logContext()
	k, err := client7(t, s.URL(), 3).CreateAPIKey(ctx, CreateAPIKeyRequest{
		Username: "dev", Secret: callerSecret, NamePrefix: EphemeralNamePrefix, Labels: map[string]string{EphemeralLabel: "true"},
	})
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if k.Key != callerSecret {
		t.Error("the returned key is not the caller's secret")
	}
	if bcrypt.CompareHashAndPassword(g.hash, []byte(callerSecret)) != nil {
		t.Error("the hash sent is not the caller's secret's")
	}
	if cost, _ := bcrypt.Cost(g.hash); cost != bcrypt.MinCost {
		t.Errorf("bcrypt cost %d, want %d: Sensu 7.x checks every key's hash on each Key request", cost, bcrypt.MinCost)
	}
	if !strings.Contains(string(sent), `"labels":{"terraform_ephemeral":"true"}`) {
		t.Errorf("the grant body has no ephemeral label: %s", sent)
	}
	assertNoSecrets(t, "request body", string(sent), callerSecret)
	assertNoSecrets(t, "logs", logs.String(), callerSecret)
}

// TestGrant7CallerSecretIgnored: a backend that makes up its own secret although the caller
// gave one has created a key nobody can use: it is revoked, and the error says so.
func TestGrant7CallerSecretIgnored(t *testing.T) {
	auth := "Key " + adminAPIKey
	g := &grant7Check{t: t, username: "dev"}
	s := newScriptedServer(t, "terraform-provider-sensu/test",
		exchange{method: "PUT", path: "/api/core/v2/apikeys", auth: auth, bodyType: appJSON, verify: g.verify, status: 201,
			header: map[string]string{"Content-Type": textPlain}, reply: g.reply(`{"name":%q,"key":"9963cffb-155e-4a5b-a56f-5fbc08bb7d0b"}`)},
		exchange{method: "DELETE", pathFunc: g.keyPath, auth: auth, status: 204},
	)
	_, err := client7(t, s.URL(), 3).CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "dev", Secret: callerSecret})
	if err == nil || !strings.Contains(err.Error(), "was revoked") || !strings.Contains(err.Error(), "generated its own secret") {
		t.Fatalf("err = %v, want a failure that says the key was revoked and why", err)
	}
	assertNoSecrets(t, "error", err.Error(), callerSecret, "9963cffb-155e-4a5b-a56f-5fbc08bb7d0b")
}

// TestGrant7ChosenNameAmbiguous: after an unanswered PUT, a key under a chosen name that does
// not carry this grant's hash may be another client's: it is neither overwritten nor revoked.
func TestGrant7ChosenNameAmbiguous(t *testing.T) {
	auth := "Key " + adminAPIKey
	for _, tc := range []struct {
		name       string
		maxRetries int
		want       func(error) bool
	}{
		// Retries allowed: the read-back before the retry finds a stranger's key and stops.
		{"before a retry", 3, func(err error) bool { return strings.Contains(err.Error(), "not overwriting it") }},
		// No retries: settling finds the same, and says it left that key alone; it is not an
		// unresolved grant, whose message would tell the operator to revoke the key.
		{"when settling", 0, func(err error) bool {
			return !IsUnresolvedGrant(err) && strings.Contains(err.Error(), "it was left alone, and nothing of this grant remains")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &grant7Check{t: t, username: "dev", nameRule: regexp.MustCompile(`^ci-bot$`)}
			s := newScriptedServer(t, "terraform-provider-sensu/test",
				exchange{method: "GET", path: "/api/core/v2/apikeys/ci-bot", auth: auth, status: 404,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound},
				exchange{method: "PUT", path: "/api/core/v2/apikeys", auth: auth, bodyType: appJSON, verify: g.verify, status: 502,
					header: map[string]string{"Content-Type": "text/html"}, respBody: "<html>Bad Gateway</html>"},
				exchange{method: "GET", path: "/api/core/v2/apikeys/ci-bot", auth: auth, status: 200,
					header: map[string]string{"Content-Type": appJSON}, respBody: storedKey7("ci-bot", "dev", "alice")},
			)
			_, err := client7(t, s.URL(), tc.maxRetries).CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "dev", Name: "ci-bot"})
			if err == nil || !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestGrant6RefusesChoices: on 6.x a key is its own name, made by Sensu: neither a name nor a
// secret can be chosen, and the client says so without a request.
func TestGrant6RefusesChoices(t *testing.T) {
	s := newScriptedServer(t, "terraform-provider-sensu/test")
	cfg := testConfig(s.URL())
	cfg.Generation = Generation6
	c := newTestClient(t, cfg)
	for _, in := range []CreateAPIKeyRequest{{Username: "dev", Name: "ci-bot"}, {Username: "dev", Secret: callerSecret}} {
		_, err := c.CreateAPIKey(context.Background(), in)
		var gerr *GenerationError
		if !errors.As(err, &gerr) || !IsGenerationError(err) || !strings.Contains(err.Error(), "needs Sensu Go 7.x") {
			t.Errorf("CreateAPIKey(%+v) = %v, want a GenerationError", in.Name, err)
		}
		if err != nil {
			assertNoSecrets(t, "error", err.Error(), callerSecret)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	for _, tc := range []struct {
		secret, want string
	}{
		{callerSecret, ""},
		{strings.Repeat("a", 72), ""},
		{"short-secret", "has 12 characters"},
		{strings.Repeat("a", 73), "at most 72"},
		{"Xq7#kP2vR9mW4tY8 zB3nC6fH1jL5sD0g", "position 17"},
		{"Xq7#kP2vR9mW4tY8\nzB3nC6fH1jL5sD0g", "position 17"},
		{"Xq7#kP2vR9mW4tY8ézB3nC6fH1jL5sD0g", "position 17"},
	} {
		err := ValidateSecret(tc.secret)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateSecret(%d chars) = %v", len(tc.secret), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidateSecret(%d chars) = %v, want %q", len(tc.secret), err, tc.want)
		case err != nil:
			assertNoSecrets(t, "error", err.Error(), tc.secret)
		}
	}
}

func TestValidateKeyName(t *testing.T) {
	for name, ok := range map[string]bool{
		"ci-bot": true, "team.deploy:prod_1": true, "tf-ephemeral-00": true, strings.Repeat("n", 253): true,
		"": false, "has space": false, "a/b": false, "naïve": false, Digest("x"): false,
		".": false, "..": false, strings.Repeat("n", 254): false,
	} {
		if err := ValidateKeyName(name); (err == nil) != ok {
			t.Errorf("ValidateKeyName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
