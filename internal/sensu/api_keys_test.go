package sensu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestAPIKeysWire drives grant, info, list and revoke against servers that check every
// request byte for byte and answer exactly as the recorded 6.12.0 and 7.0.0-alpha1 backends.
func TestAPIKeysWire(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	for _, auth := range []struct {
		name   string
		cfg    func(*Config)
		header string
	}{
		{"api key", func(c *Config) {}, "Key " + adminAPIKey},
		{"access token", func(c *Config) {
			c.APIKey = ""
			c.AccessToken = "eyJhbGciOiJIUzI1NiJ9.access.sig"
		}, "Bearer eyJhbGciOiJIUzI1NiJ9.access.sig"},
	} {
		t.Run("6.x/"+auth.name, func(t *testing.T) {
			s := newScriptedServer(t, ua,
				exchange{method: "GET", path: "/version", status: 200,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireVersion6},
				exchange{method: "POST", path: "/api/core/v2/apikeys", auth: auth.header,
					bodyType: appJSON, body: wireCreateBody6, status: 201,
					header: map[string]string{"Location": "/api/core/v2/apikeys/" + key6}},
				exchange{method: "GET", path: "/api/core/v2/apikeys/" + key6, auth: auth.header, status: 200,
					header: map[string]string{"Content-Type": appJSON, "Etag": `"da692ac18c5924a7"`}, respBody: wireGet6},
				exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: auth.header, status: 200,
					header: map[string]string{"Content-Type": appJSON}, respBody: wireList6},
				exchange{method: "DELETE", path: "/api/core/v2/apikeys/" + key6, auth: auth.header, status: 204,
					header: map[string]string{"Content-Type": appJSON}},
				exchange{method: "DELETE", path: "/api/core/v2/apikeys/" + key6, auth: auth.header, status: 404,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound},
			)
			cfg := testConfig(s.URL())
			auth.cfg(&cfg)
			c := newTestClient(t, cfg)
			ctx := context.Background()

			gen, err := c.Generation(ctx)
			if err != nil || gen != Generation6 {
				t.Fatalf("Generation = %v, %v; want 6.x", gen, err)
			}
			created, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			if err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			want := APIKey{ID: Digest(key6), Name: key6, Key: key6, Username: "admin"}
			if *created != want {
				t.Errorf("created = %+v, want %+v", *created, want)
			}

			got, err := c.GetAPIKey(ctx, created.Name)
			if err != nil {
				t.Fatalf("GetAPIKey: %v", err)
			}
			want = APIKey{ID: Digest(key6), Name: key6, Key: key6, Username: "admin", CreatedBy: "admin",
				CreatedAt: time.Unix(1795769717, 0).UTC()}
			if *got != want {
				t.Errorf("got = %+v, want %+v", *got, want)
			}

			keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
			if err != nil {
				t.Fatalf("ListAPIKeys: %v", err)
			}
			wantList := []APIKey{
				want,
				{ID: Digest(key6b), Name: key6b, Key: key6b, Username: "admin", CreatedBy: "admin", CreatedAt: time.Unix(1795769717, 0).UTC()},
			}
			assertKeys(t, keys, wantList)

			if err := c.DeleteAPIKey(ctx, created.Name); err != nil {
				t.Fatalf("DeleteAPIKey: %v", err)
			}
			err = c.DeleteAPIKey(ctx, created.Name)
			if !IsNotFound(err) {
				t.Fatalf("second DeleteAPIKey = %v, want IsNotFound", err)
			}
			assertNoSecrets(t, "error", err.Error(), key6)
		})

		t.Run("7.x/"+auth.name, func(t *testing.T) {
			grant7 := &grant7Check{t: t, username: "admin"}
			s := newScriptedServer(t, ua,
				exchange{method: "GET", path: "/version", status: 200,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireVersion7},
				exchange{method: "PUT", path: "/api/core/v2/apikeys", auth: auth.header,
					bodyType: appJSON, verify: grant7.verify, status: 201,
					header: map[string]string{"Content-Type": textPlain},
					// As recorded for a PUT naming its key (step 18): Sensu's own secret.
					reply: grant7.reply(`{"name":%q,"key":"9963cffb-155e-4a5b-a56f-5fbc08bb7d0b"}`)},
				exchange{method: "GET", path: "/api/core/v2/apikeys/" + name7, auth: auth.header, status: 200,
					header: map[string]string{"Content-Type": appJSON, "Etag": `"Wy8DSdFxtEsPbgw6qTuAfrBJsGo"`}, respBody: wireGet7},
				exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: auth.header, status: 200,
					header: map[string]string{"Content-Type": appJSON}, respBody: wireList7},
				exchange{method: "DELETE", path: "/api/core/v2/apikeys/" + name7, auth: auth.header, status: 204},
				exchange{method: "GET", path: "/api/core/v2/apikeys/" + name7, auth: auth.header, status: 404,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound},
			)
			cfg := testConfig(s.URL())
			auth.cfg(&cfg)
			c := newTestClient(t, cfg)
			ctx := context.Background()

			created, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			if err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			want := APIKey{ID: grant7.name(), Name: grant7.name(), Key: "9963cffb-155e-4a5b-a56f-5fbc08bb7d0b", Username: "admin"}
			if *created != want {
				t.Errorf("created = %+v, want %+v", *created, want)
			}

			got, err := c.GetAPIKey(ctx, name7)
			if err != nil {
				t.Fatalf("GetAPIKey: %v", err)
			}
			// The secret cannot be read back on 7.x, and the hash is never surfaced.
			want = APIKey{ID: name7, Name: name7, Username: "admin", CreatedBy: "admin",
				CreatedAt: time.Unix(1795769926, 0).UTC()}
			if *got != want {
				t.Errorf("got = %+v, want %+v", *got, want)
			}

			keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
			if err != nil {
				t.Fatalf("ListAPIKeys: %v", err)
			}
			at := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
			assertKeys(t, keys, []APIKey{
				{ID: "adequatelypreciseegret", Name: "adequatelypreciseegret", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769927)},
				{ID: "previouslytouchinglemming", Name: "previouslytouchinglemming", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769927)},
				{ID: "suddenlyfirstgrackle", Name: "suddenlyfirstgrackle", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769926)},
				{ID: "surelyworkablemullet", Name: "surelyworkablemullet", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769926)},
				{ID: "tf-spec-meta", Name: "tf-spec-meta", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769928)},
				{ID: "triviallyfirmgoshawk", Name: "triviallyfirmgoshawk", Username: "admin", CreatedBy: "admin", CreatedAt: at(1795769928)},
			})
			for _, k := range keys {
				if strings.Contains(k.Key+k.ID+k.Name+k.Username+k.CreatedBy, wireHash7[:8]) {
					t.Errorf("a bcrypt hash reached the key %+v", k)
				}
			}

			if err := c.DeleteAPIKey(ctx, name7); err != nil {
				t.Fatalf("DeleteAPIKey: %v", err)
			}
			if _, err := c.GetAPIKey(ctx, name7); !IsNotFound(err) {
				t.Fatalf("GetAPIKey after delete = %v, want IsNotFound", err)
			}
		})
	}
}

