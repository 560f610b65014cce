package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	gh "github.com/google/go-github/v62/github"
)

// Download is one build of the runner application, as the downloads
// endpoint lists it.
type Download struct {
	// OS is GitHub's name: "linux", "osx" or "win".
	OS string
	// Architecture is GitHub's name: "x64", "arm64" or "arm".
	Architecture string
	// URL is where to fetch the archive.
	URL string
	// Filename is like "actions-runner-linux-x64-2.319.1.tar.gz".
	Filename string
	// SHA256 is the archive's hex SHA-256 checksum; verify it. It may be
	// empty if GitHub did not give one.
	SHA256 string
	// TempDownloadToken is a short-lived bearer token some downloads need.
	// It is a secret: String, Format and LogValue leave it out.
	TempDownloadToken string
}

// String implements fmt.Stringer without the download token.
func (d Download) String() string {
	tok := ""
	if d.TempDownloadToken != "" {
		tok = " TempDownloadToken:" + redacted
	}
	return fmt.Sprintf("Download{OS:%s Architecture:%s Filename:%s URL:%s SHA256:%s%s}",
		d.OS, d.Architecture, d.Filename, d.URL, d.SHA256, tok)
}

// GoString implements fmt.GoStringer without the download token.
func (d Download) GoString() string { return "github." + d.String() }

// Format implements fmt.Formatter so that no verb prints the token.
func (d Download) Format(f fmt.State, verb rune) { formatRedacted(f, verb, d.String(), d.GoString()) }

// LogValue implements slog.LogValuer without the download token.
func (d Download) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("os", d.OS), slog.String("architecture", d.Architecture),
		slog.String("filename", d.Filename), slog.String("url", d.URL),
		slog.String("sha256", d.SHA256),
	)
}

// RunnerDownloads lists the runner application builds for the scope.
func (c *Client) RunnerDownloads(ctx context.Context) ([]Download, error) {
	endpoint := c.scope.endpoint(http.MethodGet, "/actions/runners/downloads")
	list, _, err := call(ctx, c, endpoint, func(ctx context.Context) ([]*gh.RunnerApplicationDownload, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			return c.gh.Enterprise.ListRunnerApplicationDownloads(ctx, c.scope.enterprise)
		}
		if c.scope.IsOrg() {
			return c.gh.Actions.ListOrganizationRunnerApplicationDownloads(ctx, c.scope.owner)
		}
		return c.gh.Actions.ListRunnerApplicationDownloads(ctx, c.scope.owner, c.scope.repo)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list runner downloads for %s: %w", c.scope, err)
	}
	out := make([]Download, 0, len(list))
	for _, d := range list {
		out = append(out, Download{
			OS:                d.GetOS(),
			Architecture:      d.GetArchitecture(),
			URL:               d.GetDownloadURL(),
			Filename:          d.GetFilename(),
			SHA256:            d.GetSHA256Checksum(),
			TempDownloadToken: d.GetTempDownloadToken(),
		})
	}
	return out, nil
}

// githubOS maps Go's GOOS to GitHub's OS names.
var githubOS = map[string]string{"linux": "linux", "darwin": "osx", "windows": "win"}

// githubArch maps Go's GOARCH to GitHub's architecture names.
var githubArch = map[string]string{"amd64": "x64", "arm64": "arm64", "arm": "arm"}

// PickDownload returns the build for a machine, given Go's names for its OS
// ("linux", "darwin", "windows"; GitHub's own "osx" and "win" work too) and
// architecture ("amd64" -> x64, "arm64" -> arm64, "arm" -> arm). An
// unsupported pair, or one absent from downloads, is an error matching
// ErrNoDownload.
func PickDownload(downloads []Download, goos, goarch string) (Download, error) {
	os, ok := githubOS[goos]
	if !ok && (goos == "osx" || goos == "win") {
		os, ok = goos, true
	}
	if !ok {
		return Download{}, fmt.Errorf("%w: GitHub builds no runner for OS %q", ErrNoDownload, goos)
	}
	arch, ok := githubArch[goarch]
	if !ok {
		return Download{}, fmt.Errorf("%w: GitHub builds no runner for architecture %q", ErrNoDownload, goarch)
	}
	for _, d := range downloads {
		if d.OS == os && d.Architecture == arch {
			return d, nil
		}
	}
	return Download{}, fmt.Errorf("%w: none for %s/%s among %d downloads", ErrNoDownload, os, arch, len(downloads))
}
