package sensutest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes the next matching requests misbehave. Faults are consumed in the order
// they were injected; each request consumes at most one.
type Fault struct {
	Method string // "" matches any
	// Route is a pattern as in Requests() without the method, e.g. "/api/core/v2/apikeys"
	// or "/api/core/v2/apikeys/{name}" (any key); a literal path such as
	// "/api/core/v2/apikeys/foo" matches that key only. "" matches any route. The form
	// "POST /api/core/v2/apikeys" is also accepted and sets Method.
	Route string
	Count int // fail the next Count matching requests (0 means 1)
	// Status answers with this status, Body and ContentType (default text/plain;
	// charset=utf-8) without processing the request. Outside 200-599 it becomes 500.
	Status      int
	RetryAfter  string // Retry-After header, if not empty
	Body        string
	ContentType string // override for Body (e.g. "text/html"), to simulate bad bodies on a 200
	// AfterProcess processes the request normally (e.g. really creates the key), then
	// drops the connection without a response; with Status set it answers Status
	// instead of the real response. Note that Go's http.Transport silently retries a
	// GET (or other replayable request) once when a reused connection is dropped.
	AfterProcess bool
	// Delay sleeps before handling; a canceled request stops waiting and is not
	// processed. A fault with only a Delay then processes the request normally. A fault
	// with no Status, no AfterProcess and no Delay answers 500.
	Delay time.Duration
	// ProcessLate, with Delay, processes the request as soon as the client gives up on it (its
	// timeout, at most Delay after the request arrived), without answering: a slow backend whose
	// commit lands just after the client timed out. It waits for the client rather than for a
	// fixed time, so the commit always comes after the client gave up and never much later. If
	// the client is still waiting after Delay, the request is processed and answered normally.
	ProcessLate bool
}

type faultState struct {
	f         Fault
	remaining int
}

// InjectFault queues f.
func (s *Server) InjectFault(f Fault) {
	if m, r, ok := strings.Cut(f.Route, " "); ok && strings.HasPrefix(r, "/") {
		if f.Method == "" {
			f.Method = m
		}
		f.Route = r
	}
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		f.Status = http.StatusInternalServerError
	}
	n := f.Count
	if n <= 0 {
		n = 1
	}
	s.fmu.Lock()
	s.faults = append(s.faults, &faultState{f: f, remaining: n})
	s.nfaults.Store(int32(len(s.faults)))
	s.fmu.Unlock()
}

// ClearFaults drops all queued faults.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	s.faults = nil
	s.nfaults.Store(0)
	s.fmu.Unlock()
}

func (s *Server) takeFault(method string, rt route) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, fs := range s.faults {
		f := fs.f
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.Route != "" && f.Route != rt.pattern && f.Route != rt.path {
			continue
		}
		fs.remaining--
		if fs.remaining <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			s.nfaults.Store(int32(len(s.faults)))
		}
		return f, true
	}
	return Fault{}, false
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, rt route, f Fault) {
	if f.Delay > 0 {
		bufferBody(r)
		if f.ProcessLate {
			if !sleepCtx(r.Context(), f.Delay) {
				s.dispatch(&discardWriter{h: http.Header{}}, r.WithContext(context.WithoutCancel(r.Context())), rt)
				return
			}
			s.dispatch(w, r, rt)
			return
		}
		if !sleepCtx(r.Context(), f.Delay) {
			return
		}
	}
	switch {
	case f.AfterProcess:
		s.dispatch(&discardWriter{h: http.Header{}}, r, rt)
		if f.Status != 0 {
			writeFault(w, f)
			return
		}
		dropConnection(w, r)
	case f.Status != 0:
		writeFault(w, f)
	case f.Delay > 0:
		s.dispatch(w, r, rt)
	default:
		f.Status = http.StatusInternalServerError
		writeFault(w, f)
	}
}

func writeFault(w http.ResponseWriter, f Fault) {
	ct := f.ContentType
	if ct == "" {
		ct = textPlain
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeRaw(w, f.Status, ct, f.Body)
}

// dropConnection closes the client's connection without a response.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	if r.Context().Value(http.ServerContextKey) != nil {
		// Not hijackable (e.g. HTTP/2 when Handler is mounted elsewhere): net/http
		// resets the stream for this sentinel and logs nothing.
		panic(http.ErrAbortHandler)
	}
	// Not served by net/http at all (e.g. an httptest.ResponseRecorder).
	w.WriteHeader(http.StatusBadGateway)
}

// discardWriter receives the real response of a request whose answer is replaced.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// decodeFault reads a Fault from the control route's JSON. Keys are matched ignoring
// case, "_" and "-" ("retry_after", "RetryAfter"); delay is a Go duration string
// ("1.5s") or nanoseconds.
func decodeFault(data []byte) (Fault, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Fault{}, err
	}
	var f Fault
	for k, v := range raw {
		norm := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
		var err error
		switch norm {
		case "method":
			err = json.Unmarshal(v, &f.Method)
		case "route":
			err = json.Unmarshal(v, &f.Route)
		case "count":
			err = json.Unmarshal(v, &f.Count)
		case "status":
			err = json.Unmarshal(v, &f.Status)
		case "retryafter":
			f.RetryAfter, err = stringOrNumber(v)
		case "body":
			err = json.Unmarshal(v, &f.Body)
		case "contenttype":
			err = json.Unmarshal(v, &f.ContentType)
		case "afterprocess":
			err = json.Unmarshal(v, &f.AfterProcess)
		case "delay":
			var str string
			if str, err = stringOrNumber(v); err == nil {
				if n, perr := strconv.ParseInt(str, 10, 64); perr == nil {
					f.Delay = time.Duration(n)
				} else {
					f.Delay, err = time.ParseDuration(str)
				}
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return Fault{}, fmt.Errorf("fault field %q: %w", k, err)
		}
	}
	if f.Delay < 0 || f.Count < 0 {
		return Fault{}, errors.New("fault: delay and count must not be negative")
	}
	return f, nil
}

func stringOrNumber(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return "", errors.New("want a string or a number")
	}
	return n.String(), nil
}
