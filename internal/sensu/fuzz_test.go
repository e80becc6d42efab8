package sensu

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The decoders take whatever a server (or a proxy in front of it) sends. Whatever the body,
// they must return keys or a ResponseError, never panic, and never put the body in an error.

var fuzzSeeds = []string{
	`{"metadata":{"name":"63dedfb5-d09f-441c-9150-5a767488cad1","created_by":"admin"},"username":"admin","created_at":1795769717}`,
	`[{"metadata":{"name":"63dedfb5-d09f-441c-9150-5a767488cad1","created_by":"admin"},"username":"admin","created_at":1795769717}]`,
	`{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"surelyworkablemullet","created_by":"admin"},"username":"admin","created_at":1795769926,"hash":"JDJh"}}`,
	`[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"dev-key"},"username":"dev","created_at":1795769931}}]`,
	`{"name":"surelyworkablemullet","key":"6a104763-c5a2-4ce7-af49-a9efda6f6b1e"}`,
	`{"access_token":"a.b.c","expires_at":1795770015,"refresh_token":"d.e.f"}`,
	`<html><body>502 Bad Gateway</body></html>`, `{"metadata":`, `[]`, `null`, `{}`, `[{}]`, ``,
	`{"spec":{"metadata":{"name":""}}}`, `{"created_at":"yesterday"}`, `[{"created_at":-1,"metadata":{"name":"x"}}]`,
}

func fuzzRequest() (request, *response) {
	r := request{method: http.MethodGet, path: apiKeysPath + "/x"}
	return r, &response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}}
}

// checkDecodeError fails when err is not a ResponseError or repeats the body.
func checkDecodeError(t *testing.T, err error, body string) {
	t.Helper()
	if err == nil {
		return
	}
	var rerr *ResponseError
	if !errors.As(err, &rerr) {
		t.Fatalf("decoding failed with %T, want *ResponseError: %v", err, err)
	}
	if len(body) >= 8 && strings.Contains(err.Error(), body) {
		t.Fatalf("the error repeats the body: %v", err)
	}
}

func FuzzDecodeAPIKey(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, gen := range []Generation{Generation6, Generation7} {
			r, resp := fuzzRequest()
			resp.body = []byte(body)
			k, err := decodeAPIKey(gen, r, resp)
			checkDecodeError(t, err, body)
			if err == nil {
				if k.Name == "" || k.ID == "" {
					t.Fatalf("decoded a key without a name or id from %q", body)
				}
				if gen.NamesAreSecret() && k.ID != Digest(k.Name) {
					t.Fatalf("6.x id is not the digest of the key")
				}
			}
			keys, err := decodeAPIKeyList(gen, r, resp)
			checkDecodeError(t, err, body)
			for _, k := range keys {
				if k.Name == "" || k.ID == "" {
					t.Fatalf("decoded a listed key without a name or id from %q", body)
				}
			}
		}
	})
}

func FuzzDecodeGrantAndTokens(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "/api/core/v2/apikeys/63dedfb5-d09f-441c-9150-5a767488cad1")
	}
	f.Fuzz(func(t *testing.T, body, location string) {
		r, resp := fuzzRequest()
		resp.status = http.StatusCreated
		resp.body = []byte(body)
		k, err := created7(r, resp, "tf-name", "client-secret", "admin")
		checkDecodeError(t, err, body)
		if err == nil && (k.ID == "" || k.ID != k.Name || k.Key == "") {
			t.Fatalf("a 7.x grant answer %q gave id %q, name %q and an empty key=%v", body, k.ID, k.Name, k.Key == "")
		}
		if name, ok := keyFromLocation(location); ok && (name == "" || strings.Contains(name, "/")) {
			t.Fatalf("Location %q gave the key %q", location, name)
		}
		var tm tokenManager
		err = tm.store(r, resp)
		checkDecodeError(t, err, body)
		if err == nil && tm.access == "" {
			t.Fatalf("stored an empty access token from %q", body)
		}
	})
}
