package sensutest

import (
	"encoding/json"
	"io"
	"net/http"
)

// serveControl answers the test-only control routes under /_sensutest/. They need no
// auth, are never counted and ignore Latency and faults, so that a script driving a
// standalone process (cmd/sensu-inmem) can inspect and steer it.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case controlPrefix + "stats":
		if r.Method != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		s.mu.RLock()
		n := len(s.keys)
		s.mu.RUnlock()
		s.cmu.Lock()
		logins := s.logins
		s.cmu.Unlock()
		writeJSONLine(w, http.StatusOK, appJSON, struct {
			Requests map[string]int `json:"requests"`
			APIKeys  int            `json:"api_keys"`
			Logins   int            `json:"logins"`
		}{s.Requests(), n, logins})
	case controlPrefix + "apikeys":
		if r.Method != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		writeJSONLine(w, http.StatusOK, appJSON, s.APIKeys())
	case controlPrefix + "faults":
		switch r.Method {
		case http.MethodPost:
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f, err := decodeFault(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.InjectFault(f)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			s.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w)
		}
	case controlPrefix + "reset-counters":
		if r.Method != http.MethodPost {
			methodNotAllowed(w)
			return
		}
		s.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	case controlPrefix + "authenticates":
		if r.Method != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		b, _ := json.Marshal(struct {
			Authenticates bool `json:"authenticates"`
		}{s.KeyAuthenticates(r.URL.Query().Get("key"))})
		writeRaw(w, http.StatusOK, appJSON, string(b)+"\n")
	default:
		routeNotFound(w)
	}
}
