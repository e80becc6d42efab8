// Package provider is the Terraform layer: the provider's configuration, the sensu_api_key
// resource, ephemeral resource and list resource, and the API key data sources. It talks to Sensu only through internal/sensu.
package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ provider.Provider                       = (*sensuProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*sensuProvider)(nil)
	_ provider.ProviderWithListResources      = (*sensuProvider)(nil)
)

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &sensuProvider{version: version} }
}

type sensuProvider struct {
	version string
}

type sensuProviderModel struct {
	APIURL                types.String `tfsdk:"api_url"`
	Username              types.String `tfsdk:"username"`
	Password              types.String `tfsdk:"password"`
	APIKey                types.String `tfsdk:"api_key"`
	AccessToken           types.String `tfsdk:"access_token"`
	RefreshToken          types.String `tfsdk:"refresh_token"`
	TrustedCAFile         types.String `tfsdk:"trusted_ca_file"`
	TrustedCAPEM          types.String `tfsdk:"trusted_ca_pem"`
	InsecureSkipTLSVerify types.Bool   `tfsdk:"insecure_skip_tls_verify"`
	Timeout               types.String `tfsdk:"timeout"`
	MaxRetries            types.Int64  `tfsdk:"max_retries"`
}

// Environment variables, exactly as `sensuctl env` exports them.
const (
	envAPIURL        = "SENSU_API_URL"
	envUsername      = "SENSU_USERNAME"
	envPassword      = "SENSU_PASSWORD"
	envAPIKey        = "SENSU_API_KEY"
	envAccessToken   = "SENSU_ACCESS_TOKEN"
	envTokenExpiry   = "SENSU_ACCESS_TOKEN_EXPIRES_AT"
	envRefreshToken  = "SENSU_REFRESH_TOKEN"
	envTrustedCAFile = "SENSU_TRUSTED_CA_FILE"
	envInsecure      = "SENSU_INSECURE_SKIP_TLS_VERIFY"
	envTimeout       = "SENSU_TIMEOUT"
)

func (p *sensuProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "sensu"
	resp.Version = p.version
}

func (p *sensuProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages [Sensu Go](https://docs.sensu.io/sensu-go/latest/) API keys on Sensu Go 6.x and 7.x. " +
			"Every argument is optional and falls back to the environment variable that `sensuctl env` exports, " +
			"so `eval $(sensuctl env)` configures the provider. Set exactly one way to authenticate: " +
			"`username` and `password`, `api_key`, or `access_token` (with `refresh_token`). " +
			"When the configuration sets a credential, the environment only completes that method " +
			"(for example `SENSU_PASSWORD` for a configured `username`); empty strings count as unset. " +
			"API keys are cluster-wide: the credentials must belong to a member of `cluster-admins`.",
		Attributes: map[string]schema.Attribute{
			"api_url": schema.StringAttribute{
				MarkdownDescription: "URL of the Sensu backend API, for example `https://sensu.example.com:8080`. Falls back to `SENSU_API_URL`.",
				Optional:            true,
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "Sensu user to log in as, with `password`. Falls back to `SENSU_USERNAME`.",
				Optional:            true,
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "Password of `username`. The provider logs in when it first needs the API, once per provider process (Terraform starts several per run), " +
					"renews the 5-minute access token before it expires, and logs in again if a renewal is refused. Falls back to `SENSU_PASSWORD`.",
				Optional:  true,
				Sensitive: true,
			},
			"api_key": schema.StringAttribute{
				MarkdownDescription: "Sensu API key to authenticate with (`Authorization: Key …`); no login is needed. Falls back to `SENSU_API_KEY`. " +
					"Do not use a key that this configuration itself rotates.",
				Optional:  true,
				Sensitive: true,
			},
			"access_token": schema.StringAttribute{
				MarkdownDescription: "Sensu access token, as issued by `sensuctl` or `GET /auth`. Access tokens expire after 5 minutes: set `refresh_token` too. " +
					"On Sensu Go 6.x a refresh token works only once, and only for about 6 minutes after it was issued, and each provider process " +
					"holds its own copy, so prefer `username`/`password` " +
					"or `api_key` for Terraform. Falls back to `SENSU_ACCESS_TOKEN`; `SENSU_ACCESS_TOKEN_EXPIRES_AT` is read only when the token comes from the environment.",
				Optional:  true,
				Sensitive: true,
			},
			"refresh_token": schema.StringAttribute{
				MarkdownDescription: "Refresh token that goes with `access_token`, used to renew it when it expires. Falls back to `SENSU_REFRESH_TOKEN`.",
				Optional:            true,
				Sensitive:           true,
			},
			"trusted_ca_file": schema.StringAttribute{
				MarkdownDescription: "Path to a PEM file of CA certificates to trust, in addition to the system's, for an HTTPS `api_url`. Falls back to `SENSU_TRUSTED_CA_FILE`.",
				Optional:            true,
			},
			"trusted_ca_pem": schema.StringAttribute{
				MarkdownDescription: "PEM text of CA certificates to trust, in addition to the system's and `trusted_ca_file`'s.",
				Optional:            true,
			},
			"insecure_skip_tls_verify": schema.BoolAttribute{
				MarkdownDescription: "Skip verification of the backend's TLS certificate. Insecure: use only for testing. Defaults to `false`; falls back to `SENSU_INSECURE_SKIP_TLS_VERIFY`.",
				Optional:            true,
			},
			"timeout": schema.StringAttribute{
				MarkdownDescription: "Timeout of each attempt of an API request (each retry gets its own), as a Go duration such as `15s` or `1m`. Defaults to `15s`, like `sensuctl`; falls back to `SENSU_TIMEOUT`.",
				Optional:            true,
			},
			"max_retries": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How many times to retry a request that failed transiently (connection errors and timeouts, HTTP 429, and 5xx other than 501), "+
					"with exponential backoff from 250 ms to 8 s and `Retry-After` honoured on 429 and 503. Defaults to `%d`; `0` disables retries. "+
					"A grant is never repeated blindly: see the resource's documentation on how an unanswered grant is resolved without leaving a key behind.", sensu.DefaultMaxRetries),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(0, 20)},
			},
		},
	}
}