func assertKeys(t *testing.T, got, want []APIKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestListAPIKeysPagination follows Sensu-Continue with limit and continue, on both
// generations, and filters by username.
func TestListAPIKeysPagination(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	page6a := `[{"metadata":{"name":"6d9905ad-1547-4703-8ddd-49000b830b12","created_by":"admin"},"username":"admin","created_at":1795769717}]`
	page6b := `[{"metadata":{"name":"b99b38b6-3b01-472e-9df9-763efe1588c3","created_by":"admin"},"username":"dev","created_at":1795769718}]`
	page7a := `[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"dev-key","created_by":"admin"},"username":"dev","created_at":1795769930,"hash":"JDJh"}}]`
	page7b := `[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"surelyworkablemullet","created_by":"admin"},"username":"admin","created_at":1795769926,"hash":"JDJh"}}]`
	cases := []struct {
		name         string
		gen          Generation
		pageA, pageB string
		username     string
		wantNames    []string
	}{
		{"6.x all", Generation6, page6a, page6b, "", []string{key6b, key6d}},
		{"6.x dev", Generation6, page6a, page6b, "dev", []string{key6d}},
		{"7.x all", Generation7, page7a, page7b, "", []string{"dev-key", name7}},
		{"7.x dev", Generation7, page7a, page7b, "dev", []string{"dev-key"}},
		{"7.x nobody", Generation7, page7a, page7b, "nobody", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScriptedServer(t, ua,
				exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: "Key " + adminAPIKey,
					status: 200, header: map[string]string{"Content-Type": appJSON, "Sensu-Continue": "page+2/="}, respBody: tc.pageA},
				exchange{method: "GET", path: "/api/core/v2/apikeys", query: "continue=page%2B2%2F%3D&limit=500", auth: "Key " + adminAPIKey,
					status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: tc.pageB},
			)
			cfg := testConfig(s.URL())
			cfg.Generation = tc.gen
			c := newTestClient(t, cfg)
			keys, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{Username: tc.username})
			if err != nil {
				t.Fatalf("ListAPIKeys: %v", err)
			}
			var names []string
			for _, k := range keys {
				names = append(names, k.Name)
				if tc.username != "" && k.Username != tc.username {
					t.Errorf("key %s of %s passed the filter %q", k.Name, k.Username, tc.username)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("names = %v, want %v", names, tc.wantNames)
			}
		})
	}

	t.Run("recorded 6.x list filtered", func(t *testing.T) {
		s := newScriptedServer(t, ua, exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: "Key " + adminAPIKey,
			status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: wireList6Dev})
		cfg := testConfig(s.URL())
		cfg.Generation = Generation6
		keys, err := newTestClient(t, cfg).ListAPIKeys(context.Background(), ListAPIKeysOptions{Username: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		assertKeys(t, keys, []APIKey{{ID: Digest(key6d), Name: key6d, Key: key6d, Username: "dev", CreatedBy: "admin",
			CreatedAt: time.Unix(1795769718, 0).UTC()}})
	})

	t.Run("repeated continue token", func(t *testing.T) {
		page := exchange{method: "GET", path: "/api/core/v2/apikeys", query: "continue=x&limit=500", auth: "Key " + adminAPIKey,
			status: 200, header: map[string]string{"Content-Type": appJSON, "Sensu-Continue": "x"}, respBody: "[]"}
		first := page
		first.query = "limit=500"
		s := newScriptedServer(t, ua, first, page)
		cfg := testConfig(s.URL())
		cfg.Generation = Generation7
		_, err := newTestClient(t, cfg).ListAPIKeys(context.Background(), ListAPIKeysOptions{})
		var rerr *ResponseError
		if !errors.As(err, &rerr) {
			t.Fatalf("err = %v, want a ResponseError", err)
		}
	})
}

