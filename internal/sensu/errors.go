package sensu

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"syscall"
)

// APIError is a response from Sensu with a status the client does not treat as success.
// Message is the server's own text, with any secret that was part of the request path
// replaced, so it is safe to show.
type APIError struct {
	StatusCode int
	Message    string
	Method     string
	Path       string // redacted request path
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// UserNotFoundError is Sensu's answer to a grant for a user it does not know (HTTP 400).
type UserNotFoundError struct {
	Username string
	Err      *APIError
}

func (e *UserNotFoundError) Error() string {
	return fmt.Sprintf("sensu user %q does not exist: %v", e.Username, e.Err)
}

func (e *UserNotFoundError) Unwrap() error { return e.Err }

// NameTakenError is a grant with a chosen name that another key already has. Sensu's PUT
// would overwrite that key silently (and its POST would silently pick another name), so the
// client does not grant.
type NameTakenError struct {
	Name      string
	Username  string // the existing key's user
	CreatedBy string // who granted it, when Sensu says
}

func (e *NameTakenError) Error() string {
	by := ""
	if e.CreatedBy != "" {
		by = fmt.Sprintf(", granted by %q", e.CreatedBy)
	}
	return fmt.Sprintf("an API key named %q already exists for user %q%s", e.Name, e.Username, by)
}

// IsNameTaken reports a grant refused because its chosen name is taken.
func IsNameTaken(err error) bool {
	var e *NameTakenError
	return errors.As(err, &e)
}

// GenerationError is a request for something the backend's API generation cannot do.
type GenerationError struct {
	Generation Generation
	Feature    string // what was asked, e.g. "a chosen API key name"
	Reason     string
}

func (e *GenerationError) Error() string {
	return fmt.Sprintf("%s needs Sensu Go 7.x, and the backend is %s: %s", e.Feature, e.Generation, e.Reason)
}

// IsGenerationError reports a request the backend's generation cannot serve.
func IsGenerationError(err error) bool {
	var e *GenerationError
	return errors.As(err, &e)
}

// TransportError is a request that got no HTTP response: the connection, TLS handshake or
// timeout failed. URL is redacted; Err never carries the request URL (see redactTransportError).
type TransportError struct {
	Method string
	URL    string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// ResponseError is a response whose status was fine but whose body could not be understood:
// HTML from a proxy, truncated JSON, an oversized body or the wrong shape. The body itself is
// never included: on Sensu 6.x an API key list is made of secrets.
type ResponseError struct {
	Method      string
	Path        string
	StatusCode  int
	ContentType string
	Reason      string
}

func (e *ResponseError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s %s: unexpected response from Sensu (HTTP %d, %s): %s", e.Method, e.Path, e.StatusCode, ct, e.Reason)
}

// CASource says which setting a CAError is about.
type CASource string

const (
	CAFromFile CASource = "file"
	CAFromPEM  CASource = "pem"
)

// CAError is a trusted CA bundle that cannot be used.
type CAError struct {
	Source CASource
	Err    error
}

func (e *CAError) Error() string { return e.Err.Error() }
func (e *CAError) Unwrap() error { return e.Err }

// RefreshError is a refused renewal of an expired access token when there is no password to
// log in again with. On Sensu 6.x a refresh token works once: an earlier process (another
// Terraform walk, or sensuctl) may have used it.
type RefreshError struct {
	Err error
}

func (e *RefreshError) Error() string {
	return fmt.Sprintf("Sensu refused to refresh the access token: %v", e.Err)
}

func (e *RefreshError) Unwrap() error { return e.Err }

// IsRefreshRefused reports whether an expired access token could not be renewed.
func IsRefreshRefused(err error) bool {
	var e *RefreshError
	return errors.As(err, &e)
}

// IsNotFound reports whether Sensu answered 404: the API key (or route) does not exist.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsUnauthorized reports whether Sensu rejected the credentials (401): a wrong password,
// an unknown, revoked or expired key or token.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether the credentials are valid but not allowed (403). API keys are
// cluster-wide: only members of cluster-admins may grant, view or revoke them.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsUserNotFound reports whether a grant named a user Sensu does not know.
func IsUserNotFound(err error) bool {
	var e *UserNotFoundError
	return errors.As(err, &e)
}

// IsTLSVerification reports whether the server's certificate could not be verified, which
// usually means its CA has to be trusted (trusted CA file or PEM).
func IsTLSVerification(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}

// IsTransportError reports a request that got no HTTP answer at all (see TransportError).
func IsTransportError(err error) bool {
	var e *TransportError
	return errors.As(err, &e)
}

// IsUnexpectedResponse reports an answer that is not a Sensu API response (see ResponseError).
func IsUnexpectedResponse(err error) bool {
	var e *ResponseError
	return errors.As(err, &e)
}

// IsConnectionRefused reports whether nothing listened at the API URL: the request certainly
// never reached Sensu.
func IsConnectionRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func hasStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == status
}
