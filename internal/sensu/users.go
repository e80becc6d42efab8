package sensu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Users own API keys. On both generations disabling a user (sensuctl user disable, which is
// DELETE /users/NAME: Sensu never deletes a user) blocks its logins, while its API keys keep
// authenticating and stay listed (wire records, rows 49-57 of 6.12.0). The provider reads a
// key's user to say so. Creating, disabling and reinstating mirror sensuctl; the acceptance
// tests use them against real backends.
//
// The bodies are those of the records: plain {"username","groups","disabled"} on 6.x, the
// same object wrapped as {"type":"User","api_version":"core/v2","spec":{…}} on 7.x.

const usersPath = "/api/core/v2/users"

// User is a Sensu user, without its password.
type User struct {
	Username string
	Groups   []string
	Disabled bool
}

// CreateUserRequest creates a user. The password is sent once and never logged.
type CreateUserRequest struct {
	Username string
	Password string // at least 8 characters (Sensu's rule)
	Groups   []string
}

var errEmptyUsername = errors.New("a username is required")

// userSpec is a 6.x user, and the spec of a 7.x one.
type userSpec struct {
	Username string   `json:"username"`
	Password string   `json:"password,omitempty"`
	Groups   []string `json:"groups"`
	Disabled bool     `json:"disabled"`
}

func (s userSpec) toUser() User {
	return User{Username: s.Username, Groups: s.Groups, Disabled: s.Disabled}
}

func userPath(username string) string { return usersPath + "/" + url.PathEscape(username) }

// GetUser reads one user: one request, never cached (see CachedUser). IsNotFound reports
// a user Sensu does not know; IsForbidden credentials that may not read users (only
// cluster admins may, and a user itself with a login token).
func (c *Client) GetUser(ctx context.Context, username string) (*User, error) {
	if username == "" {
		return nil, errEmptyUsername
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodGet, path: userPath(username), auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var spec userSpec
	if gen >= Generation7 {
		var w struct {
			Spec userSpec `json:"spec"`
		}
		err = decodeJSON(r, resp, &w)
		spec = w.Spec
	} else {
		err = decodeJSON(r, resp, &spec)
	}
	if err != nil {
		return nil, err
	}
	if spec.Username != username {
		return nil, shapeError(r, resp, "the answer is not about the user asked for")
	}
	u := spec.toUser()
	return &u, nil
}

// ListUsers returns every user, following pagination.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := c.eachUserPage(ctx, func(page []User) bool {
		users = append(users, page...)
		return false
	})
	return users, err
}

// eachUserPage lists the users a page at a time, until done returns true or the list ends.
// Pagination (limit, continue, Sensu-Continue) is not in the records; it is the backend's
// generic lister, as for API keys.
func (c *Client) eachUserPage(ctx context.Context, done func(page []User) bool) error {
	gen, err := c.Generation(ctx)
	if err != nil {
		return err
	}
	continueToken := ""
	for range maxListPages {
		q := url.Values{"limit": {strconv.Itoa(listPageSize)}}
		if continueToken != "" {
			q.Set("continue", continueToken)
		}
		r := request{method: http.MethodGet, path: usersPath, query: q, auth: true}
		resp, err := c.do(ctx, r)
		if err != nil {
			return err
		}
		var specs []userSpec
		if gen >= Generation7 {
			var wrapped []struct {
				Spec userSpec `json:"spec"`
			}
			err = decodeJSON(r, resp, &wrapped)
			for _, w := range wrapped {
				specs = append(specs, w.Spec)
			}
		} else {
			err = decodeJSON(r, resp, &specs)
		}
		if err != nil {
			return err
		}
		page := make([]User, 0, len(specs))
		for _, s := range specs {
			if s.Username == "" {
				return shapeError(r, resp, "a user in the list has no username")
			}
			page = append(page, s.toUser())
		}
		next := resp.header.Get("Sensu-Continue")
		if done(page) || next == "" {
			return nil
		}
		if next == continueToken {
			return shapeError(r, resp, "the list repeats its continue token")
		}
		continueToken = next
	}
	return errors.New("listing users: more than " + strconv.Itoa(maxListPages) + " pages")
}