// TestListAPIKeysManyPages walks a fake backend that pages by two.
// TestEachAPIKeyStopsEarly checks that EachAPIKey requests a page only when the caller
// wants more keys: two keys out of a two-page list cost one request, the filter applies
// across pages, and an error of a later page reaches the caller.
func TestEachAPIKeyStopsEarly(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	twoAdminKeys := `[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"a1","created_by":"admin"},"username":"admin","created_at":1795769926}},` +
		`{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"a2","created_by":"admin"},"username":"admin","created_at":1795769927}},` +
		`{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"d1","created_by":"admin"},"username":"dev","created_at":1795769928}}]`
	devKey := `[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"d2","created_by":"admin"},"username":"dev","created_at":1795769929}}]`
	first := exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: "Key " + adminAPIKey,
		status: 200, header: map[string]string{"Content-Type": appJSON, "Sensu-Continue": "p2"}, respBody: twoAdminKeys}
	second := exchange{method: "GET", path: "/api/core/v2/apikeys", query: "continue=p2&limit=500", auth: "Key " + adminAPIKey,
		status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: devKey}
	each := func(t *testing.T, s *scriptedServer, opts ListAPIKeysOptions, want int) ([]string, error) {
		cfg := testConfig(s.URL())
		cfg.Generation = Generation7
		var names []string
		err := newTestClient(t, cfg).EachAPIKey(context.Background(), opts, func(k APIKey) bool {
			names = append(names, k.Name)
			return len(names) < want
		})
		return names, err
	}

	t.Run("two keys, one page", func(t *testing.T) {
		names, err := each(t, newScriptedServer(t, ua, first), ListAPIKeysOptions{}, 2)
		if err != nil || strings.Join(names, ",") != "a1,a2" {
			t.Errorf("got %v, %v; want [a1 a2] from the first page only", names, err)
		}
	})
	t.Run("filter across pages", func(t *testing.T) {
		names, err := each(t, newScriptedServer(t, ua, first, second), ListAPIKeysOptions{Username: "dev"}, 10)
		if err != nil || strings.Join(names, ",") != "d1,d2" {
			t.Errorf("got %v, %v; want [d1 d2]", names, err)
		}
	})
	t.Run("error on the second page", func(t *testing.T) {
		failing := second
		failing.status, failing.respBody = 500, `{"message":"boom","code":2}`
		failing.header = map[string]string{"Content-Type": appJSON}
		// The second page fails on every attempt: the first and its 4 retries.
		s := newScriptedServer(t, ua, first, failing, failing, failing, failing, failing)
		c := testConfig(s.URL())
		c.Generation, c.MaxRetries = Generation7, 4
		var names []string
		err := newTestClient(t, c).EachAPIKey(context.Background(), ListAPIKeysOptions{}, func(k APIKey) bool {
			names = append(names, k.Name)
			return true
		})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
			t.Errorf("err = %v, want the 500 of the second page", err)
		}
		if strings.Join(names, ",") != "a1,a2,d1" {
			t.Errorf("before the error the caller got %v, want the first page's keys", names)
		}
	})
}

