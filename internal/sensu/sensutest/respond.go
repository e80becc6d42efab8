package sensutest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

const (
	textPlain = "text/plain; charset=utf-8"
	appJSON   = "application/json"
)

// Bodies the real backends write verbatim (no trailing newline, no nosniff header),
// as recorded in the wire files.
const (
	bodyBadCredentials     = `{"Code":5,"Message":"bad credentials"}`
	bodyInvalidCredentials = `{"Code":5,"Message":"invalid credentials"}`
	bodyForbidden          = `{"Code":4,"Message":"unauthorized to perform action"}`
	bodyKeyNotFound        = `{"message":"not found","code":2}`
	bodyRouteNotFound      = `{"code":2,"message":"not found"}` + "\n"
)

// writeRaw writes body exactly as given, with an explicit Content-Length so that large
// bodies are not chunked.
func writeRaw(w http.ResponseWriter, code int, contentType, body string) {
	h := w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func badCredentials(w http.ResponseWriter) {
	writeRaw(w, http.StatusUnauthorized, textPlain, bodyBadCredentials)
}

func invalidCredentials(w http.ResponseWriter) {
	writeRaw(w, http.StatusUnauthorized, textPlain, bodyInvalidCredentials)
}

func forbidden(w http.ResponseWriter) {
	writeRaw(w, http.StatusForbidden, textPlain, bodyForbidden)
}

// keyNotFound is the store's "not found" answer for a missing key (GET and DELETE);
// unlike the other JSON errors it carries X-Content-Type-Options: nosniff.
func keyNotFound(w http.ResponseWriter) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeRaw(w, http.StatusNotFound, textPlain, bodyKeyNotFound)
}

// routeNotFound is 7.0.0-alpha1's answer for /health, used for every unknown route.
func routeNotFound(w http.ResponseWriter) {
	writeRaw(w, http.StatusNotFound, textPlain, bodyRouteNotFound)
}

// methodNotAllowed matches the router's 405: no body, no Content-Type.
func methodNotAllowed(w http.ResponseWriter) {
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// writeJSONLine writes v the way json.Encoder does (trailing newline), which is how the
// backend writes token triples and 7.x grant answers.
func writeJSONLine(w http.ResponseWriter, code int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	writeRaw(w, code, contentType, string(b))
}

// randHex returns n random bytes, hex encoded. crypto/rand.Read never fails on
// supported platforms (it aborts the program instead), so no error is returned.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, the form both generations use for secrets.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
