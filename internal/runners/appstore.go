package runners

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"charm.example/github-runner/internal/github"
)

// ErrNoRunnerBinary is returned when no verified runner application is in
// place yet.
var ErrNoRunnerBinary = errors.New("no runner application downloaded yet")

// ErrChecksumMismatch is returned when a download does not match the
// checksum GitHub gave for it.
var ErrChecksumMismatch = errors.New("runner application checksum mismatch")

// tarballRe matches the runner application's release file names.
var tarballRe = regexp.MustCompile(`^actions-runner-([a-z]+)-([a-z0-9]+)-([0-9][0-9A-Za-z.\-]*)\.tar\.gz$`)

// runnerBinary is a verified runner tarball in the state folder.
type runnerBinary struct {
	Path     string
	Filename string
	Version  string
	SHA256   string
}

// AppStore keeps the verified runner application tarball of a unit in a
// folder of the unit's state folder: it downloads and verifies new
// releases and says which one is in place.
type AppStore struct {
	dir       string
	downloads downloadLister
	http      *http.Client
	log       *slog.Logger
}

// downloadLister is what the store needs of GitHub (see GitHub).
type downloadLister interface {
	RunnerDownloads(ctx context.Context) ([]github.Download, error)
}

// Latest returns the newest runner application download for osName
// (linux, osx or win) and this machine's architecture.
func (s *AppStore) Latest(ctx context.Context, osName string) (github.Download, error) {
	downloads, err := s.downloads.RunnerDownloads(ctx)
	if err != nil {
		return github.Download{}, fmt.Errorf("cannot list runner downloads: %w", err)
	}
	return github.PickDownload(downloads, osName, runtime.GOARCH)
}

// Has says whether a verified runner application is in place.
func (s *AppStore) Has() bool {
	_, err := s.current()
	return err == nil
}

// Version is the version of the runner application in place.
func (s *AppStore) Version() (string, error) {
	b, err := s.current()
	return b.Version, err
}

// current finds the verified tarball in place: one whose recorded
// checksum file sits beside it. Should a crash have left two (between the
// new one's rename and the old one's removal), the newest written wins.
func (s *AppStore) current() (runnerBinary, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return runnerBinary{}, fmt.Errorf("cannot read runner binary folder: %w", err)
	}
	var best runnerBinary
	var bestTime time.Time
	for _, e := range entries {
		mm := tarballRe.FindStringSubmatch(e.Name())
		if mm == nil {
			continue
		}
		sumPath := filepath.Join(s.dir, e.Name()+".sha256")
		sum, err := os.ReadFile(sumPath)
		if err != nil {
			continue
		}
		fi, err := os.Stat(sumPath)
		if err != nil || (best.Path != "" && !fi.ModTime().After(bestTime)) {
			continue
		}
		best = runnerBinary{
			Path:     filepath.Join(s.dir, e.Name()),
			Filename: e.Name(),
			Version:  mm[3],
			SHA256:   strings.TrimSpace(string(sum)),
		}
		bestTime = fi.ModTime()
	}
	if best.Path == "" {
		return runnerBinary{}, ErrNoRunnerBinary
	}
	return best, nil
}

// Update puts the download dl in place unless it already is. The
// tarball is streamed to a temporary file, checked against the SHA-256
// checksum GitHub gave and for being a gzip tarball holding run.sh, and only
// then renamed into place; the older tarball is removed after. A failure
// leaves the old tarball in service. It says whether anything changed.
func (s *AppStore) Update(ctx context.Context, dl github.Download) (bool, error) {
	if !tarballRe.MatchString(dl.Filename) || path.Base(dl.Filename) != dl.Filename {
		return false, fmt.Errorf("unexpected runner application file name %q", dl.Filename)
	}
	want := strings.ToLower(dl.SHA256)
	if want == "" {
		return false, fmt.Errorf("no checksum given for %s: refusing an unverifiable download", dl.Filename)
	}
	old, oldErr := s.current()
	if oldErr == nil && old.Filename == dl.Filename && old.SHA256 == want {
		return false, nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return false, fmt.Errorf("cannot create runner binary folder: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".download-*")
	if err != nil {
		return false, fmt.Errorf("cannot download runner application: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dl.URL, nil)
	if err != nil {
		return false, fmt.Errorf("cannot download runner application: %w", err)
	}
	if dl.TempDownloadToken != "" {
		req.Header.Set("Authorization", "Bearer "+dl.TempDownloadToken)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot download runner application: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("cannot download runner application: %s", resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		return false, fmt.Errorf("cannot download runner application: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return false, fmt.Errorf("%w: %s has %s, GitHub says %s", ErrChecksumMismatch, dl.Filename, got, want)
	}
	if err := checkRunnerTarball(tmp); err != nil {
		return false, fmt.Errorf("invalid runner application %s: %w", dl.Filename, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		return false, err
	}
	final := filepath.Join(s.dir, dl.Filename)
	if err := os.WriteFile(final+".sha256.tmp", []byte(want+"\n"), 0o644); err != nil {
		return false, err
	}
	// The tarball goes in place first, then its checksum record: a crash in
	// between leaves a tarball without a record, which is not used.
	if err := os.Rename(tmp.Name(), final); err != nil {
		return false, err
	}
	if err := os.Rename(final+".sha256.tmp", final+".sha256"); err != nil {
		return false, err
	}
	if oldErr == nil && old.Filename != dl.Filename {
		os.Remove(old.Path + ".sha256")
		os.Remove(old.Path)
	}
	s.log.Info("Runner application updated", "file", dl.Filename)
	return true, nil
}

// checkRunnerTarball checks that f is a gzip tarball holding run.sh.
func checkRunnerTarball(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not gzip: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return errors.New("no run.sh in the tarball")
		}
		if err != nil {
			return fmt.Errorf("not a tarball: %w", err)
		}
		if path.Clean(h.Name) == "run.sh" && h.Typeflag == tar.TypeReg {
			return nil
		}
	}
}