func TestListAPIKeysManyPages(t *testing.T) {
	for _, gen := range []Generation{Generation6, Generation7} {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			f.pageSize = 2
			admin := f.addKey("admin")
			for range 6 {
				f.addKey("dev")
			}
			cfg := testConfig(f.URL())
			cfg.APIKey = admin.key
			c := newTestClient(t, cfg)
			keys, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{})
			if err != nil {
				t.Fatalf("ListAPIKeys: %v", err)
			}
			if len(keys) != 7 {
				t.Errorf("got %d keys, want 7", len(keys))
			}
			if n := f.count("GET /api/core/v2/apikeys"); n != 4 {
				t.Errorf("%d list requests, want 4 pages", n)
			}
			dev, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{Username: "dev"})
			if err != nil || len(dev) != 6 {
				t.Errorf("dev's keys = %d, %v; want 6", len(dev), err)
			}
		})
	}
}

// TestLookupAPIKey finds a key by its public ID: by digest (6.x, one list), by key (6.x)
// and by name (7.x).
func TestLookupAPIKey(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	key := "Key " + adminAPIKey
	list6 := exchange{method: "GET", path: "/api/core/v2/apikeys", query: "limit=500", auth: key,
		status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: wireList6}
	get6 := exchange{method: "GET", path: "/api/core/v2/apikeys/" + key6, auth: key,
		status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: wireGet6}
	get7 := exchange{method: "GET", path: "/api/core/v2/apikeys/" + name7, auth: key,
		status: 200, header: map[string]string{"Content-Type": appJSON}, respBody: wireGet7}
	digest := Digest(key6)
	get7digest := exchange{method: "GET", path: "/api/core/v2/apikeys/" + digest, auth: key,
		status: 404, header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound}

	cases := []struct {
		name         string
		gen          Generation
		id           string
		steps        []exchange
		wantName     string
		wantNotFound bool
	}{
		{"6.x by digest", Generation6, digest, []exchange{list6}, key6, false},
		{"6.x by upper-case digest", Generation6, strings.ToUpper(digest), []exchange{list6}, key6, false},
		{"6.x by key", Generation6, key6, []exchange{get6}, key6, false},
		{"6.x unknown digest", Generation6, Digest("no such key"), []exchange{list6}, "", true},
		{"7.x by name", Generation7, name7, []exchange{get7}, name7, false},
		{"7.x name that looks like a digest", Generation7, digest, []exchange{get7digest}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScriptedServer(t, ua, tc.steps...)
			cfg := testConfig(s.URL())
			cfg.Generation = tc.gen
			got, err := newTestClient(t, cfg).LookupAPIKey(context.Background(), tc.id)
			if tc.wantNotFound {
				if !IsNotFound(err) {
					t.Fatalf("LookupAPIKey = %+v, %v; want IsNotFound", got, err)
				}
				assertNoSecrets(t, "error", err.Error(), key6, key6b)
				return
			}
			if err != nil {
				t.Fatalf("LookupAPIKey: %v", err)
			}
			if got.Name != tc.wantName {
				t.Errorf("Name = %q, want %q", got.Name, tc.wantName)
			}
			if tc.gen == Generation6 && (got.ID != digest || got.Key != key6) {
				t.Errorf("6.x key = %+v, want ID %s and the key", got, digest)
			}
			if tc.gen == Generation7 && (got.ID != name7 || got.Key != "") {
				t.Errorf("7.x key = %+v, want ID %s and no key", got, name7)
			}
		})
	}
}

