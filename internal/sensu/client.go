// Package sensu is a client for the parts of the Sensu Go API that manage API keys: login and
// token refresh, generation detection, granting, reading, listing and revoking keys, and the
// users keys belong to, on Sensu Go 6.x and 7.x. It knows nothing about Terraform.
package sensu

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

const (
	// DefaultTimeout is sensuctl's default per-request timeout.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxRetries bounds retries of a request that failed transiently.
	DefaultMaxRetries = 4

	defaultRetryWaitMin = 250 * time.Millisecond
	defaultRetryWaitMax = 8 * time.Second
	// maxRetryAfter caps a server's Retry-After so one answer cannot stall an apply for hours.
	maxRetryAfter = 60 * time.Second
	// maxBodyBytes bounds every response body read into memory.
	maxBodyBytes = 8 << 20
	// connsPerHost covers Terraform's default parallelism (10) with room for login and reads.
	connsPerHost = 16
)

// Config describes how to reach and authenticate to Sensu. Exactly one of Username+Password,
// APIKey or AccessToken must be set.
type Config struct {
	APIURL string // http or https, no path

	Username string
	Password string

	APIKey string

	AccessToken          string
	RefreshToken         string    // optional, with AccessToken
	AccessTokenExpiresAt time.Time // optional, with AccessToken: refresh before it

	TrustedCAFile         string // PEM file of CAs to trust in addition to the system's
	TrustedCAPEM          string // PEM text, same
	InsecureSkipTLSVerify bool

	Timeout      time.Duration // per attempt; 0 means DefaultTimeout
	MaxRetries   int           // retries after the first attempt; 0 disables retries
	RetryWaitMin time.Duration // 0 means 250ms
	RetryWaitMax time.Duration // 0 means 8s

	UserAgent string

	// Generation skips detection when set (tests and benchmarks); 0 detects it on first use.
	Generation Generation
}

// AuthMethod names how a Config authenticates.
type AuthMethod string

const (
	AuthPassword    AuthMethod = "password"
	AuthAPIKey      AuthMethod = "api_key"
	AuthAccessToken AuthMethod = "access_token"
)

// Client talks to one Sensu backend. It is safe for concurrent use; build one per provider
// configuration and share it.
type Client struct {
	baseURL   *url.URL
	userAgent string
	http      *retryablehttp.Client
	method    AuthMethod
	apiKey    string
	tokens    *tokenManager

	generation  atomic.Int32 // a Generation once known
	genLock     ctxMutex
	genAttempts atomic.Uint64 // detections tried
	genErr      error         // the latest detection's failure; guarded by genLock

	maxRetries  int
	timeout     time.Duration
	identity    string // the Sensu user the client acts as, when known (created_by of its grants)
	grants      grantBook
	users       userCache    // users read once per client, for the warnings about disabled users
	keys        keyIndex     // 6.x: the key list read last, for imports by id
	clockOffset atomic.Int64 // Sensu's clock minus ours, in nanoseconds, from Date headers
}

// ValidateAPIURL checks that raw is an absolute http(s) URL of a Sensu backend's root.
func ValidateAPIURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		// "sensu:8080" would parse with "sensu" as its scheme; say what is missing instead.
		return nil, errors.New("the API URL must start with http:// or https:// (for example https://sensu.example.com:8080)")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var uerr *url.Error
		if strings.Contains(raw, "@") && errors.As(err, &uerr) {
			// The URL may carry a password: name only what is wrong with it.
			return nil, fmt.Errorf("the API URL is not a valid URL: %w", uerr.Err)
		}
		return nil, fmt.Errorf("%q is not a valid URL: %w", raw, err)
	}
	switch {
	case u.User != nil: // first, so that no other message echoes the credentials
		return nil, errors.New("the API URL must not contain credentials; configure them separately")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must start with http:// or https:// (for example https://sensu.example.com:8080)", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host (for example https://sensu.example.com:8080)", raw)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("%q has a path (%q); give the backend's root URL, for example %s://%s", raw, u.Path, u.Scheme, u.Host)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q must not have a query or fragment", raw)
	}
	u.Path = ""
	return u, nil
}

// Method reports which authentication method cfg selects, or an error when it sets none or
// more than one.
func (cfg Config) Method() (AuthMethod, error) {
	var methods []AuthMethod
	if cfg.Username != "" || cfg.Password != "" {
		methods = append(methods, AuthPassword)
	}
	if cfg.APIKey != "" {
		methods = append(methods, AuthAPIKey)
	}
	if cfg.AccessToken != "" {
		methods = append(methods, AuthAccessToken)
	}
	switch len(methods) {
	case 0:
		if cfg.RefreshToken != "" {
			return "", errors.New("a refresh token needs the access token it belongs to")
		}
		return "", errors.New("no credentials: set a username and password, an API key, or an access token")
	case 1:
	default:
		return "", fmt.Errorf("more than one way to authenticate is set (%s and %s); set exactly one", methods[0], methods[1])
	}
	m := methods[0]
	if m == AuthPassword && (cfg.Username == "" || cfg.Password == "") {
		return "", errors.New("password authentication needs both a username and a password")
	}
	if m != AuthAccessToken && cfg.RefreshToken != "" {
		return "", errors.New("a refresh token needs the access token it belongs to")
	}
	return m, nil
}