// CreateUser creates a user (sensuctl user create). It is not retried once it may have
// reached Sensu; an existing user is an APIError with status 409.
func (c *Client) CreateUser(ctx context.Context, in CreateUserRequest) error {
	if in.Username == "" {
		return errEmptyUsername
	}
	if in.Password == "" {
		return errors.New("a password is required to create a user")
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		return err
	}
	spec := userSpec{Username: in.Username, Password: in.Password, Groups: in.Groups}
	if spec.Groups == nil {
		spec.Groups = []string{}
	}
	var body any = spec
	if gen >= Generation7 {
		body = struct {
			Type       string   `json:"type"`
			APIVersion string   `json:"api_version"`
			Metadata   struct{} `json:"metadata"`
			Spec       userSpec `json:"spec"`
		}{Type: "User", APIVersion: "core/v2", Spec: spec}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodPost, path: usersPath, body: b, auth: true,
		unsafeToRepeat: true, secret: in.Password})
	if err == nil {
		c.users.forget(in.Username)
	}
	return err
}

// DisableUser disables a user (sensuctl user disable): it can no longer log in, but its API
// keys and unexpired access tokens keep working. Disabling a disabled user succeeds.
func (c *Client) DisableUser(ctx context.Context, username string) error {
	return c.setUserDisabled(ctx, request{method: http.MethodDelete, path: userPath(username), auth: true}, username)
}

// ReinstateUser re-enables a disabled user (sensuctl user reinstate).
func (c *Client) ReinstateUser(ctx context.Context, username string) error {
	return c.setUserDisabled(ctx, request{method: http.MethodPut, path: userPath(username) + "/reinstate", auth: true}, username)
}

func (c *Client) setUserDisabled(ctx context.Context, r request, username string) error {
	if username == "" {
		return errEmptyUsername
	}
	if _, err := c.Generation(ctx); err != nil {
		return err
	}
	if _, err := c.do(ctx, r); err != nil {
		return err
	}
	c.users.forget(username)
	return nil
}

// UserResult is what CachedUsers learnt about one user.
type UserResult struct {
	User *User
	Err  error
}

// CachedUser is GetUser read at most once per username for the client's lifetime (one
// provider process): later and concurrent callers share the first read, its error
// included, so that refreshing a thousand keys of one user costs one request. Only a read
// abandoned because its caller's context ended is not kept.
func (c *Client) CachedUser(ctx context.Context, username string) (*User, error) {
	r := c.CachedUsers(ctx, []string{username})[username]
	return r.User, r.Err
}

// CachedUsers is CachedUser for several users at once, with the fewest requests: nothing
// for users already known, GET /users/NAME for a single unknown one, and one list of the
// users (stopping at the page that completes the set) for several, since a list of up to
// 500 users is one request where reading each would be one per user. A user missing from a
// complete list gets an error for which IsNotFound holds.
func (c *Client) CachedUsers(ctx context.Context, usernames []string) map[string]UserResult {
	out := make(map[string]UserResult, len(usernames))
	var pending []string
	for _, name := range usernames {
		if name == "" {
			out[name] = UserResult{Err: errEmptyUsername}
		} else if !slices.Contains(pending, name) {
			pending = append(pending, name)
		}
	}
	for len(pending) > 0 {
		claimed, entries := c.users.claim(pending)
		if len(claimed) > 0 {
			c.readUsers(ctx, claimed)
		}
		var retry []string
		for _, name := range pending {
			e := entries[name]
			select {
			case <-e.done:
			case <-ctx.Done():
				out[name] = UserResult{Err: ctx.Err()}
				continue
			}
			switch {
			case e.abandoned && ctx.Err() != nil:
				out[name] = UserResult{Err: ctx.Err()}
			case e.abandoned:
				retry = append(retry, name) // the reader gave up; this caller asks itself
			default:
				out[name] = e.result()
			}
		}
		pending = retry
	}
	return out
}