func TestCreateAPIKeyValidation(t *testing.T) {
	c := newTestClient(t, testConfig("http://127.0.0.1:1"))
	if _, err := c.CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "  "}); err == nil {
		t.Fatal("CreateAPIKey with a blank username succeeded")
	}
}

// TestKeyFromLocation covers the Location header forms a 6.x grant can answer with.
func TestKeyFromLocation(t *testing.T) {
	cases := []struct {
		location string
		want     string
		ok       bool
	}{
		{"/api/core/v2/apikeys/" + key6, key6, true},
		{"http://127.0.0.1:18080/api/core/v2/apikeys/" + key6, key6, true},
		{"/api/core/v2/apikeys/", "", false},
		{"/api/core/v2/apikeys", "", false},
		{"/api/core/v2/users/admin", "", false},
		{"", "", false},
		{"%zz", "", false},
	}
	for _, tc := range cases {
		got, ok := keyFromLocation(tc.location)
		if got != tc.want || ok != tc.ok {
			t.Errorf("keyFromLocation(%q) = %q, %v; want %q, %v", tc.location, got, ok, tc.want, tc.ok)
		}
	}
}

// TestGenerationDetection maps sensu_backend versions and asks /version once, even when
// many first calls race.
func TestGenerationDetection(t *testing.T) {
	for v, want := range map[string]Generation{
		"6.12.0": Generation6, "7.0.0-alpha1": Generation7, "v7.1.0": Generation7, "8.0.0": Generation7,
		"5.21.5": Generation6, "(devel)": Generation6, "": Generation6,
	} {
		if got := generationOf(v); got != want {
			t.Errorf("generationOf(%q) = %v, want %v", v, got, want)
		}
	}
	if !Generation6.NamesAreSecret() || Generation7.NamesAreSecret() {
		t.Error("NamesAreSecret is wrong")
	}

	for _, gen := range []Generation{Generation6, Generation7} {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			c := newTestClient(t, testConfig(f.URL()))
			errs := make(chan error, 20)
			for range 20 {
				go func() {
					g, err := c.Generation(context.Background())
					if err == nil && g != gen {
						err = errors.New("wrong generation " + g.String())
					}
					errs <- err
				}()
			}
			for range 20 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if n := f.count("GET /version"); n != 1 {
				t.Errorf("GET /version sent %d times, want 1", n)
			}
		})
	}

	t.Run("preset", func(t *testing.T) {
		f := newFakeSensu(t, Generation7)
		cfg := testConfig(f.URL())
		cfg.Generation = Generation6
		if g, err := newTestClient(t, cfg).Generation(context.Background()); err != nil || g != Generation6 {
			t.Errorf("Generation = %v, %v; want the preset 6.x", g, err)
		}
		if f.total() != 0 {
			t.Errorf("a preset generation still sent %d requests", f.total())
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		s := newScriptedServer(t, "terraform-provider-sensu/test", exchange{method: "GET", path: "/version",
			status: 200, header: map[string]string{"Content-Type": "text/html"}, respBody: "<html>proxy</html>"})
		_, err := newTestClient(t, testConfig(s.URL())).Generation(context.Background())
		var rerr *ResponseError
		if !errors.As(err, &rerr) {
			t.Fatalf("err = %v, want a ResponseError", err)
		}
	})
}

func TestIsDigest(t *testing.T) {
	for s, want := range map[string]bool{
		Digest(key6):                   true,
		strings.ToUpper(Digest(key6)):  true,
		key6:                           false,
		Digest(key6)[:63]:              false,
		Digest(key6)[:63] + "g":        false,
		"":                             false,
		strings.Repeat("0", 64) + "00": false,
	} {
		if got := IsDigest(s); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", s, got, want)
		}
	}
	// Digest is the plain hex SHA-256.
	if got := Digest("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("Digest(abc) = %s", got)
	}
}

