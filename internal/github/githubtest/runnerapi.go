package githubtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The runner service: what the stand-in runner (and RunListener) speak to,
// in place of GitHub's private runner protocol. Every call is a POST to
// /_runner/<call> whose body is `key=value` lines; every answer is 200 with
// `key=value` lines (text/plain), led by `status=`. Other statuses mean the
// request itself was malformed, or an injected fault.
//
//	register    token url name labels runnergroup work ephemeral replace
//	            no_default_labels os arch version
//	            -> status=ok runner_id runner_name secret runner_url pool_id pool_name
//	            | status=error message
//	unregister  token runner_id -> status=ok | status=error message
//	sessions    runner_id secret os arch version
//	            -> status=ok session_id poll_timeout (seconds)
//	            | status=gone (no such runner) | status=denied | status=conflict
//	poll        session_id -> status=job job_id | status=none (after
//	            PollTimeout) | status=expired (reconnect) | status=gone
//	            | status=update version url (OfferRunnerUpdate)
//	            | status=exit code (ExitListener; the session ends)
//	progress    session_id job_id -> status=running sleep (seconds) |
//	            status=done | status=cancelled | status=expired
//	complete    session_id job_id result (succeeded|failed) [message]
//	            -> status=ok next=exit|continue | status=expired
//	close       session_id -> status=ok
//
// A runner is online while its session is polled: a poll in progress, or a
// call within OfflineAfter. A session left silent longer ends; a job it was
// running fails.

type kv map[string]string

func parseKV(body []byte) kv {
	out := kv{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), "=")
		if ok {
			out[strings.TrimSpace(k)] = v
		}
	}
	return out
}

// line is one key=value line of an answer; newlines in values are dropped.
func line(k string, v any) string {
	s := strings.NewReplacer("\n", " ", "\r", " ").Replace(fmt.Sprint(v))
	return k + "=" + s + "\n"
}

func (s *Server) runnerRoutes(mux *http.ServeMux) {
	calls := map[string]func(*http.Request, kv) string{
		"register":   s.runnerRegister,
		"unregister": s.runnerUnregister,
		"sessions":   s.runnerConnect,
		"poll":       s.runnerPoll,
		"progress":   s.runnerProgress,
		"complete":   s.runnerComplete,
		"close":      s.runnerClose,
	}
	for name, h := range calls {
		template := "/_runner/" + name
		endpoint := "POST " + template
		mux.HandleFunc(endpoint, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			s.count(endpoint)
			body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
			rw := &responseRecorder{ResponseWriter: w}
			out, faulted := rw, false
			defer func() { s.finish(r, endpoint, false, nil, out, faulted, 0, start) }()
			if f := s.pickFault(r.Method, template, r.URL.Path); f != nil {
				faulted = true
				if interrupt(w, r, f) {
					out = nil
					return
				}
				if f.Status != 0 {
					http.Error(rw, http.StatusText(f.Status), f.Status)
					return
				}
			}
			answer := h(r, parseKV(body))
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Header().Set("Cache-Control", "no-store")
			io.WriteString(rw, answer)
		})
	}
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func protocolError(msg string) string { return line("status", "error") + line("message", msg) }

