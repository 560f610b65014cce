package runners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// This file keeps the logs of dead runners: before an unhealthy instance
// is deleted, the start script's log and the runner application's _diag
// folder are copied to the unit, so that the failure can be read after the
// instance is gone.

// DeadRunnerLogsDir is the folder, under the state folder, that holds one
// folder of logs per dead runner (mode 0700, files 0600).
const DeadRunnerLogsDir = "dead-runners"

// Bounds of the kept logs.
const (
	// DeadLogsMaxAge is how long a dead runner's logs are kept.
	DeadLogsMaxAge = 7 * 24 * time.Hour
	// DeadLogsMaxBytes bounds all dead runners' logs together; the oldest
	// go first.
	DeadLogsMaxBytes = 50 << 20
	// deadLogsRunnerBytes bounds what one runner's logs may take.
	deadLogsRunnerBytes = 10 << 20
	// deadLogsMaxFiles bounds the files copied from one _diag folder.
	deadLogsMaxFiles = 64
	// deadLogsTimeout bounds the copy of one runner's logs: a removal never
	// waits longer for it.
	deadLogsTimeout = 20 * time.Second
)

// diagDir is the runner application's diagnostics folder.
const diagDir = runnerDir + "/_diag"

// keepsLogs says whether a runner removed for this kind is unhealthy, so
// that its logs are worth keeping: not one GitHub de-registered after its
// job, nor one removed on purpose.
func (k RemovalKind) keepsLogs() bool {
	switch k {
	case RemovalInstanceDown, RemovalProcessGone, RemovalBootstrapTimeout, RemovalCannotStart:
		return true
	}
	return false
}

// saveDeadLogs copies a dead runner's logs into the state folder, within
// deadLogsTimeout and deadLogsRunnerBytes, then prunes old ones. It never
// fails the removal: what cannot be copied (an instance already gone, a
// stopped virtual machine) is logged and skipped.
func (m *Manager) saveDeadLogs(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadLogsTimeout)
	defer cancel()
	root := filepath.Join(m.cfg.StateDir, DeadRunnerLogsDir)
	dst := filepath.Join(root, name)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		m.log.Warn("cannot keep the dead runner's logs", "runner", name, "error", err)
		return
	}
	_ = os.Chmod(root, 0o700)
	budget := int64(deadLogsRunnerBytes)
	var copied int
	n, err := m.copyFile(ctx, name, runnerLogFile, filepath.Join(dst, path.Base(runnerLogFile)), budget)
	budget -= n
	if err == nil {
		copied++
	} else if !errors.Is(err, ErrNotFound) {
		m.log.Debug("cannot copy the runner's log", "runner", name, "error", err)
	}
	files, err := m.copyDiag(ctx, name, diagDir, filepath.Join(dst, "_diag"), &budget, 0)
	copied += files
	if err != nil && !errors.Is(err, ErrNotFound) {
		m.log.Debug("cannot copy the runner's _diag folder", "runner", name, "error", err)
	}
	if copied == 0 {
		os.Remove(dst)
	} else {
		m.log.Info("Kept the dead runner's logs", "runner", name, "folder", dst, "files", copied)
	}
	if err := PruneDeadRunnerLogs(m.cfg.StateDir, m.cfg.Now(), DeadLogsMaxAge, DeadLogsMaxBytes); err != nil {
		m.log.Warn("cannot prune the dead runners' logs", "error", err)
	}
}

// copyFile copies one file of an instance to dst (0600), at most limit
// bytes of it (its end, where a failure shows), and returns what it wrote.
func (m *Manager) copyFile(ctx context.Context, name, src, dst string, limit int64) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	content, entries, err := m.instances.ReadFile(ctx, name, src)
	if err != nil {
		return 0, err
	}
	defer content.Close()
	if entries != nil {
		return 0, fmt.Errorf("cannot copy %s: %w", src, errIsDir)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	tail := &tailBuffer{limit: int(limit)}
	_, cerr := io.Copy(tail, content)
	n, werr := f.Write(tail.bytes())
	if err := f.Close(); werr == nil {
		werr = err
	}
	return int64(n), errors.Join(cerr, werr)
}

// copyDiag copies a _diag folder (and its subfolders, two deep) within
// budget, and returns the files copied.
func (m *Manager) copyDiag(ctx context.Context, name, src, dst string, budget *int64, depth int) (int, error) {
	content, entries, err := m.instances.ReadFile(ctx, name, src)
	if err != nil {
		return 0, err
	}
	content.Close()
	if entries == nil {
		return 0, fmt.Errorf("%s is not a directory", src)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return 0, err
	}
	sort.Strings(entries)
	copied := 0
	var errs []error
	for _, e := range entries {
		if copied >= deadLogsMaxFiles || *budget <= 0 || ctx.Err() != nil {
			break
		}
		if e == "" || e == "." || e == ".." || strings.ContainsRune(e, '/') {
			continue
		}
		from, to := path.Join(src, e), filepath.Join(dst, e)
		n, err := m.copyFile(ctx, name, from, to, *budget)
		*budget -= n
		switch {
		case err == nil:
			copied++
		case depth < 1 && errors.Is(err, errIsDir):
			os.Remove(to)
			sub, err := m.copyDiag(ctx, name, from, to, budget, depth+1)
			copied += sub
			if err != nil {
				errs = append(errs, err)
			}
		default:
			os.Remove(to)
			errs = append(errs, err)
		}
	}
	return copied, errors.Join(errs...)
}

// errIsDir: a directory where a file was to be copied.
var errIsDir = errors.New("a directory")

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	limit int
	buf   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) bytes() []byte { return t.buf }

// DeadRunnerLog is one dead runner's kept logs.
type DeadRunnerLog struct {
	// Runner is the runner's name, Dir the folder its logs are in.
	Runner, Dir string
	// Saved is when they were copied.
	Saved time.Time
	// Bytes is their size.
	Bytes int64
}

// DeadRunnerLogs lists the dead runners' logs kept in stateDir, newest
// first. No folder is no logs.
func DeadRunnerLogs(stateDir string) ([]DeadRunnerLog, error) {
	root := filepath.Join(stateDir, DeadRunnerLogsDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list the dead runners' logs: %w", err)
	}
	var out []DeadRunnerLog
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		info, err := e.Info()
		if err != nil {
			continue
		}
		var size int64
		_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					size += fi.Size()
				}
			}
			return nil
		})
		out = append(out, DeadRunnerLog{Runner: e.Name(), Dir: dir, Saved: info.ModTime(), Bytes: size})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Saved.Equal(out[j].Saved) {
			return out[i].Saved.After(out[j].Saved)
		}
		return out[i].Runner < out[j].Runner
	})
	return out, nil
}

// PruneDeadRunnerLogs removes the dead runners' logs saved before
// now-maxAge, then the oldest until all take at most maxBytes.
func PruneDeadRunnerLogs(stateDir string, now time.Time, maxAge time.Duration, maxBytes int64) error {
	logs, err := DeadRunnerLogs(stateDir)
	if err != nil {
		return err
	}
	var total int64
	var errs []error
	full := false
	for _, l := range logs { // newest first
		full = full || total+l.Bytes > maxBytes
		if full || now.Sub(l.Saved) > maxAge {
			if err := os.RemoveAll(l.Dir); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		total += l.Bytes
	}
	return errors.Join(errs...)
}