// TestAPIKeysAgainstFake runs the whole lifecycle with password authentication.
func TestAPIKeysAgainstFake(t *testing.T) {
	for _, gen := range []Generation{Generation6, Generation7} {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			cfg := testConfig(f.URL())
			cfg.APIKey, cfg.Username, cfg.Password = "", testUsername, testPassword
			c := newTestClient(t, cfg)
			ctx := context.Background()

			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "dev"})
			if err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			wantID := k.Name
			if gen == Generation6 {
				wantID = Digest(k.Key)
			}
			if k.ID != wantID || k.Key == "" || k.Username != "dev" {
				t.Errorf("created %+v", k)
			}
			found, err := c.LookupAPIKey(ctx, k.ID)
			if err != nil || found.Name != k.Name || found.Username != "dev" || found.CreatedAt.IsZero() {
				t.Errorf("LookupAPIKey(%s) = %+v, %v", k.ID, found, err)
			}
			if err := c.DeleteAPIKey(ctx, k.Name); err != nil {
				t.Fatalf("DeleteAPIKey: %v", err)
			}
			if _, err := c.LookupAPIKey(ctx, k.ID); !IsNotFound(err) {
				t.Errorf("LookupAPIKey after revoke = %v, want IsNotFound", err)
			}
			if n := f.count("GET /auth"); n != 1 {
				t.Errorf("GET /auth sent %d times, want 1", n)
			}
			if f.count("DELETE /api/core/v2/apikeys/{name}") != 1 || f.keyCount() != 0 {
				t.Errorf("revoke did not reach the backend")
			}
		})
	}
}

// grant7Check verifies a 7.x grant body: the wrapped form with a client-chosen name and
// the bcrypt hash of a client-generated secret, as in
// {"type":"APIKey","api_version":"core/v2","metadata":{},"spec":{"metadata":{"name":"tf-…"},"username":"admin","hash":"…"}}.
type grant7Check struct {
	t        *testing.T
	username string
	// nameRule is what the client's name must look like; nil means clientKeyName.
	nameRule *regexp.Regexp

	mu    sync.Mutex
	names []string
	hash  []byte
}

var clientKeyName = regexp.MustCompile(`^tf-[0-9a-f]{32}$`)

func (g *grant7Check) verify(t *testing.T, body []byte) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Errorf("grant body %s: %v", body, err)
		return
	}
	if len(raw) != 4 || string(raw["type"]) != `"APIKey"` || string(raw["api_version"]) != `"core/v2"` || string(raw["metadata"]) != `{}` {
		t.Errorf("grant body %s is not the wrapped form", body)
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(raw["spec"], &spec); err != nil || len(spec) != 3 {
		t.Errorf("grant spec %s: want metadata, username and hash (%v)", raw["spec"], err)
	}
	var parsed struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Username string `json:"username"`
		Hash     []byte `json:"hash"`
	}
	if err := json.Unmarshal(raw["spec"], &parsed); err != nil {
		t.Errorf("grant spec %s: %v", raw["spec"], err)
		return
	}
	rule := g.nameRule
	if rule == nil {
		rule = clientKeyName
	}
	if !rule.MatchString(parsed.Metadata.Name) || parsed.Username != g.username {
		t.Errorf("grant spec names %q for %q", parsed.Metadata.Name, parsed.Username)
	}
	if _, err := bcrypt.Cost(parsed.Hash); err != nil {
		t.Errorf("grant spec hash %q is not a bcrypt hash: %v", parsed.Hash, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.names = append(g.names, parsed.Metadata.Name)
	g.hash = parsed.Hash
}

// reply answers with format filled in with the name the client chose, and its Location.
func (g *grant7Check) reply(format string) func([]byte, http.Header) string {
	return func(_ []byte, h http.Header) string {
		name := g.name()
		h.Set("Location", "/api/core/v2/apikeys/"+name)
		return fmt.Sprintf(format, name)
	}
}

func (g *grant7Check) name() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.names) == 0 {
		return ""
	}
	return g.names[len(g.names)-1]
}

