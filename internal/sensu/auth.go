package sensu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// ctxMutex is a mutex whose Lock gives up when the context is done, so a caller waiting for
// another goroutine's login or refresh still honours cancellation.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m ctxMutex) unlock() { <-m }

// tokenManager holds the access token for password and access-token authentication. It logs
// in lazily (a provider that makes no call makes no login), refreshes shortly before expiry,
// and serialises renewals so that many concurrent requests holding the same stale token cause
// exactly one refresh: Sensu 6.x refresh tokens are single-use.
type tokenManager struct {
	client   *Client
	username string
	password string

	renewal ctxMutex // held for the whole login or refresh

	mu        sync.Mutex // guards the fields below
	access    string
	refresh   string
	refreshAt time.Time // zero: expiry unknown, renew only when Sensu says 401
	expiresAt time.Time // on the local clock; zero when unknown
	version   uint64    // bumped on every new access token
	// attempts counts logins and renewals; lastErr is the latest one's failure. Requests that
	// queued behind a failed attempt take its error instead of repeating it one by one.
	attempts uint64
	lastErr  error
	// logins counts this client's logins that Sensu answered, for the log: a provider process
	// is meant to log in once, so a second one there is worth seeing (tests assert on it).
	logins int
}

func newTokenManager(c *Client, cfg Config) *tokenManager {
	m := &tokenManager{
		client:   c,
		username: cfg.Username,
		password: cfg.Password,
		renewal:  newCtxMutex(),
		access:   cfg.AccessToken,
		refresh:  cfg.RefreshToken,
	}
	if cfg.AccessToken != "" && !cfg.AccessTokenExpiresAt.IsZero() {
		m.refreshAt = refreshTime(time.Now(), cfg.AccessTokenExpiresAt)
		m.expiresAt = cfg.AccessTokenExpiresAt
	}
	return m
}

// refreshTime is when to renew a token that expires at expiresAt: a fifth of its remaining
// life early, at most 10 seconds, so tokens with a lifetime of a few seconds still get used.
func refreshTime(now, expiresAt time.Time) time.Time {
	margin := expiresAt.Sub(now) / 5
	if margin > 10*time.Second {
		margin = 10 * time.Second
	}
	if margin < 0 {
		margin = 0
	}
	return expiresAt.Add(-margin)
}

func (m *tokenManager) current() (token string, version uint64, fresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fresh = m.access != "" && (m.refreshAt.IsZero() || time.Now().Before(m.refreshAt))
	return m.access, m.version, fresh
}

// lockRenewal waits for the renewal lock. It returns the error of an attempt that failed
// while the caller waited, which the caller then shares rather than repeat.
func (m *tokenManager) lockRenewal(ctx context.Context) (failedMeanwhile error, err error) {
	m.mu.Lock()
	seen := m.attempts
	m.mu.Unlock()
	if err := m.renewal.lock(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attempts != seen && m.lastErr != nil {
		return m.lastErr, nil
	}
	return nil, nil
}

// recordAttempt notes the outcome of a login or renewal, under the renewal lock.
func (m *tokenManager) recordAttempt(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	m.lastErr = err
}

// token returns an access token to send, logging in or refreshing first when needed.
func (m *tokenManager) token(ctx context.Context) (string, uint64, error) {
	if token, version, fresh := m.current(); fresh {
		return token, version, nil
	}
	failed, err := m.lockRenewal(ctx)
	if err != nil {
		return "", 0, err
	}
	defer m.renewal.unlock()
	token, version, fresh := m.current()
	switch {
	case fresh:
		return token, version, nil
	case failed != nil && !m.usable():
		return "", 0, failed
	case failed != nil:
		return token, version, nil
	}
	if token == "" {
		err = m.login(ctx)
	} else {
		_, err = m.renewLocked(ctx)
	}
	m.recordAttempt(err)
	if err != nil && !m.usable() {
		return "", 0, err
	}
	if err != nil {
		// A proactive renewal failed, but the token has not expired: use it while it lasts.
		tflog.Debug(ctx, "Renewing the Sensu access token failed; using it until it expires", map[string]any{"error": err.Error()})
	}
	token, version, _ = m.current()
	return token, version, nil
}

// usable reports whether the current token has not expired yet, as far as is known.
func (m *tokenManager) usable() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.access != "" && (m.expiresAt.IsZero() || time.Now().Before(m.expiresAt))
}

// renew replaces the access token that Sensu rejected, unless another request already did.
// It reports false when there is no way to renew (an access token without a refresh token
// or password): the caller then surfaces Sensu's 401.
func (m *tokenManager) renew(ctx context.Context, rejected uint64) (bool, error) {
	failed, err := m.lockRenewal(ctx)
	if err != nil {
		return false, err
	}
	defer m.renewal.unlock()
	if _, version, _ := m.current(); version != rejected {
		return true, nil
	}
	if failed != nil {
		return false, failed
	}
	ok, err := m.renewLocked(ctx)
	m.recordAttempt(err)
	return ok, err
}