func (p *sensuProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config sensuProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, ok := clientConfig(config, resp)
	if !ok {
		return
	}
	cfg.UserAgent = fmt.Sprintf("terraform-provider-sensu/%s (Terraform %s)", p.version, req.TerraformVersion)

	client, err := sensu.New(cfg)
	var caErr *sensu.CAError
	switch {
	case errors.As(err, &caErr) && caErr.Source == sensu.CAFromPEM:
		resp.Diagnostics.AddAttributeError(path.Root("trusted_ca_pem"), "Invalid Trusted CA", err.Error()+". Give the PEM text of one or more CA certificates.")
		return
	case errors.As(err, &caErr):
		resp.Diagnostics.AddAttributeError(path.Root("trusted_ca_file"), "Invalid Trusted CA File",
			fmt.Sprintf("%s%s. Point it at a PEM file of CA certificates.", err, fromEnvNote(config.TrustedCAFile, envTrustedCAFile)))
		return
	case err != nil:
		resp.Diagnostics.AddError("Invalid Sensu Provider Configuration", err.Error())
		return
	}
	tflog.Debug(ctx, "Configured the Sensu client", map[string]any{"api_url": client.URL(), "auth": string(client.AuthMethod())})
	resp.ResourceData = client
	resp.DataSourceData = client
	resp.EphemeralResourceData = client
	resp.ListResourceData = client
}

// settings resolves each argument against its environment fallback, remembering where the
// value came from so errors name what the user actually set.
type settings struct {
	resp *provider.ConfigureResponse
}

func (s settings) unknown(attr string, env string) {
	detail := fmt.Sprintf("The provider cannot connect to Sensu because %q is not known until apply. "+
		"Set it to a value known at plan time", attr)
	if env != "" {
		detail += fmt.Sprintf(", or leave it out and set %s", env)
	}
	s.resp.Diagnostics.AddAttributeError(path.Root(attr), "Unknown Sensu Provider Argument", detail+".")
}

// str returns the configured value, else the environment variable's. An empty string counts
// as unset on both sides: `sensuctl env` exports empty variables, and a variable's default
// of "" should not hide the environment.
func (s settings) str(v types.String, attr, env string, useEnv bool) string {
	if v.IsUnknown() {
		s.unknown(attr, env)
		return ""
	}
	if v.ValueString() != "" {
		return v.ValueString()
	}
	if env != "" && useEnv {
		return os.Getenv(env)
	}
	return ""
}

// credential is one argument of an authentication method.
type credential struct {
	attr, env string
	value     types.String
	method    sensu.AuthMethod
}