// storedReply answers a read-back of the key the client named, holding the hash it sent.
func (g *grant7Check) storedReply() func([]byte, http.Header) string {
	return func([]byte, http.Header) string {
		g.mu.Lock()
		hash := g.hash
		g.mu.Unlock()
		spec, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"name": g.name(), "created_by": "admin"},
			"username": g.username, "created_at": 1795769926, "hash": hash,
		})
		return `{"type":"APIKey","api_version":"core/v2","spec":` + string(spec) + `}`
	}
}

func (g *grant7Check) keyPath() string { return "/api/core/v2/apikeys/" + g.name() }

// TestGrant7 covers the answers a 7.x grant can get: Sensu's own secret (as recorded), an
// empty key when Sensu stored the client's hash, unreadable bodies. A 2xx that cannot be
// read is followed by a read-back, whose hash shows the key is the grant's own.
func TestGrant7(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	auth := "Key " + adminAPIKey
	for _, tc := range []struct {
		name      string
		format    string
		ownSecret bool   // the client's secret is the key
		reason    string // a ResponseError's reason
		revoked   bool   // the created key was read back (and found to be the grant's own)
	}{
		{"Sensu's secret", `{"name":%q,"key":"9963cffb-155e-4a5b-a56f-5fbc08bb7d0b"}`, false, "", false},
		{"client hash stored", `{"name":%q,"key":""}`, true, "", false},
		{"no name in the answer", `{"key":""}` + "%.0s", true, "", false},

		// A 2xx that cannot be read: the key is read back, and its hash proves it is ours.
		{"HTML", `<html>%s</html>`, true, "", true},
		{"truncated", `{"name":%q`, true, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &grant7Check{t: t, username: "dev"}
			steps := []exchange{{method: "PUT", path: "/api/core/v2/apikeys", auth: auth,
				bodyType: appJSON, verify: g.verify, status: 201,
				header: map[string]string{"Content-Type": textPlain}, reply: g.reply(tc.format)}}
			switch {
			case tc.revoked:
				steps = append(steps,
					exchange{method: "GET", pathFunc: g.keyPath, auth: auth, status: 200,
						header: map[string]string{"Content-Type": appJSON}, reply: g.storedReply()})
			case tc.reason != "":
				steps = append(steps, exchange{method: "GET", pathFunc: g.keyPath, auth: auth, status: 404,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireNotFound})
			}
			s := newScriptedServer(t, ua, steps...)
			cfg := testConfig(s.URL())
			cfg.Generation = Generation7
			ctx, logs := logContext()
			k, err := newTestClient(t, cfg).CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "dev"})
			if tc.reason != "" {
				var rerr *ResponseError
				if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, tc.reason) {
					t.Fatalf("err = %v, want a ResponseError saying %q", err, tc.reason)
				}
				if tc.revoked && !strings.Contains(err.Error(), "revoked") {
					t.Errorf("err = %v, want it to say the key was revoked", err)
				}
				assertNoSecrets(t, "error", err.Error(), "6a104763-c5a2-4ce7-af49-a9efda6f6b1e")
				return
			}
			if err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			if k.ID != g.name() || k.Name != g.name() || k.Username != "dev" {
				t.Errorf("key = %+v, want the name %s", k, g.name())
			}
			matches := bcrypt.CompareHashAndPassword(g.hash, []byte(k.Key)) == nil
			if matches != tc.ownSecret {
				t.Errorf("the key matches the sent hash: %v, want %v", matches, tc.ownSecret)
			}
			assertNoSecrets(t, "logs", logs.String(), k.Key)
		})
	}
}

// TestGrant7ServerNamed is a backend that names the key itself despite the client's name: the
// key exists under the server's name, which the client must track rather than lose.
func TestGrant7ServerNamed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"name":"surelyworkablemullet","key":"6a104763-c5a2-4ce7-af49-a9efda6f6b1e"}`))
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.Generation = Generation7
	k, err := newTestClient(t, cfg).CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: "admin"})
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if k.ID != "surelyworkablemullet" || k.Name != k.ID || k.Key != "6a104763-c5a2-4ce7-af49-a9efda6f6b1e" {
		t.Errorf("key = %s/%s, want Sensu's name and secret", k.ID, k.Name)
	}
}