// readUsers reads the claimed users and settles their entries.
func (c *Client) readUsers(ctx context.Context, claimed map[string]*userEntry) {
	if len(claimed) == 1 {
		for name, e := range claimed {
			u, err := c.GetUser(ctx, name)
			c.users.settle(ctx, name, e, u, err)
		}
		return
	}
	found := make(map[string]User, len(claimed))
	err := c.eachUserPage(ctx, func(page []User) bool {
		for _, u := range page {
			if _, ok := claimed[u.Username]; ok {
				found[u.Username] = u
			} else {
				c.users.offer(u)
			}
		}
		return len(found) == len(claimed)
	})
	tflog.Debug(ctx, "Listed Sensu users", map[string]any{"wanted": len(claimed), "found": len(found)})
	for name, e := range claimed {
		switch u, ok := found[name]; {
		case ok:
			c.users.settle(ctx, name, e, &u, nil)
		case err != nil:
			c.users.settle(ctx, name, e, nil, err)
		default:
			c.users.settle(ctx, name, e, nil, &APIError{StatusCode: http.StatusNotFound,
				Message: "no such user in the list of users", Method: http.MethodGet, Path: usersPath})
		}
	}
}

// userCache is what a client learnt about users, one entry per username.
type userCache struct {
	mu      sync.Mutex
	entries map[string]*userEntry
}

// userEntry is one user's read: done closes once user and err are set, or once the read
// was abandoned (its caller's context ended) and the entry dropped.
type userEntry struct {
	done      chan struct{}
	user      *User
	err       error
	abandoned bool
}

func (e *userEntry) result() UserResult {
	if e.user == nil {
		return UserResult{Err: e.err}
	}
	u := *e.user
	u.Groups = slices.Clone(u.Groups)
	return UserResult{User: &u}
}

// claim returns every name's entry, creating those that are missing; the created ones are
// the caller's to read and settle.
func (uc *userCache) claim(names []string) (claimed, all map[string]*userEntry) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.entries == nil {
		uc.entries = map[string]*userEntry{}
	}
	claimed, all = map[string]*userEntry{}, make(map[string]*userEntry, len(names))
	for _, name := range names {
		e, ok := uc.entries[name]
		if !ok {
			e = &userEntry{done: make(chan struct{})}
			uc.entries[name] = e
			claimed[name] = e
		}
		all[name] = e
	}
	return claimed, all
}

// settle records a claimed read. A failure while ctx had ended says nothing about the user:
// the entry is dropped so that the next caller reads again.
func (uc *userCache) settle(ctx context.Context, name string, e *userEntry, u *User, err error) {
	if err != nil && ctx.Err() != nil {
		uc.mu.Lock()
		if uc.entries[name] == e {
			delete(uc.entries, name)
		}
		uc.mu.Unlock()
		e.abandoned = true
	} else {
		e.user, e.err = u, err
	}
	close(e.done)
}

// offer remembers a user that a list returned before anyone asked for it.
func (uc *userCache) offer(u User) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.entries == nil {
		uc.entries = map[string]*userEntry{}
	}
	if _, ok := uc.entries[u.Username]; ok {
		return
	}
	e := &userEntry{done: make(chan struct{}), user: &u}
	close(e.done)
	uc.entries[u.Username] = e
}

// forget drops a settled entry after this client changed the user, so that its next read
// sees the change. An entry still being read is left alone.
func (uc *userCache) forget(name string) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if e, ok := uc.entries[name]; ok {
		select {
		case <-e.done:
			delete(uc.entries, name)
		default:
		}
	}
}
