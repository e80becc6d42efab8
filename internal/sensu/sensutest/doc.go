// Package sensutest is an in-memory fake of a Sensu Go backend's auth and API-key HTTP
// API, for tests and demos. It reproduces the wire behavior recorded from real
// backends (the records wire-6.12.0.md and wire-7.0.0-alpha1.md in shared/sensu-api):
// status codes, bodies byte for byte where they are not random, content types and the
// headers clients may depend on (Location, Etag, chunked lists on 7.x).
//
// Modeled routes: GET /version, GET /auth, POST /auth/token, GET /auth/test,
// GET|POST (7.x also PUT) /api/core/v2/apikeys, GET|DELETE /api/core/v2/apikeys/{name},
// GET|POST /api/core/v2/users, GET|PUT|DELETE /api/core/v2/users/{name} (DELETE disables),
// PUT /api/core/v2/users/{name}/reinstate, POST
// /api/core/v2/namespaces/{namespace}/rolebindings and DELETE …/rolebindings/{name}, and
// GET /api/core/v2/namespaces/{namespace}/checks ("[]", used to prove that a credential
// works). Other methods on these paths get 405; other paths get 7.x's 404
// {"code":2,"message":"not found"}, /health included.
//
// Users: admin (cluster-admins) and agent (system:agents), as `sensu-backend init` seeds
// them, and dev (group dev; Options.NoDevUser leaves it out). Passwords are bcrypt hashes
// at Options.BcryptCost. Only cluster admins manage users; a disabled user cannot log in or
// refresh, but its API keys and access tokens keep working. Role bindings are stored but
// roles are not: checks answer 200 to cluster admins and to the subjects (user or group) of
// any binding in the namespace, and 403 to everyone else, as real backends answer a user
// with no binding (checked on 6.12.0 and 7.0.0-alpha1: a new user's key, the agent's token).
//
// Behavior that is not in the records is a guess and says so where it is implemented:
// list pagination (limit/continue, Sensu-Continue header), client-supplied key hashes
// on 7.x, refresh tokens bound to the access token's user (and 6.x session), and the
// answers to malformed pagination parameters, names and hashes.
//
// # Test-only control routes
//
// Handler serves, without auth and without counting them:
//
//	GET    /_sensutest/stats              {"requests":{route:n},"api_keys":N,"logins":N}
//	GET    /_sensutest/apikeys            [APIKey...] sorted by name
//	POST   /_sensutest/faults             a Fault as JSON, e.g. {"method":"POST","route":"/api/core/v2/apikeys","status":503,"retry_after":"1"}
//	DELETE /_sensutest/faults             clear faults
//	POST   /_sensutest/reset-counters
//	GET    /_sensutest/authenticates?key= {"authenticates":bool}
//
// They exist for a standalone process (cmd/sensu-inmem) driven by a script and must
// never be exposed beyond loopback.
package sensutest
