package sensutest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// refreshTTL6 is the lifetime a 6.x refresh token claims; 7.x refresh tokens carry no expiry.
// A 6.x refresh also needs the login's session, which 6.12.0 keeps in etcd under a lease of
// the access token's lifetime plus a minute (backend/store/etcd/session.go), renewed by each
// refresh: a refresh 7 minutes after the login got 401 (measured on 6.12.0, 2026-12-01).
const refreshTTL6 = 12 * time.Hour

type accessToken struct {
	user    string
	groups  []string // as of login, like the real token's claims
	session string
	exp     time.Time
}

type refreshToken struct {
	user    string
	session string
	exp     time.Time // zero: never (7.x)
	used    bool
}

// identity is who a request to /api/... authenticated as.
type identity struct {
	username string
	groups   []string
}

func (id identity) admin() bool { return slices.Contains(id.groups, clusterAdmins) }

// checkPassword returns the user if the credentials are valid and the user may log in.
func (s *Server) checkPassword(username, password string) (*user, bool) {
	s.mu.RLock()
	u := s.users[username]
	s.mu.RUnlock()
	if u == nil {
		return nil, false
	}
	if u.hash == nil || bcrypt.CompareHashAndPassword(u.hash, []byte(password)) != nil || u.disabled {
		return nil, false
	}
	return u, true
}

// tokenTriple is the body of GET /auth and POST /auth/token.
type tokenTriple struct {
	AccessToken  string `json:"access_token"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
}

// claims mirror the recorded JWT payloads (field order included), so clients that peek
// into tokens see what a real backend sends.
type claims struct {
	Exp       int64    `json:"exp,omitempty"`
	JTI       string   `json:"jti"`
	Iat       int64    `json:"iat,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Sub       string   `json:"sub"`
	Groups    []string `json:"groups"`
	Provider  provider `json:"provider"`
	APIKey    bool     `json:"api_key"`
	SessionID string   `json:"session_id"`
}

type provider struct {
	ProviderID   string `json:"provider_id"`
	ProviderType string `json:"provider_type"`
	UserID       string `json:"user_id"`
}

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}).
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// sign builds an HS256 JWT. Tokens are also kept in memory, so validation is a map
// lookup; the signature only makes them unguessable and realistic.
func (s *Server) sign(c claims) string {
	payload, _ := json.Marshal(c) // plain struct, cannot fail
	unsigned := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// issue creates and stores a new access/refresh token pair.
func (s *Server) issue(r *http.Request, username string, groups []string, session string) tokenTriple {
	now := time.Now()
	exp := now.Add(s.opts.TokenTTL)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	tokenGroups := append(append(make([]string, 0, len(groups)+1), groups...), "system:users")
	access := s.sign(claims{
		Exp: exp.Unix(), JTI: randHex(16), Iss: scheme + "://" + r.Host, Sub: username,
		Groups:    tokenGroups,
		Provider:  provider{ProviderID: "basic", UserID: username},
		SessionID: session,
	})
	rc := claims{JTI: randHex(16), Sub: username, SessionID: session}
	var rexp time.Time
	if s.opts.Generation == Generation6 {
		rc.Exp, rc.Iat = now.Add(refreshTTL6).Unix(), now.Unix()
		rexp = now.Add(s.opts.TokenTTL + s.opts.SessionGrace) // the session's lease
	}
	refresh := s.sign(rc)

	s.mu.Lock()
	s.access[access] = &accessToken{user: username, groups: tokenGroups, session: session, exp: exp}
	s.refresh[refresh] = &refreshToken{user: username, session: session, exp: rexp}
	s.issued = append(s.issued, access, refresh)
	s.mu.Unlock()
	return tokenTriple{AccessToken: access, ExpiresAt: exp.Unix(), RefreshToken: refresh}
}

// authCredential splits an Authorization header into scheme and credential.
func authCredential(r *http.Request) (scheme, cred string) {
	scheme, cred, _ = strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.ToLower(scheme), strings.TrimSpace(cred)
}

// handleLogin is GET /auth.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	username, password, ok := r.BasicAuth()
	if !ok {
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	u, ok := s.checkPassword(username, password)
	if !ok {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	session := ""
	if s.opts.Generation == Generation6 {
		session = randHex(16) // 7.x sends an empty session_id
	}
	t := s.issue(r, u.name, u.groups, session)
	s.cmu.Lock()
	s.logins++
	s.cmu.Unlock()
	writeJSONLine(w, http.StatusOK, appJSON, t)
}

// refreshPreamble is the backend's refresh-token middleware: it needs a Bearer access
// token this server issued (expired is fine), then decodes {"refresh_token":...} from
// the body. It has written the error response when ok is false.
func (s *Server) refreshPreamble(w http.ResponseWriter, r *http.Request) (at accessToken, refresh string, ok bool) {
	scheme, cred := authCredential(r)
	if scheme == "bearer" && cred != "" {
		s.mu.RLock()
		p := s.access[cred]
		if p != nil {
			at = *p
		}
		s.mu.RUnlock()
		ok = p != nil
	}
	if !ok {
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return at, "", false
	}
	var body struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest) // "EOF" for an empty body
		return at, "", false
	}
	return at, body.Refresh, true
}