// renewLocked refreshes the token, or logs in again when the refresh is refused (a 6.x
// refresh token already used by another process, say) and a password is configured.
func (m *tokenManager) renewLocked(ctx context.Context) (bool, error) {
	m.mu.Lock()
	access, refresh := m.access, m.refresh
	m.mu.Unlock()

	if refresh != "" && access != "" {
		err := m.refreshTokens(ctx, access, refresh)
		if err == nil {
			return true, nil
		}
		if m.password == "" {
			if hasStatus(err, http.StatusBadRequest) || hasStatus(err, http.StatusUnauthorized) {
				return false, &RefreshError{Err: err}
			}
			return false, err
		}
		tflog.Debug(ctx, "Sensu refused the token refresh; logging in again", map[string]any{"error": err.Error()})
	}
	if m.password == "" {
		// Nothing to renew with (no refresh token): keep the token and let Sensu's 401 stand.
		m.mu.Lock()
		m.refreshAt = time.Time{}
		m.mu.Unlock()
		return false, nil
	}
	if err := m.login(ctx); err != nil {
		return false, err
	}
	return true, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
}

func (m *tokenManager) login(ctx context.Context) error {
	if m.password == "" {
		return errors.New("no password to log in with")
	}
	r := request{method: http.MethodGet, path: "/auth"}
	resp, err := m.client.doBasic(ctx, r, m.username, m.password)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.logins++
	n := m.logins
	m.mu.Unlock()
	tflog.Debug(ctx, "Logged in to Sensu", map[string]any{"username": m.username, "logins_by_this_client": n})
	return m.store(r, resp)
}

func (m *tokenManager) refreshTokens(ctx context.Context, access, refresh string) error {
	body, err := json.Marshal(map[string]string{"refresh_token": refresh})
	if err != nil {
		return err
	}
	r := request{method: http.MethodPost, path: "/auth/token", body: body, unsafeToRepeat: true}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+access)
	resp, err := m.client.send(ctx, r, &requestInfo{path: r.path, unsafeToRepeat: true}, header)
	if err != nil {
		return err
	}
	if err := statusError(r, r.path, resp); err != nil {
		return err
	}
	tflog.Debug(ctx, "Refreshed the Sensu access token")
	return m.store(r, resp)
}

func (m *tokenManager) store(r request, resp *response) error {
	var t tokenResponse
	if err := decodeJSON(r, resp, &t); err != nil {
		return err
	}
	if t.AccessToken == "" {
		return shapeError(r, resp, "no access_token in the answer")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.access = t.AccessToken
	if t.RefreshToken != "" {
		m.refresh = t.RefreshToken
	}
	m.refreshAt, m.expiresAt = time.Time{}, time.Time{}
	if t.ExpiresAt > 0 {
		// expires_at is on Sensu's clock: measure the lifetime against the Date of the same
		// answer, so a client clock that runs ahead does not refresh before every request.
		now := time.Now()
		m.expiresAt = time.Unix(t.ExpiresAt, 0)
		if date, err := http.ParseTime(resp.header.Get("Date")); err == nil {
			m.expiresAt = now.Add(time.Unix(t.ExpiresAt, 0).Sub(date))
		}
		m.refreshAt = refreshTime(now, m.expiresAt)
		if !m.expiresAt.After(now) {
			// Expired on arrival, by a clock or a rounding (both are whole seconds) that can't
			// be trusted: renewing before each request would only get more such tokens. Use it
			// until Sensu says 401, as a token of unknown expiry.
			m.refreshAt, m.expiresAt = time.Time{}, time.Time{}
		}
	}
	m.version++
	return nil
}

// doBasic sends a request with HTTP basic credentials (only GET /auth uses them).
func (c *Client) doBasic(ctx context.Context, r request, username, password string) (*response, error) {
	header := http.Header{}
	header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(username+":"+password)))
	resp, err := c.send(ctx, r, &requestInfo{path: r.path}, header)
	if err != nil {
		return nil, err
	}
	if err := statusError(r, r.path, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// identityOf is the Sensu user a configuration authenticates as, when it can be known without
// a request: the username, or the subject of an access token (read, not verified: it only
// narrows which keys a grant reconciliation considers). An API key does not say.
func identityOf(cfg Config, method AuthMethod) string {
	switch method {
	case AuthPassword:
		return cfg.Username
	case AuthAccessToken:
		parts := strings.Split(cfg.AccessToken, ".")
		if len(parts) != 3 {
			return ""
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return ""
		}
		var claims struct {
			Subject string `json:"sub"`
		}
		if json.Unmarshal(payload, &claims) != nil {
			return ""
		}
		return claims.Subject
	}
	return ""
}