// New validates cfg and builds a Client. It makes no request: the first API call detects the
// generation and, with password authentication, logs in.
func New(cfg Config) (*Client, error) {
	base, err := ValidateAPIURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	method, err := cfg.Method()
	if err != nil {
		return nil, err
	}
	tlsConfig, err := tlsConfigFor(cfg)
	if err != nil {
		return nil, err
	}

	transport := cleanhttp.DefaultPooledTransport()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = connsPerHost
	transport.MaxIdleConns = connsPerHost * 2

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	waitMin, waitMax := cfg.RetryWaitMin, cfg.RetryWaitMax
	if waitMin <= 0 {
		waitMin = defaultRetryWaitMin
	}
	if waitMax <= 0 {
		waitMax = defaultRetryWaitMax
	}
	if waitMax < waitMin {
		waitMax = waitMin
	}
	maxRetries := cfg.MaxRetries
	if maxRetries < 0 {
		maxRetries = 0
	}

	c := &Client{
		baseURL:    base,
		userAgent:  cfg.UserAgent,
		method:     method,
		apiKey:     cfg.APIKey,
		genLock:    newCtxMutex(),
		keys:       keyIndex{listing: newCtxMutex()},
		maxRetries: maxRetries,
		timeout:    timeout,
		identity:   identityOf(cfg, method),
		http: &retryablehttp.Client{
			HTTPClient: &http.Client{
				Transport: transport,
				Timeout:   timeout,
				// Sensu does not redirect; following one could send credentials elsewhere.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			RetryWaitMin:   waitMin,
			RetryWaitMax:   waitMax,
			RetryMax:       maxRetries,
			CheckRetry:     checkRetry,
			Backoff:        backoff,
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: logRetry,
		},
	}
	if c.userAgent == "" {
		c.userAgent = "terraform-provider-sensu"
	}
	c.generation.Store(int32(cfg.Generation))
	if method != AuthAPIKey {
		c.tokens = newTokenManager(c, cfg)
	}
	return c, nil
}

// AuthMethod reports how the client authenticates.
func (c *Client) AuthMethod() AuthMethod { return c.method }

// URL returns the backend's base URL, safe to show.
func (c *Client) URL() string { return c.baseURL.String() }

func tlsConfigFor(cfg Config) (*tls.Config, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.InsecureSkipTLSVerify {
		tlsConfig.InsecureSkipVerify = true // #nosec G402 -- the user asked for it explicitly
	}
	if cfg.TrustedCAFile == "" && cfg.TrustedCAPEM == "" {
		return tlsConfig, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if cfg.TrustedCAFile != "" {
		pem, err := os.ReadFile(cfg.TrustedCAFile)
		if err != nil {
			return nil, &CAError{Source: CAFromFile, Err: fmt.Errorf("reading the trusted CA file: %w", err)}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &CAError{Source: CAFromFile, Err: fmt.Errorf("the trusted CA file %s contains no PEM certificate", cfg.TrustedCAFile)}
		}
	}
	if cfg.TrustedCAPEM != "" && !pool.AppendCertsFromPEM([]byte(cfg.TrustedCAPEM)) {
		return nil, &CAError{Source: CAFromPEM, Err: errors.New("the trusted CA PEM contains no PEM certificate")}
	}
	tlsConfig.RootCAs = pool
	return tlsConfig, nil
}

// request is one API call. Only do turns it into HTTP.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	body   []byte

	// secret is a value the path carries that must never be shown (a 6.x key).
	secret string
	// auth sends the configured credentials.
	auth bool
	// unsafeToRepeat marks a call whose repetition after it may have been processed has an
	// effect (a grant mints a second key; a 6.x refresh burns the refresh token).
	unsafeToRepeat bool
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r request) redactedPath() string { return redact(r.path, r.secret) }

type requestInfoKey struct{}

type requestInfo struct {
	path           string // redacted
	unsafeToRepeat bool
}

// do sends r, renewing the access token and trying once more when Sensu rejects it, and
// turns any failure into a typed error with no secret in its text.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	info := &requestInfo{path: r.redactedPath(), unsafeToRepeat: r.unsafeToRepeat}

	var tokenVersion uint64
	for renewed := false; ; renewed = true {
		header := http.Header{}
		if r.auth {
			switch c.method {
			case AuthAPIKey:
				header.Set("Authorization", "Key "+c.apiKey)
			default:
				token, version, err := c.tokens.token(ctx)
				if err != nil {
					return nil, err
				}
				tokenVersion = version
				header.Set("Authorization", "Bearer "+token)
			}
		}
		resp, err := c.send(ctx, r, info, header)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && r.auth && c.tokens != nil && !renewed {
			if ok, err := c.tokens.renew(ctx, tokenVersion); err != nil {
				return nil, err
			} else if ok {
				continue
			}
		}
		if err := statusError(r, info.path, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// statusError is the APIError for an answer that is not a success, or nil. Any secret of the
// request is redacted from the server's text before it is shortened.
func statusError(r request, path string, resp *response) error {
	var msg string
	switch {
	case resp.status < 300:
		return nil
	case resp.status < 400:
		// Sensu does not redirect; a proxy or load balancer in front of it does (http to https, say).
		msg = fmt.Sprintf("redirected to %q: set the API URL to the address Sensu answers at",
			redact(resp.header.Get("Location"), r.secret))
	default:
		msg = errorMessage([]byte(redact(string(resp.body), r.secret)))
	}
	return &APIError{StatusCode: resp.status, Message: msg, Method: r.method, Path: path}
}

// send performs one logical request (with retries) and reads the body.
func (c *Client) send(ctx context.Context, r request, info *requestInfo, header http.Header) (*response, error) {
	ctx = context.WithValue(ctx, requestInfoKey{}, info)
	u := *c.baseURL
	u.RawPath = r.path
	if p, err := url.PathUnescape(r.path); err == nil {
		u.Path = p
	}
	u.RawQuery = r.query.Encode()

	var body any
	if r.body != nil {
		body = r.body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", r.method, info.path, err)
	}
	req.Header = header
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	tflog.Debug(ctx, "Sending Sensu API request", map[string]any{"method": r.method, "path": info.path})
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) && !errors.As(err, &uerr) {
			// Cancelled while waiting to retry: nothing is in flight, and a request unsafe to
			// repeat is only retried after a 429, a 503 or a refused connection, which prove
			// Sensu did not act. Not a TransportError, so a grant is not taken as ambiguous.
			return nil, fmt.Errorf("%s %s: %w", r.method, info.path, err)
		}
		cause := transportCause(err)
		tflog.Debug(ctx, "Sensu API request failed", map[string]any{
			"method": r.method, "path": info.path, "error": redact(cause.Error(), r.secret),
		})
		return nil, &TransportError{
			Method: r.method,
			URL:    c.baseURL.String() + info.path,
			Err:    &redactedError{msg: redact(cause.Error(), r.secret), cause: cause},
		}
	}
	defer func() { _ = resp.Body.Close() }()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, &TransportError{
			Method: r.method,
			URL:    c.baseURL.String() + info.path,
			Err:    &redactedError{msg: "reading the response: " + redact(err.Error(), r.secret), cause: err},
		}
	}
	if len(data) > maxBodyBytes {
		return nil, &ResponseError{
			Method: r.method, Path: info.path, StatusCode: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"),
			Reason:      fmt.Sprintf("the body exceeds %d MiB", maxBodyBytes>>20),
		}
	}
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		c.clockOffset.Store(int64(time.Until(date)))
	}
	tflog.Debug(ctx, "Received Sensu API response", map[string]any{
		"method": r.method, "path": info.path, "status": resp.StatusCode,
		"duration_ms": time.Since(start).Milliseconds(),
	})
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// redactedError keeps a cause for errors.Is/As while replacing its text.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// errorMessage extracts Sensu's message from an error body: JSON {"message"} or
// {"Message"}, or plain text. It is shortened, since a proxy may answer with a whole page.
func errorMessage(body []byte) string {
	var parsed struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &parsed) == nil {
		switch {
		case parsed.Message != "":
			msg = parsed.Message
		case parsed.MessageU != "":
			msg = parsed.MessageU
		}
	}
	if strings.HasPrefix(strings.ToLower(msg), "<!doctype") || strings.HasPrefix(strings.ToLower(msg), "<html") {
		return "an HTML page instead of a Sensu API response (is the URL that of a Sensu backend?)"
	}
	const maxLen = 200
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "…"
	}
	return msg
}

// decodeJSON decodes a response body into v, reporting a ResponseError without echoing it.
func decodeJSON(r request, resp *response, v any) error {
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	if err := dec.Decode(v); err != nil {
		reason := "the body is not valid JSON"
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			reason = fmt.Sprintf("the JSON has the wrong shape (field %q is a %s)", typeErr.Field, typeErr.Value)
		} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			reason = "the JSON body is empty or truncated"
		}
		return &ResponseError{
			Method: r.method, Path: r.redactedPath(), StatusCode: resp.status,
			ContentType: resp.header.Get("Content-Type"), Reason: reason,
		}
	}
	return nil
}

func shapeError(r request, resp *response, reason string) error {
	return &ResponseError{
		Method: r.method, Path: r.redactedPath(), StatusCode: resp.status,
		ContentType: resp.header.Get("Content-Type"), Reason: reason,
	}
}