// handleRefresh is POST /auth/token.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	at, refresh, ok := s.refreshPreamble(w, r)
	if !ok {
		return
	}
	now := time.Now()
	s.mu.Lock()
	rt := s.refresh[refresh]
	// Not recorded: a refresh token from another user (any generation) or another
	// session (6.x, where tokens carry a session_id) is refused like a garbage one. 7.x
	// tokens have an empty session_id, so only the user is compared there.
	if rt == nil || (!rt.exp.IsZero() && now.After(rt.exp)) || rt.user != at.user ||
		(s.opts.Generation == Generation6 && rt.session != at.session) {
		s.mu.Unlock()
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	if s.opts.Generation == Generation6 && rt.used {
		s.mu.Unlock()
		http.Error(w, "invalid access token", http.StatusBadRequest)
		return
	}
	u := s.users[rt.user]
	if u == nil {
		// Not recorded: a disabled user cannot refresh, as it cannot log in.
		s.mu.Unlock()
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	rt.used = true
	groups := u.groups
	s.mu.Unlock()
	writeJSONLine(w, http.StatusOK, appJSON, s.issue(r, at.user, groups, at.session))
}

// handleAuthTest is GET /auth/test: basic credentials are checked; a Bearer token goes
// through the refresh middleware first (hence 400 "EOF" without a body).
func (s *Server) handleAuthTest(w http.ResponseWriter, r *http.Request) {
	if username, password, ok := r.BasicAuth(); ok {
		if _, ok := s.checkPassword(username, password); !ok {
			http.Error(w, "Request unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if scheme, _ := authCredential(r); scheme == "bearer" {
		if _, _, ok := s.refreshPreamble(w, r); !ok {
			return
		}
		// Not recorded: past the middleware there are still no basic credentials.
	}
	http.Error(w, "Request unauthorized", http.StatusUnauthorized)
}

// authenticate resolves the caller of an /api/... request or writes the 401.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (identity, bool) {
	scheme, cred := authCredential(r)
	switch {
	case scheme == "key" && cred != "":
		if id, ok := s.keyIdentity(cred); ok {
			return id, true
		}
		invalidCredentials(w)
	case scheme == "bearer" && cred != "":
		s.mu.RLock()
		at := s.access[cred]
		s.mu.RUnlock()
		if at != nil && time.Now().Before(at.exp) {
			return identity{username: at.user, groups: at.groups}, true
		}
		invalidCredentials(w)
	default:
		badCredentials(w) // no header, Basic, or anything else
	}
	return identity{}, false
}

// withAdmin runs h for authenticated cluster admins; others get 401 or 403.
func (s *Server) withAdmin(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request, identity)) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !id.admin() {
		forbidden(w)
		return
	}
	h(w, r, id)
}

// sessionEnded reports whether a refresh token's session lease has run out (tests poll it).
func (s *Server) sessionEnded(refresh string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rt := s.refresh[refresh]
	return rt == nil || rt.exp.IsZero() || time.Now().After(rt.exp)
}
