package github

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gregjones/httpcache"
	"github.com/gregjones/httpcache/diskcache"
	"github.com/peterbourgon/diskv"
)

// The listing cache. GitHub answers every GET with an ETag and counts a
// conditional request answered 304 Not Modified nothing against the primary
// rate limit ("Best practices for using the REST API": "Use conditional
// requests if appropriate"); go-github's documentation points to
// github.com/gregjones/httpcache for this. The cache keeps, on disk so that
// separate processes share it, the answers of the runner and runner group
// listings only: no other answer is stored, so neither a JIT
// configuration nor a registration token nor a download token can reach
// the disk. It sits above the request pipeline that adds the credential, so
// it never sees, and never stores, the Authorization header; it is kept in
// a folder of its own per credential, so a changed token never revalidates
// another's answers.
//
// GitHub marks these answers `Cache-Control: private, max-age=60`, which
// would let a cache serve them for a minute without asking; a reconcile
// must see runners as they are, so every listing is sent with
// `Cache-Control: max-age=0` and always revalidated.

// cacheSubdir and rateFile are the cache folder's contents per credential.
const (
	cacheSubdir = "http"
	rateFile    = "rate-limit.json"
)

// digest names a credential by a hash of its parts.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// credentialDir makes (mode 0700) and returns the folder of one credential
// below root.
func credentialDir(root, credential string) (string, error) {
	if credential == "" {
		credential = "source"
	}
	dir := filepath.Join(root, credential)
	for _, d := range []string{root, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("cannot create the GitHub cache folder: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return "", fmt.Errorf("cannot restrict the GitHub cache folder: %w", err)
		}
	}
	return dir, nil
}

// listingCache sends runner and runner group listings through an HTTP
// cache and everything else straight on.
type listingCache struct {
	next     http.RoundTripper
	cached   *httpcache.Transport
	basePath string
}

func newListingCache(next http.RoundTripper, dir, basePath string) *listingCache {
	store := diskv.New(diskv.Options{
		BasePath: filepath.Join(dir, cacheSubdir),
		// Written to a temporary file and renamed, so that a process
		// never reads another's half-written answer.
		TempDir:   filepath.Join(dir, cacheSubdir+".tmp"),
		FilePerm:  0o600,
		PathPerm:  0o700,
		Transform: func(string) []string { return nil },
	})
	return &listingCache{
		next:     next,
		cached:   &httpcache.Transport{Transport: next, Cache: diskcache.NewWithDiskv(store)},
		basePath: basePath,
	}
}

// cachedListing reports whether an endpoint's answers are kept.
func cachedListing(endpoint string) bool {
	switch endpoint {
	case "GET /orgs/{org}/actions/runners", "GET /repos/{owner}/{repo}/actions/runners",
		"GET /enterprises/{enterprise}/actions/runners",
		"GET /orgs/{org}/actions/runner-groups", "GET /enterprises/{enterprise}/actions/runner-groups":
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper.
func (c *listingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := endpointOf(req.Method, strings.TrimPrefix(req.URL.Path, c.basePath))
	if !cachedListing(endpoint) || req.Header.Get("Authorization") != "" {
		return c.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Cache-Control", "max-age=0")
	resp, err := c.cached.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Body = drainOnClose{resp.Body}
	return resp, nil
}

// drainOnClose reads a body to its end before closing it: the cache stores
// an answer when its body reaches EOF, and a JSON decoder may stop just
// short of it.
type drainOnClose struct{ io.ReadCloser }

func (d drainOnClose) Close() error {
	_, _ = io.Copy(io.Discard, io.LimitReader(d.ReadCloser, maxCachedBody))
	return d.ReadCloser.Close()
}

// maxCachedBody bounds what is read of a listing's answer after its
// reader is done with it.
const maxCachedBody = 16 << 20