func clientConfig(m sensuProviderModel, resp *provider.ConfigureResponse) (sensu.Config, bool) {
	s := settings{resp: resp}
	creds := []credential{
		{"username", envUsername, m.Username, sensu.AuthPassword},
		{"password", envPassword, m.Password, sensu.AuthPassword},
		{"api_key", envAPIKey, m.APIKey, sensu.AuthAPIKey},
		{"access_token", envAccessToken, m.AccessToken, sensu.AuthAccessToken},
		{"refresh_token", envRefreshToken, m.RefreshToken, sensu.AuthAccessToken},
	}
	// The configuration picks the method when it sets any credential; the environment then
	// only completes that method (SENSU_PASSWORD for a configured username, say). Otherwise
	// the environment decides. So a shell configured by `eval $(sensuctl env)` never turns
	// an explicit api_key into "two ways to authenticate".
	configured := map[sensu.AuthMethod]bool{}
	for _, c := range creds {
		if !c.value.IsUnknown() && c.value.ValueString() != "" {
			configured[c.method] = true
		}
	}
	fromEnv := func(method sensu.AuthMethod) bool { return len(configured) == 0 || configured[method] }
	values := map[string]string{}
	for _, c := range creds {
		values[c.attr] = s.str(c.value, c.attr, c.env, fromEnv(c.method))
	}

	cfg := sensu.Config{
		APIURL:        s.str(m.APIURL, "api_url", envAPIURL, true),
		Username:      values["username"],
		Password:      values["password"],
		APIKey:        values["api_key"],
		AccessToken:   values["access_token"],
		RefreshToken:  values["refresh_token"],
		TrustedCAFile: s.str(m.TrustedCAFile, "trusted_ca_file", envTrustedCAFile, true),
		TrustedCAPEM:  s.str(m.TrustedCAPEM, "trusted_ca_pem", "", false),
		MaxRetries:    sensu.DefaultMaxRetries,
	}
	timeout := s.str(m.Timeout, "timeout", envTimeout, true)
	if m.InsecureSkipTLSVerify.IsUnknown() {
		s.unknown("insecure_skip_tls_verify", envInsecure)
	}
	if m.MaxRetries.IsUnknown() {
		s.unknown("max_retries", "")
	}
	if resp.Diagnostics.HasError() {
		return cfg, false
	}

	if cfg.APIURL == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_url"), "Missing Sensu API URL",
			"Set api_url in the provider configuration, or the SENSU_API_URL environment variable, "+
				"to the URL of the Sensu backend API, for example https://sensu.example.com:8080.")
	} else if _, err := sensu.ValidateAPIURL(cfg.APIURL); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("api_url"), "Invalid Sensu API URL",
			fmt.Sprintf("The Sensu API URL%s is not usable: %s.", fromEnvNote(m.APIURL, envAPIURL), err))
	}

	if !m.InsecureSkipTLSVerify.IsNull() {
		cfg.InsecureSkipTLSVerify = m.InsecureSkipTLSVerify.ValueBool()
	} else if raw := os.Getenv(envInsecure); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("insecure_skip_tls_verify"), "Invalid SENSU_INSECURE_SKIP_TLS_VERIFY",
				fmt.Sprintf("SENSU_INSECURE_SKIP_TLS_VERIFY must be true or false, not %q.", raw))
		}
		cfg.InsecureSkipTLSVerify = b
	}

	if timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			resp.Diagnostics.AddAttributeError(path.Root("timeout"), "Invalid Sensu Request Timeout",
				fmt.Sprintf("The timeout%s must be a positive Go duration such as \"15s\" or \"1m\", not %q.", fromEnvNote(m.Timeout, envTimeout), timeout))
		}
		cfg.Timeout = d
	}
	if !m.MaxRetries.IsNull() {
		cfg.MaxRetries = int(m.MaxRetries.ValueInt64())
	}

	if cfg.AccessToken != "" && m.AccessToken.ValueString() == "" {
		if raw := os.Getenv(envTokenExpiry); raw != "" {
			if secs, err := strconv.ParseInt(raw, 10, 64); err == nil && secs > 0 {
				cfg.AccessTokenExpiresAt = time.Unix(secs, 0)
			}
		}
	}

	if _, err := cfg.Method(); err != nil {
		resp.Diagnostics.AddAttributeError(authAttribute(cfg), "Invalid Sensu Credentials", credentialsHelp(err, len(configured) == 0))
	}
	return cfg, !resp.Diagnostics.HasError()
}

func fromEnvNote(v types.String, env string) string {
	if v.ValueString() == "" {
		return " (from " + env + ")"
	}
	return ""
}

// authAttribute picks the argument a credentials error is best reported on.
func authAttribute(cfg sensu.Config) path.Path {
	switch {
	case cfg.Username != "" && cfg.Password == "":
		return path.Root("password")
	case cfg.Password != "" && cfg.Username == "":
		return path.Root("username")
	case cfg.APIKey != "":
		return path.Root("api_key")
	case cfg.AccessToken != "" || cfg.RefreshToken != "":
		return path.Root("access_token")
	}
	return path.Root("username")
}

func credentialsHelp(err error, fromEnv bool) string {
	var b strings.Builder
	b.WriteString("The provider needs exactly one way to authenticate to Sensu: ")
	b.WriteString(err.Error())
	b.WriteString(".\n\nSet one of:\n")
	b.WriteString("  - username and password (SENSU_USERNAME, SENSU_PASSWORD)\n")
	b.WriteString("  - api_key (SENSU_API_KEY)\n")
	b.WriteString("  - access_token, optionally with refresh_token (SENSU_ACCESS_TOKEN, SENSU_REFRESH_TOKEN), as `eval $(sensuctl env)` does\n")
	if fromEnv {
		b.WriteString("\nThe credentials were read from the environment because the provider configuration sets none.")
	} else {
		b.WriteString("\nThe configuration sets credentials, so the environment only completes that method " +
			"(for example SENSU_PASSWORD for a configured username); its other credentials are ignored.")
	}
	return b.String()
}

func (p *sensuProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewAPIKeyResource}
}

func (p *sensuProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewAPIKeyDataSource, NewAPIKeysDataSource}
}

func (p *sensuProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewAPIKeyEphemeralResource}
}

func (p *sensuProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{NewAPIKeyListResource}
}
