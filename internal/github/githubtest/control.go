package githubtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The control API, for processes that drive the simulator without Go (a
// demo, a charm's integration test). JSON in and out; no authentication, as
// the simulator listens on loopback only.
//
//	POST /_sim/jobs     {"labels":["self-hosted","linux"],"duration":"2s","path":"acme"}
//	                    -> 201 {"id":1}   (path optional: QueueJobFor)
//	GET  /_sim/jobs     -> [job...]
//	GET  /_sim/jobs/{id} -> job | 404
//	GET  /_sim/runners  -> [runner...]
//	GET  /_sim/counts   -> {"GET /orgs/{org}/actions/runners": 3, ...}
//	GET  /_sim/stats    -> {"GET /orgs/{org}/actions/runners":
//	                        {"Requests":3,"NotModified":2,"RatePoints":1}, ...}
//	POST /_sim/tokens   {"token":"T","scopes":["admin:org"]} -> 204
//	POST /_sim/apps     {"name":"N"} -> 201 {"id":1,"client_id":"Iv23li...",
//	                    "slug":"n","private_key":"-----BEGIN RSA PRIVATE KEY-----..."}
//	POST /_sim/installations {"app_id":1,"account":"acme",
//	                    "repositories":["acme/x"],"permissions":{"administration":"write"},
//	                    "users":0,"rate_limit":0} -> 201 {"id":40000001,"rate_limit":5000}
//
// Jobs and runners are the Job and Runner types as JSON, durations in
// nanoseconds.

func (s *Server) controlRoutes(mux *http.ServeMux) {
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			s.count(pattern)
			rw := &responseRecorder{ResponseWriter: w}
			defer s.finish(r, pattern, false, nil, rw, false, 0, start)
			h(rw, r)
		})
	}
	handle("POST /_sim/jobs", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Labels   []string `json:"labels"`
			Duration string   `json:"duration"`
			Path     string   `json:"path"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		var d time.Duration
		if req.Duration != "" {
			var err error
			if d, err = time.ParseDuration(req.Duration); err != nil || d < 0 {
				http.Error(w, "invalid duration", http.StatusBadRequest)
				return
			}
		}
		writeControlJSON(w, http.StatusCreated, map[string]JobID{"id": s.QueueJobFor(req.Path, req.Labels, d)})
	})
	handle("GET /_sim/jobs", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Jobs())
	})
	handle("GET /_sim/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		j, ok := s.Job(JobID(id))
		if err != nil || !ok {
			http.NotFound(w, r)
			return
		}
		writeControlJSON(w, http.StatusOK, j)
	})
	handle("GET /_sim/runners", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Runners(""))
	})
	handle("GET /_sim/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Counts())
	})
	handle("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Stats())
	})
	handle("POST /_sim/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token  string   `json:"token"`
			Scopes []string `json:"scopes"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil || req.Token == "" {
			http.Error(w, "want {\"token\":..., \"scopes\":[...]}", http.StatusBadRequest)
			return
		}
		s.AddToken(req.Token, req.Scopes...)
		w.WriteHeader(http.StatusNoContent)
	})
	handle("POST /_sim/apps", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name        string            `json:"name"`
			Permissions map[string]string `json:"permissions"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		a, err := s.AddApp(AppSeed{Name: req.Name, Permissions: req.Permissions})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeControlJSON(w, http.StatusCreated, map[string]any{
			"id": a.ID, "client_id": a.ClientID, "slug": a.Slug, "private_key": string(a.PrivateKeyPEM),
		})
	})
	handle("POST /_sim/installations", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AppID        int64             `json:"app_id"`
			Account      string            `json:"account"`
			Repositories []string          `json:"repositories"`
			Permissions  map[string]string `json:"permissions"`
			Users        int               `json:"users"`
			RateLimit    int               `json:"rate_limit"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		inst, err := s.AddInstallation(req.AppID, InstallationSeed{
			Account: req.Account, Repositories: req.Repositories, Permissions: req.Permissions,
			Users: req.Users, RateLimit: req.RateLimit,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeControlJSON(w, http.StatusCreated, map[string]any{"id": inst.ID, "rate_limit": inst.RateLimit})
	})
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client may have gone
}
