package sensutest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Users, as `sensuctl user create|list|disable|reinstate` and the records use them
// (users.md, and rows 34-63 of wire-6.12.0.md and 39-67 of wire-7.0.0-alpha1.md). The
// users router answers with Sensu's action errors, {"message":…,"code":N} with the sniffed
// text/plain type and nosniff, and with application/json bodies written without an
// explicit Content-Length, as the backend's RespondWith does. Where the records are silent
// (conflicts, validation, PUT of another name, oversized passwords) the answers follow
// the backend's source for the same versions and say so.

// User is a user as the store holds it, without its password.
type User struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
	Disabled bool     `json:"disabled"`
}

// Action error codes of the backend's users and RBAC routers.
const (
	codeInternal        = 0
	codeInvalidArgument = 1
	codeNotFound        = 2
	codeAlreadyExists   = 3
)

// systemUsers is the group every bearer token carries; its ClusterRole lets a user read
// itself. API keys carry only the user's own groups (row 48 of the 6.x record).
const systemUsers = "system:users"

// usernamePattern is Sensu's strict name rule for usernames.
var usernamePattern = regexp.MustCompile(`\A[a-z0-9_.\-]+\z`)

// actionError writes the backend's WriteError answer.
func actionError(w http.ResponseWriter, status, code int, message string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}{message, code})
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeRaw(w, status, textPlain, string(b))
}

func userNotFound(w http.ResponseWriter) {
	actionError(w, http.StatusNotFound, codeNotFound, "not found")
}

// respondEmpty is RespondWith without a resource: 201 for POST and PUT, 204 otherwise.
func respondEmpty(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		writeRaw(w, http.StatusCreated, appJSON, "")
		return
	}
	w.Header().Set("Content-Type", appJSON)
	w.WriteHeader(http.StatusNoContent)
}

// respondJSON is RespondWith with a body: net/http then sends a Content-Length for short
// bodies and chunks long ones, exactly as on the real backend.
func respondJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", appJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (u *user) public() User {
	return User{Username: u.name, Groups: slices.Clone(u.groups), Disabled: u.disabled}
}

// userWire is a user's body: plain on 6.x, wrapped on 7.x (no metadata, no Etag).
func (s *Server) userWire(u User) []byte {
	if s.opts.Generation == Generation6 {
		b, _ := json.Marshal(u)
		return b
	}
	b, _ := json.Marshal(struct {
		Type       string `json:"type"`
		APIVersion string `json:"api_version"`
		Spec       User   `json:"spec"`
	}{"User", "core/v2", u})
	return b
}

// mayReadUser: cluster admins read any user; a bearer token's system:users group lets a
// user read itself (the system:user ClusterRole; not recorded, from the source).
func mayReadUser(id identity, name string) bool {
	return id.admin() || (id.username == name && slices.Contains(id.groups, systemUsers))
}

// handleUserList is GET /users, sorted by username, paginated like the key list (a
// guess; see handleList).
func (s *Server) handleUserList(w http.ResponseWriter, r *http.Request, _ identity) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "invalid limit", http.StatusBadRequest)
			return
		}
		limit = n
	}
	after := ""
	if c := q.Get("continue"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			http.Error(w, "invalid continue token", http.StatusBadRequest)
			return
		}
		after = string(b)
	}
	users := s.Users()
	start := 0
	if after != "" {
		start = sort.Search(len(users), func(i int) bool { return users[i].Username > after })
	}
	end := len(users)
	if limit > 0 && start+limit < len(users) {
		end = start + limit
		w.Header().Set("Sensu-Continue", base64.RawURLEncoding.EncodeToString([]byte(users[end-1].Username)))
	}
	items := make([][]byte, 0, end-start)
	for _, u := range users[start:end] {
		items = append(items, s.userWire(u))
	}
	respondJSON(w, joinList(items))
}

// handleUserGet is GET /users/{name}; 6.x adds an Etag derived from the body.
func (s *Server) handleUserGet(w http.ResponseWriter, r *http.Request, name string) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !mayReadUser(id, name) {
		forbidden(w)
		return
	}
	u, ok := s.User(name)
	if !ok {
		userNotFound(w)
		return
	}
	body := s.userWire(u)
	if s.opts.Generation == Generation6 {
		h := fnv.New64a()
		h.Write(body)
		w.Header().Set("Etag", fmt.Sprintf(`"%016x"`, h.Sum64()))
	}
	respondJSON(w, body)
}

// userBody is a create or replace request: the user plus its password or password hash.
type userBody struct {
	Username     string   `json:"username"`
	Password     string   `json:"password"`
	PasswordHash string   `json:"password_hash"`
	Groups       []string `json:"groups"`
	Disabled     bool     `json:"disabled"`
}

// decodeUser reads a user body: plain on 6.x, wrapped on 7.x. It has answered when ok is
// false.
func (s *Server) decodeUser(w http.ResponseWriter, r *http.Request) (in userBody, ok bool) {
	if s.opts.Generation == Generation6 {
		// 6.x decodes into the plain core/v2 User; a wrapped body has no username and
		// fails validation.
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
			return in, false
		}
		return in, true
	}
	spec, ok := decodeWrapped(w, r, "User")
	if !ok {
		return in, false
	}
	if err := json.Unmarshal(spec, &in); err != nil {
		actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return in, false
	}
	return in, true
}

