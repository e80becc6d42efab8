package sensu

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

// On Sensu 6.x an API key's name is the key itself, so every info and revoke URL carries a
// secret. Everything that leaves the client (log fields, error text) goes through these.

// Digest returns the hex SHA-256 of s: the public handle of a 6.x key.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// redactedSegment stands in for a secret path segment; the digest prefix lets an operator
// match a log line to a resource id without revealing the key.
func redactedSegment(secret string) string {
	return "{key:sha256:" + Digest(secret)[:12] + "}"
}

// redact replaces every occurrence of secret (raw and path-escaped) in s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	s = strings.ReplaceAll(s, secret, redactedSegment(secret))
	if escaped := url.PathEscape(secret); escaped != secret {
		s = strings.ReplaceAll(s, escaped, redactedSegment(secret))
	}
	return s
}

// transportCause strips the *url.Error wrapper, whose text is the full request URL, and
// keeps its cause (a dial, TLS or timeout error), which names only the host.
func transportCause(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
