package sensu

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// checkRetry is the client's one retry policy.
//
// Reads and deletes are safe to repeat: they are retried on connection errors, 429 and 5xx
// (but not 501, which will not change). A request that is unsafe to repeat (a grant, a 6.x
// token refresh) is retried only when Sensu certainly did not process it: the connection was
// refused before anything was sent, or Sensu answered 429 or 503. A timeout, a reset
// connection or a 502/504 may come after Sensu acted, so repeating would mint a second key.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		// Stop, but let the attempt's own outcome through: an answer that arrived, or the
		// transport error of a request cancelled in flight (which a grant must treat as
		// ambiguous). Returning ctx.Err() here would hide both.
		return false, nil
	}
	unsafe := false
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		unsafe = info.unsafeToRepeat
	}
	if err != nil {
		if IsTLSVerification(err) || errors.Is(err, context.Canceled) {
			return false, nil
		}
		if unsafe {
			return IsConnectionRefused(err), nil
		}
		return true, nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		return true, nil
	case unsafe:
		return false, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff honours Retry-After on 429 and 503 (capped) and otherwise backs off exponentially.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	wait := retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp)
	if wait > maxRetryAfter {
		wait = maxRetryAfter
	}
	return wait
}

// logRetry replaces go-retryablehttp's own logger (which would write to stderr and print
// URLs) with a tflog line on the request's context and a redacted path.
func logRetry(_ retryablehttp.Logger, req *http.Request, attempt int) {
	if attempt == 0 {
		return
	}
	fields := map[string]any{"method": req.Method, "attempt": attempt + 1}
	if info, ok := req.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		fields["path"] = info.path
	}
	tflog.Debug(req.Context(), "Retrying Sensu API request", fields)
}