func (s *Server) runnerRegister(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.runnerTok[in["token"]]
	if !ok || tok.kind != "registration" || !now.Before(tok.expires) {
		return protocolError("The registration token is invalid or has expired.")
	}
	sc := tok.scope
	u, err := url.Parse(in["url"])
	if err != nil || !strings.EqualFold(strings.Trim(u.Path, "/"), sc.path) {
		return protocolError(fmt.Sprintf("The URL %q does not match the registration token's scope %q.", in["url"], sc.path))
	}
	name := strings.TrimSpace(in["name"])
	if name == "" {
		return protocolError("A runner name is required.")
	}
	groupID := int64(defaultGroupID)
	poolName := DefaultGroupName
	if g := strings.TrimSpace(in["runnergroup"]); g != "" && sc.hasGroups() {
		grp := sc.groupByName(g)
		if grp == nil {
			return protocolError(fmt.Sprintf("Could not find any self-hosted runner group named %q.", g))
		}
		groupID, poolName = grp.id, grp.name
	}
	if old := s.runnerByNameLocked(sc, name); old != nil {
		if in["replace"] != "1" {
			return protocolError(fmt.Sprintf("A runner exists with the same name %q.", name))
		}
		if old.job != 0 {
			s.finishJobLocked(old, ConclusionFailure, now)
		}
		s.deleteRunnerLocked(old)
	}
	var labels []string
	for _, l := range strings.Split(in["labels"], ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	r := s.newRunnerLocked(sc, name, groupID, labels)
	r.secret = randomHex(20)
	r.ephemeral = in["ephemeral"] == "1"
	r.noDefault = in["no_default_labels"] == "1"
	if a := in["arch"]; a != "" {
		r.arch = runnerArchLabel(a)
	}
	s.notifyLocked()
	return line("status", "ok") + line("runner_id", r.id) + line("runner_name", r.name) +
		line("secret", r.secret) + line("runner_url", s.runnerURL) +
		line("pool_id", groupID) + line("pool_name", poolName)
}

func (s *Server) runnerUnregister(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.runnerTok[in["token"]]
	if !ok || tok.kind != "remove" || !now.Before(tok.expires) {
		return protocolError("The remove token is invalid or has expired.")
	}
	id, _ := strconv.ParseInt(in["runner_id"], 10, 64)
	r, ok := s.runners[id]
	if !ok || r.scope != tok.scope {
		// Already gone: removal is done.
		return line("status", "ok")
	}
	if r.busy {
		return protocolError(fmt.Sprintf("Runner %q is still running a job.", r.name))
	}
	s.deleteRunnerLocked(r)
	return line("status", "ok")
}

func (s *Server) runnerConnect(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	id, _ := strconv.ParseInt(in["runner_id"], 10, 64)
	r, ok := s.runners[id]
	switch {
	case !ok:
		return line("status", "gone")
	case r.simulated || r.secret == "" || r.secret != in["secret"]:
		return line("status", "denied")
	case r.session != nil && r.online(now, s.opts.OfflineAfter):
		return line("status", "conflict")
	}
	r.session = &session{id: randomHex(16), lastSeen: now}
	if o := in["os"]; o != "" {
		r.os = o
	}
	if a := in["arch"]; a != "" {
		r.arch = runnerArchLabel(a)
	}
	r.version = in["version"]
	s.notifyLocked()
	return line("status", "ok") + line("session_id", r.session.id) +
		line("poll_timeout", int(s.opts.PollTimeout.Round(time.Second)/time.Second))
}

// sessionRunnerLocked finds the runner whose session has the given id.
func (s *Server) sessionRunnerLocked(id string) *runner {
	if id == "" {
		return nil
	}
	for _, r := range s.runners {
		if r.session != nil && r.session.id == id {
			return r
		}
	}
	return nil
}

func jobAnswer(j *job) string {
	return line("status", "job") + line("job_id", j.ID) + line("duration_ms", j.Duration.Milliseconds())
}

func (s *Server) runnerPoll(req *http.Request, in kv) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	r := s.sessionRunnerLocked(in["session_id"])
	if r == nil {
		return line("status", "expired")
	}
	sess := r.session
	sess.activePolls++
	sess.lastSeen = s.now()
	defer func() {
		sess.activePolls--
		sess.lastSeen = s.now()
	}()

	timer := time.NewTimer(s.opts.PollTimeout)
	defer timer.Stop()
	for {
		if s.runners[r.id] != r {
			return line("status", "gone")
		}
		if r.session != sess {
			return line("status", "expired")
		}
		if r.job != 0 {
			// Handed out before, but the listener asks again: give it again.
			return jobAnswer(s.jobs[r.job])
		}
		if code := r.exitCode; code != 0 {
			r.exitCode, r.session = 0, nil
			s.notifyLocked()
			return line("status", "exit") + line("code", code)
		}
		if s.updates && len(s.releases) > 0 && r.version != s.releases[0].version {
			if u := s.updateURLLocked(r); u != "" {
				return line("status", "update") + line("version", s.releases[0].version) + line("url", u)
			}
		}
		if j := s.takeJobLocked(r, s.now()); j != nil {
			s.notifyLocked()
			return jobAnswer(j)
		}
		if s.closed {
			return line("status", "none")
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			return line("status", "none")
		case <-req.Context().Done():
			s.mu.Lock()
			return line("status", "none")
		}
		s.sweepLocked(s.now())
	}
}

func (s *Server) runnerProgress(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.sessionRunnerLocked(in["session_id"])
	if r == nil {
		return line("status", "expired")
	}
	r.session.lastSeen = now
	id, _ := strconv.ParseInt(in["job_id"], 10, 64)
	if r.job == 0 || r.job != JobID(id) {
		return line("status", "cancelled")
	}
	j := s.jobs[r.job]
	left := j.StartedAt.Add(j.Duration).Sub(now)
	if left <= 0 {
		return line("status", "done")
	}
	step := min(left, time.Second)
	step = max(step, 50*time.Millisecond)
	return line("status", "running") + line("sleep", strconv.FormatFloat(step.Seconds(), 'f', 3, 64))
}

func (s *Server) runnerComplete(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.sessionRunnerLocked(in["session_id"])
	if r == nil {
		return line("status", "expired")
	}
	r.session.lastSeen = now
	id, _ := strconv.ParseInt(in["job_id"], 10, 64)
	if r.job == 0 || r.job != JobID(id) {
		return line("status", "ok") + line("next", "continue")
	}
	conclusion := ConclusionFailure
	if in["result"] == "succeeded" {
		conclusion = ConclusionSuccess
	} else if j := s.jobs[r.job]; j != nil {
		j.Failure = in["message"]
	}
	removed := s.finishJobLocked(r, conclusion, now)
	s.notifyLocked()
	next := "continue"
	if removed {
		next = "exit"
	}
	return line("status", "ok") + line("next", next)
}

// updateURLLocked is where runner r downloads the offered release for its
// OS and architecture, "" when there is none.
func (s *Server) updateURLLocked(r *runner) string {
	goos := map[string]string{"Linux": "linux", "macOS": "osx", "Windows": "win"}[r.os]
	arch := map[string]string{"X64": "x64", "ARM64": "arm64", "ARM": "arm"}[r.arch]
	for _, rel := range s.releases {
		if rel.os == goos && rel.arch == arch {
			return s.releaseURL(rel)
		}
	}
	return ""
}

// ExitListener makes the listener of runner id exit with code at its next
// poll (at once if it is polling), ending its session: the simulator's way
// to produce each of the runner's exit codes (2 retryable, 3 and 4 updating,
// 5 session conflict, 7 deprecated version, or any other).
func (s *Server) ExitListener(id int64, code int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok || r.simulated {
		return fmt.Errorf("no listener-backed runner %d", id)
	}
	r.exitCode = code
	s.notifyLocked()
	return nil
}

func (s *Server) runnerClose(_ *http.Request, in kv) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.sessionRunnerLocked(in["session_id"])
	if r == nil {
		return line("status", "ok")
	}
	r.session = nil
	if r.job != 0 {
		j := s.jobs[r.job]
		j.State, j.Conclusion, j.CompletedAt = JobCompleted, ConclusionFailure, now
		r.job, r.busy = 0, false
	}
	s.notifyLocked()
	return line("status", "ok")
}
