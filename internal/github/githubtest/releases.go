package githubtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// standin holds the stand-in runner's scripts.
//
//go:embed standin/config.sh standin/run.sh standin/run-helper.sh.template standin/Runner.Listener standin/has-libicu.sh
var standin embed.FS

// release is one build of the stand-in runner application.
type release struct {
	version  string
	os       string // GitHub's name: linux, osx, win
	arch     string // x64, arm64, arm
	filename string
	data     []byte
	sha256   string
}

// releaseEpoch is the fixed modification time of every archive member, so
// that archives are the same from run to run.
var releaseEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// buildReleases builds the archives the downloads endpoint lists: Linux x64,
// arm64 and arm and macOS x64 and arm64 as .tar.gz, Windows x64 and arm64 as
// .zip, named as actions/runner names its releases. The content is the same
// stand-in scripts (only a Linux-like system with sh can run them); a small
// env file names the build.
func buildReleases(version string) ([]release, error) {
	builds := []struct{ os, arch string }{
		{"osx", "x64"}, {"osx", "arm64"},
		{"linux", "x64"}, {"linux", "arm64"}, {"linux", "arm"},
		{"win", "x64"}, {"win", "arm64"},
	}
	out := make([]release, 0, len(builds))
	for _, b := range builds {
		files, err := releaseFiles(version, b.os, b.arch)
		if err != nil {
			return nil, err
		}
		r := release{version: version, os: b.os, arch: b.arch}
		if b.os == "win" {
			r.filename = fmt.Sprintf("actions-runner-%s-%s-%s.zip", b.os, b.arch, version)
			r.data, err = zipArchive(files)
		} else {
			r.filename = fmt.Sprintf("actions-runner-%s-%s-%s.tar.gz", b.os, b.arch, version)
			r.data, err = tarArchive(files)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot build %s: %w", r.filename, err)
		}
		sum := sha256.Sum256(r.data)
		r.sha256 = hex.EncodeToString(sum[:])
		out = append(out, r)
	}
	return out, nil
}

type releaseFile struct {
	name string
	mode int64
	data []byte
}

// runnerArchLabel maps GitHub's download architecture to the runner's
// read-only label.
func runnerArchLabel(arch string) string {
	switch strings.ToLower(arch) {
	case "arm64":
		return "ARM64"
	case "arm":
		return "ARM"
	}
	return "X64"
}

func releaseFiles(version, goos, arch string) ([]releaseFile, error) {
	read := func(name string) ([]byte, error) { return fs.ReadFile(standin, "standin/"+name) }
	osName := map[string]string{"linux": "Linux", "osx": "macOS", "win": "Windows"}[goos]
	env := fmt.Sprintf("# The stand-in runner's build, read by its scripts.\nRUNNER_VERSION=%s\nRUNNER_OS=%s\nRUNNER_ARCH=%s\n",
		version, osName, runnerArchLabel(arch))
	var files []releaseFile
	for _, f := range []struct{ src, dst string }{
		{"config.sh", "config.sh"}, {"run.sh", "run.sh"}, {"run-helper.sh.template", "run-helper.sh.template"},
		{"Runner.Listener", "bin/Runner.Listener"}, {"has-libicu.sh", "bin/has-libicu.sh"},
	} {
		data, err := read(f.src)
		if err != nil {
			return nil, err
		}
		files = append(files, releaseFile{name: f.dst, mode: 0o755, data: data})
	}
	files = append(files, releaseFile{name: "bin/standin.env", mode: 0o644, data: []byte(env)})
	return files, nil
}

func tarArchive(files []releaseFile) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	dirs := []string{"./", "./bin/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: releaseEpoch, Format: tar.FormatUSTAR,
		}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: "./" + f.name, Mode: f.mode, Size: int64(len(f.data)),
			ModTime: releaseEpoch, Format: tar.FormatUSTAR,
		}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipArchive(files []releaseFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: releaseEpoch}
		h.SetMode(fs.FileMode(f.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// releaseURL is where the server serves a release, in the shape of GitHub's
// release downloads.
func (s *Server) releaseURL(r release) string {
	return fmt.Sprintf("%sactions/runner/releases/download/v%s/%s", s.baseURL, r.version, r.filename)
}

func (s *Server) currentReleases() []release {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.releases
}

// OfferRunnerUpdate makes version the runner application's newest release
// (the downloads endpoint lists it from now on) and tells every listener of
// another version, at its next poll, to update itself: as GitHub sends a
// runner an AgentRefreshMessage, which a runner without --disableupdate
// (every JIT runner) obeys by downloading the new version, exiting 3 (4
// when ephemeral) and being relaunched by run.sh from the new files
// (actions/runner src/Runner.Listener/SelfUpdater.cs, run-helper.sh.template).
func (s *Server) OfferRunnerUpdate(version string) error {
	rels, err := buildReleases(version)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases, s.updates = rels, true
	s.notifyLocked()
	return nil
}

// RunnerVersion is the version of the newest runner release offered.
func (s *Server) RunnerVersion() string {
	rels := s.currentReleases()
	if len(rels) == 0 {
		return ""
	}
	return rels[0].version
}

// Download describes one runner application build the server offers.
type Download struct {
	OS           string // linux, osx, win
	Architecture string // x64, arm64, arm
	Filename     string
	URL          string
	SHA256       string
}

// Downloads lists the runner application builds, as the downloads endpoint
// does.
func (s *Server) Downloads() []Download {
	releases := s.currentReleases()
	out := make([]Download, 0, len(releases))
	for _, r := range releases {
		out = append(out, Download{OS: r.os, Architecture: r.arch, Filename: r.filename, URL: s.releaseURL(r), SHA256: r.sha256})
	}
	return out
}

// RunnerArchive returns the stand-in runner archive for an OS and
// architecture in GitHub's names ("linux", "x64"), and its file name.
func (s *Server) RunnerArchive(os, arch string) (filename string, data []byte, err error) {
	for _, r := range s.currentReleases() {
		if r.os == os && r.arch == arch {
			return r.filename, bytes.Clone(r.data), nil
		}
	}
	return "", nil, fmt.Errorf("no runner build for %s/%s", os, arch)
}

func (s *Server) releaseRoutes(mux *http.ServeMux) {
	const template = "/actions/runner/releases/download/{tag}/{file}"
	mux.HandleFunc("GET "+template, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		endpoint := "GET " + template
		s.count(endpoint)
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
				http.Error(rw, f.Body, f.Status)
				return
			}
		}
		for _, rel := range s.currentReleases() {
			if "v"+rel.version == r.PathValue("tag") && rel.filename == r.PathValue("file") {
				rw.Header().Set("Content-Type", "application/octet-stream")
				http.ServeContent(rw, r, rel.filename, releaseEpoch, bytes.NewReader(rel.data))
				return
			}
		}
		http.NotFound(rw, r)
	})
}
