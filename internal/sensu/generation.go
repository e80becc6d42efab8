package sensu

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Generation is the API generation of a Sensu Go backend. The two speak different API key
// formats; see api_keys.go.
type Generation int

const (
	// Generation6 is Sensu Go 6.x and earlier: plain bodies, and a key's name is the key.
	Generation6 Generation = 6
	// Generation7 is Sensu Go 7.x: wrapped bodies, server-named keys with a hashed secret.
	Generation7 Generation = 7
)

func (g Generation) String() string {
	if g >= Generation7 {
		return "Sensu Go 7.x"
	}
	return "Sensu Go 6.x"
}

// NamesAreSecret reports whether an API key's name is the key itself (6.x).
func (g Generation) NamesAreSecret() bool { return g < Generation7 }

// Generation returns the backend's API generation. It asks GET /version (no auth) once per
// client; concurrent first callers wait for that one request instead of sending their own.
func (c *Client) Generation(ctx context.Context) (Generation, error) {
	if g := c.generation.Load(); g != 0 {
		return Generation(g), nil
	}
	return c.detectGeneration(ctx)
}

func (c *Client) detectGeneration(ctx context.Context) (Generation, error) {
	seen := c.genAttempts.Load()
	if err := c.genLock.lock(ctx); err != nil {
		return 0, err
	}
	defer c.genLock.unlock()
	if g := c.generation.Load(); g != 0 {
		return Generation(g), nil
	}
	// A detection failed while this caller waited: share its error rather than repeat it, so
	// an unreachable backend is reported once and not once per queued resource.
	if c.genAttempts.Load() != seen && c.genErr != nil {
		return 0, c.genErr
	}
	c.genAttempts.Add(1)
	r := request{method: http.MethodGet, path: "/version"}
	resp, err := c.do(ctx, r)
	c.genErr = err
	if err != nil {
		return 0, err
	}
	var v struct {
		SensuBackend string `json:"sensu_backend"`
	}
	if err := decodeJSON(r, resp, &v); err != nil {
		c.genErr = err
		return 0, err
	}
	gen := generationOf(v.SensuBackend)
	tflog.Debug(ctx, "Detected the Sensu API generation", map[string]any{"sensu_backend": v.SensuBackend, "generation": int(gen)})
	c.generation.Store(int32(gen))
	return gen, nil
}

// generationOf maps a sensu_backend version ("6.12.0", "7.0.0-alpha1") to its generation.
// An unparsable version (a development build) is taken as 6.x, the released API.
func generationOf(version string) Generation {
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(version), "v"), ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 7 {
		return Generation7
	}
	return Generation6
}
