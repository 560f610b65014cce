package proxytest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/proxytest"
)

func TestParseRequests(t *testing.T) {
	t.Parallel()
	log := `NOTICE    Dec 01 20:50:50.846 [14988]: Initializing tinyproxy ...
CONNECT   Dec 01 20:50:51.875 [14988]: Connect (file descriptor 5): 127.0.0.1
CONNECT   Dec 01 20:50:51.876 [14988]: Request (file descriptor 5): GET http://deb.debian.org/debian/dists/bookworm/InRelease HTTP/1.1
CONNECT   Dec 01 20:50:51.877 [14988]: Established connection to host "deb.debian.org" using file descriptor 6.
CONNECT   Dec 01 20:50:52.000 [14988]: Request (file descriptor 5): CONNECT deb.debian.org:443 HTTP/1.1
CONNECT   Dec 01 20:50:52.100 [14988]: Request (file descriptor 7): 
`
	require.Equal(t, []proxytest.Request{
		{Method: "GET", URL: "http://deb.debian.org/debian/dists/bookworm/InRelease"},
		{Method: "CONNECT", URL: "deb.debian.org:443"},
	}, proxytest.ParseRequests([]byte(log)))
	require.Empty(t, proxytest.ParseRequests(nil))
}

func TestProxyForwardsAndLogs(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)

	p := proxytest.New(t)
	require.True(t, strings.HasPrefix(p.URL, "http://127.0.0.1:"), p.URL)
	require.Equal(t, "http://"+p.Addr, p.URL)
	require.FileExists(t, p.PidPath())

	proxyURL, err := url.Parse(p.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, path := range []string{"/one", "/two?x=1"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "hello "+strings.Split(path, "?")[0], string(body))
	}

	// The log is written as requests come: read it while the proxy runs.
	reqs, err := p.Requests()
	require.NoError(t, err)
	require.Equal(t, []proxytest.Request{
		{Method: "GET", URL: origin.URL + "/one"},
		{Method: "GET", URL: origin.URL + "/two?x=1"},
	}, reqs)

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "closing twice")
	_, err = net.DialTimeout("tcp", p.Addr, time.Second)
	require.Error(t, err, "the proxy still listens after Close")
}

func TestTwoProxiesApart(t *testing.T) {
	t.Parallel()
	a, b := proxytest.New(t), proxytest.New(t)
	require.NotEqual(t, a.Port, b.Port)
	require.NotEqual(t, a.LogPath(), b.LogPath())
}

// An instance of the Debian image has no network: apt reaches Debian's
// mirror only through the proxy, at 127.0.0.1:PORT inside as on the host.
func TestAptUpdateThroughProxy(t *testing.T) {
	t.Parallel()
	c := lxdtest.Client(t)
	image := lxdtest.DebianImage(t, c)
	p := proxytest.New(t)
	profile := lxdtest.ProxyProfile(t, c, p.Port)

	name := lxdtest.UniqueName("apt-proxy")
	lxdtest.RemoveInstanceLater(t, c, name)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	require.NoError(t, c.LaunchInstance(ctx, lxd.InstancesPost{
		Name:   name,
		Source: lxd.LocalImage(image),
		InstancePut: lxd.InstancePut{
			Config:   map[string]string{"limits.memory": "512MiB", "limits.cpu": "1"},
			Profiles: []string{"default", profile},
		},
	}))
	lxdtest.WaitBooted(t, ctx, c, name)

	exec := func(cmd ...string) *lxd.ExecResult {
		t.Helper()
		res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: cmd})
		require.NoError(t, err)
		return res
	}
	// --error-on=any: without it apt-get update exits 0 when every fetch
	// failed.
	update := []string{"apt-get", "update", "--error-on=any", "-o", "Acquire::Retries=0"}

	res := exec(update...)
	require.NotEqual(t, 0, res.ExitCode, "apt-get update without a proxy succeeded: %s", res.Stdout)
	reqs, err := p.Requests()
	require.NoError(t, err)
	require.Empty(t, reqs, "a request reached the proxy unasked")

	require.NoError(t, c.CreateInstanceFile(ctx, name, "/etc/apt/apt.conf.d/90proxy", lxd.InstanceFileArgs{
		Content: strings.NewReader(`Acquire::http::Proxy "` + p.URL + `/";` + "\n"),
	}))
	res = exec(update...)
	require.Equal(t, 0, res.ExitCode, "apt-get update through the proxy: stdout %s stderr %s", res.Stdout, res.Stderr)
	res = exec("apt-cache", "policy", "libicu72")
	require.Equal(t, 0, res.ExitCode)
	require.Contains(t, string(res.Stdout), "Candidate: 72", "the package lists did not arrive")

	// The proxy saw apt's requests for the mirror the image names.
	sources := exec("cat", "/etc/apt/sources.list")
	require.Equal(t, 0, sources.ExitCode)
	fields := strings.Fields(string(sources.Stdout)) // deb MIRROR bookworm main
	require.GreaterOrEqual(t, len(fields), 3, "sources.list: %s", sources.Stdout)
	mirror := strings.TrimSuffix(fields[1], "/")
	reqs, err = p.Requests()
	require.NoError(t, err)
	var urls []string
	for _, r := range reqs {
		urls = append(urls, r.Method+" "+r.URL)
	}
	require.Contains(t, urls, "GET "+mirror+"/dists/bookworm/InRelease")
	t.Logf("the proxy saw %d requests: %s", len(urls), strings.Join(urls, ", "))
}