// decodeWrapped is 7.x's request.Resource: the body must be a wrapper of the expected
// type (row 39 records the legacy-format answer). It returns the spec.
func decodeWrapped(w http.ResponseWriter, r *http.Request, typ string) (json.RawMessage, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return nil, false
	}
	var wrapper struct {
		APIVersion string          `json:"api_version"`
		Type       string          `json:"type"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(body, &wrapper); err != nil {
		actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return nil, false
	}
	var missing []string
	if wrapper.APIVersion == "" {
		missing = append(missing, "api_version")
	}
	if wrapper.Type == "" {
		missing = append(missing, "type")
	}
	if len(wrapper.Spec) == 0 {
		missing = append(missing, "spec")
	}
	if len(missing) > 0 {
		actionError(w, http.StatusBadRequest, codeInvalidArgument,
			fmt.Sprintf("missing required resource identifying fields: %v. could be using an unsupported legacy request format", missing))
		return nil, false
	}
	if wrapper.Type != typ {
		// Not recorded for these routes: the message is the source's, as for API keys.
		pkg := wrapper.APIVersion
		if i := strings.LastIndex(pkg, "/"); i >= 0 {
			pkg = pkg[i+1:]
		}
		actionError(w, http.StatusBadRequest, codeInvalidArgument,
			fmt.Sprintf("type described in the request body unexpected: expected *v2.%s, got *%s.%s", typ, pkg, wrapper.Type))
		return nil, false
	}
	return wrapper.Spec, true
}

// validateUser is User.Validate and the controller's password rules, in the source's
// order. It returns the bcrypt hash to store, or answers and returns false.
func (s *Server) validateUser(w http.ResponseWriter, in userBody) ([]byte, bool) {
	switch {
	case in.Username == "":
		actionError(w, http.StatusBadRequest, codeInvalidArgument, "username must not be empty")
		return nil, false
	case !usernamePattern.MatchString(in.Username):
		actionError(w, http.StatusBadRequest, codeInvalidArgument, "username cannot contain spaces or special characters")
		return nil, false
	}
	switch {
	case in.Password != "" && in.PasswordHash != "":
		if bcrypt.CompareHashAndPassword([]byte(in.PasswordHash), []byte(in.Password)) != nil {
			actionError(w, http.StatusBadRequest, codeInvalidArgument,
				"hashed password does not the match the cleartext password, only one of those should be provided")
			return nil, false
		}
		return []byte(in.PasswordHash), true
	case in.Password != "":
		if len(in.Password) < 8 {
			actionError(w, http.StatusBadRequest, codeInvalidArgument, "password length must be at least 8 characters")
			return nil, false
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.opts.BcryptCost)
		if err != nil {
			actionError(w, http.StatusInternalServerError, codeInternal, err.Error()) // over 72 bytes
			return nil, false
		}
		return hash, true
	case in.PasswordHash != "":
		return []byte(in.PasswordHash), true
	}
	actionError(w, http.StatusBadRequest, codeInvalidArgument, "a password or its hash is required")
	return nil, false
}

// handleUserCreate is POST /users: 409 when the user exists. 6.x looks the user up
// before validating, 7.x after (both from the source; rows 34 and 40 record success).
func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request, _ identity) {
	in, ok := s.decodeUser(w, r)
	if !ok {
		return
	}
	exists := func() bool {
		if _, ok := s.User(in.Username); ok {
			actionError(w, http.StatusConflict, codeAlreadyExists, "resource already exists")
			return true
		}
		return false
	}
	if s.opts.Generation == Generation6 && exists() {
		return
	}
	hash, ok := s.validateUser(w, in)
	if !ok {
		return
	}
	s.mu.Lock()
	if _, taken := s.users[in.Username]; taken {
		s.mu.Unlock()
		actionError(w, http.StatusConflict, codeAlreadyExists, "resource already exists")
		return
	}
	s.users[in.Username] = &user{name: in.Username, hash: hash, groups: slices.Clone(in.Groups), disabled: in.Disabled}
	s.mu.Unlock()
	respondEmpty(w, r)
}

// handleUserReplace is PUT /users/{name}: create or replace, password and disabled
// included (rows 58 and 61 of the 6.x record disable and re-enable this way).
func (s *Server) handleUserReplace(w http.ResponseWriter, r *http.Request, name string) {
	in, ok := s.decodeUser(w, r)
	if !ok {
		return
	}
	if in.Username != name {
		actionError(w, http.StatusBadRequest, codeInvalidArgument,
			fmt.Sprintf("the username (%s) does not match the username on the request (%s)", in.Username, name))
		return
	}
	hash, ok := s.validateUser(w, in)
	if !ok {
		return
	}
	s.mu.Lock()
	s.users[in.Username] = &user{name: in.Username, hash: hash, groups: slices.Clone(in.Groups), disabled: in.Disabled}
	s.mu.Unlock()
	respondEmpty(w, r)
}

// handleUserDisabled is DELETE /users/{name} (disable: Sensu never deletes a user) and
// PUT /users/{name}/reinstate.
func (s *Server) handleUserDisabled(w http.ResponseWriter, r *http.Request, name string, disabled bool) {
	if !s.SetUserDisabled(name, disabled) {
		userNotFound(w)
		return
	}
	respondEmpty(w, r)
}

// Users returns the users sorted by username, without passwords.
func (s *Server) Users() []User {
	s.mu.RLock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.public())
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

// User returns one user, without its password.
func (s *Server) User(username string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[username]
	if !ok {
		return User{}, false
	}
	return u.public(), true
}

// Role bindings are stored so that the records' step 35 (and tests that follow it) work.
// The fake keeps no roles: a binding in a namespace lets its subjects read the checks there,
// as the ClusterRole `admin` that the records bind does. Everyone else but cluster admins gets
// 403, as on a real backend for a user with no binding (the agent user's system:agent role
// covers events only).

// mayReadChecks reports whether id may list the checks of namespace.
func (s *Server) mayReadChecks(id identity, namespace string) bool {
	if id.admin() {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, rb := range s.bindings {
		if rb.Namespace == namespace && (slices.Contains(rb.Users, id.username) ||
			slices.ContainsFunc(rb.Groups, func(g string) bool { return slices.Contains(id.groups, g) })) {
			return true
		}
	}
	return false
}

// RoleBinding is a stored role binding.
type RoleBinding struct {
	Namespace string
	Name      string
	RoleType  string // "ClusterRole" or "Role"
	RoleName  string
	Groups    []string // subjects of type Group
	Users     []string // subjects of type User
}

type roleBindingBody struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	RoleRef struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"role_ref"`
	Subjects []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"subjects"`
}

// handleRoleBindingCreate is POST /namespaces/{namespace}/rolebindings: plain on 6.x
// (row 35), wrapped with the metadata inside spec on 7.x (rows 41-42). Validation and
// conflicts are not recorded: a binding needs a name and a role, and an existing name
// answers 409 like a user.
func (s *Server) handleRoleBindingCreate(w http.ResponseWriter, r *http.Request, namespace string) {
	var in roleBindingBody
	if s.opts.Generation == Generation6 {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
			return
		}
	} else {
		spec, ok := decodeWrapped(w, r, "RoleBinding")
		if !ok {
			return
		}
		if err := json.Unmarshal(spec, &in); err != nil {
			actionError(w, http.StatusBadRequest, codeInvalidArgument, err.Error())
			return
		}
		if in.Metadata.Namespace != namespace {
			actionError(w, http.StatusBadRequest, codeInvalidArgument,
				fmt.Sprintf("the namespace of the resource (%s) does not match the namespace of the URI (%s)", in.Metadata.Namespace, namespace))
			return
		}
	}
	if in.Metadata.Name == "" || in.RoleRef.Name == "" {
		actionError(w, http.StatusBadRequest, codeInvalidArgument, "a role binding needs a name and a role_ref")
		return
	}
	rb := RoleBinding{Namespace: namespace, Name: in.Metadata.Name, RoleType: in.RoleRef.Type, RoleName: in.RoleRef.Name}
	for _, sub := range in.Subjects {
		switch sub.Type {
		case "Group":
			rb.Groups = append(rb.Groups, sub.Name)
		case "User":
			rb.Users = append(rb.Users, sub.Name)
		}
	}
	s.mu.Lock()
	key := bindingKey(namespace, rb.Name)
	if _, taken := s.bindings[key]; taken {
		s.mu.Unlock()
		actionError(w, http.StatusConflict, codeAlreadyExists, "resource already exists")
		return
	}
	s.bindings[key] = rb
	s.mu.Unlock()
	respondEmpty(w, r)
}

// handleRoleBindingDelete is DELETE /namespaces/{namespace}/rolebindings/{name} (not
// recorded): 204, or 404 when there is no such binding.
func (s *Server) handleRoleBindingDelete(w http.ResponseWriter, r *http.Request, namespace, name string) {
	s.mu.Lock()
	key := bindingKey(namespace, name)
	_, ok := s.bindings[key]
	delete(s.bindings, key)
	s.mu.Unlock()
	if !ok {
		userNotFound(w)
		return
	}
	respondEmpty(w, r)
}

func bindingKey(namespace, name string) string { return namespace + "/" + name }

// AddRoleBinding stores rb as a cluster admin's POST would (tests: a non-admin that reads checks).
func (s *Server) AddRoleBinding(rb RoleBinding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindings[bindingKey(rb.Namespace, rb.Name)] = rb
}

// RoleBindings returns the stored role bindings, sorted by namespace and name.
func (s *Server) RoleBindings() []RoleBinding {
	s.mu.RLock()
	out := make([]RoleBinding, 0, len(s.bindings))
	for _, rb := range s.bindings {
		out = append(out, rb)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}
