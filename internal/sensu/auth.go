package sensu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
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
	version   uint64    // bumped on every new access token
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

// token returns an access token to send, logging in or refreshing first when needed.
func (m *tokenManager) token(ctx context.Context) (string, uint64, error) {
	if token, version, fresh := m.current(); fresh {
		return token, version, nil
	}
	if err := m.renewal.lock(ctx); err != nil {
		return "", 0, err
	}
	defer m.renewal.unlock()
	token, version, fresh := m.current()
	if fresh {
		return token, version, nil
	}
	if token == "" {
		if err := m.login(ctx); err != nil {
			return "", 0, err
		}
	} else if _, err := m.renewLocked(ctx); err != nil {
		// An access token without a way to renew it is still worth sending: Sensu decides.
		return "", 0, err
	}
	token, version, _ = m.current()
	return token, version, nil
}

// renew replaces the access token that Sensu rejected, unless another request already did.
// It reports false when there is no way to renew (an access token without a refresh token
// or password): the caller then surfaces Sensu's 401.
func (m *tokenManager) renew(ctx context.Context, rejected uint64) (bool, error) {
	if err := m.renewal.lock(ctx); err != nil {
		return false, err
	}
	defer m.renewal.unlock()
	if _, version, _ := m.current(); version != rejected {
		return true, nil
	}
	return m.renewLocked(ctx)
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
			return false, &RefreshError{Err: err}
		}
		tflog.Debug(ctx, "Sensu refused the token refresh; logging in again", map[string]any{"error": err.Error()})
	}
	if m.password == "" {
		if refresh == "" {
			// Nothing to renew with: keep the current token and let the 401 stand.
			m.mu.Lock()
			m.refreshAt = time.Time{}
			m.mu.Unlock()
			return false, nil
		}
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
	tflog.Debug(ctx, "Logged in to Sensu", map[string]any{"username": m.username})
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
	if resp.status != http.StatusOK {
		return &APIError{StatusCode: resp.status, Message: errorMessage(resp.body), Method: r.method, Path: r.path}
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
	m.refreshAt = time.Time{}
	if t.ExpiresAt > 0 {
		m.refreshAt = refreshTime(time.Now(), time.Unix(t.ExpiresAt, 0))
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
	if resp.status != http.StatusOK {
		return nil, &APIError{StatusCode: resp.status, Message: errorMessage(resp.body), Method: r.method, Path: r.path}
	}
	return resp, nil
}
