package pool_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/juju/charm/v12"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// defaults are config.yaml's defaults as config-get --format=json gives
// them to the charm (numbers as json.Number).
func defaults(t *testing.T) map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "config.yaml"))
	require.NoError(t, err)
	defer f.Close()
	cfg, err := charm.ReadConfig(f)
	require.NoError(t, err)
	data, err := json.Marshal(cfg.DefaultSettings())
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func validConfig(t *testing.T) map[string]any {
	m := defaults(t)
	m["path"] = "acme"
	m["token"] = "ghp_0123456789abcdefABCDEF"
	return m
}

func TestDefaultsAreBlockedOnPathAndToken(t *testing.T) {
	err := pool.Decode(defaults(t)).Validate()
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, []string{"path", "token"}, cerr.Options())
	require.Equal(t, "path: missing: set an organisation or owner/repo; token: missing: set a GitHub token, or a secret: URI granted to the application", err.Error())
}

func TestValidConfig(t *testing.T) {
	cfg := pool.Decode(validConfig(t))
	require.NoError(t, cfg.Validate())
	require.Equal(t, "acme", cfg.Owner())
	require.Equal(t, "", cfg.Repo())
	require.False(t, cfg.IsRepository())
	res, err := cfg.Resources()
	require.NoError(t, err)
	require.Equal(t, runners.Resources{CPU: 2, Memory: 7 * runners.GiB, Disk: 10 * runners.GiB}, res)
	require.Equal(t, 10*time.Minute, cfg.ReconcileEvery())
	require.Equal(t, 10*time.Minute, cfg.BootstrapWait())
	require.Equal(t, 10, cfg.MaxParallelLaunches)
	require.Equal(t, []string{"docker.io", "npm", "python3-pip", "shellcheck", "jq", "wget", "unzip", "git", "build-essential"}, cfg.PackageList())
	require.Equal(t, "virtual-machine", cfg.InstanceType)
	require.Equal(t, "/etc/systemd/system", cfg.TimerDirectory)
	require.Equal(t, "/etc/cron.d", cfg.CronDirectory)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		// want is the whole Blocked message, "" for a valid config.
		want string
	}{
		{name: "repository path", set: map[string]any{"path": "acme/website"}},
		{name: "repository path without group", set: map[string]any{"path": "acme/web.site_2", "group": ""}},
		{name: "org path needs a group", set: map[string]any{"group": " "},
			want: `group: missing: set the organisation's runner group (default is "default")`},
		{name: "bad path", set: map[string]any{"path": "acme/web/site"},
			want: `path "acme/web/site": want an organisation (acme) or a repository (owner/repo)`},
		{name: "org with a space", set: map[string]any{"path": "ac me"},
			want: `path "ac me": want an organisation (acme) or a repository (owner/repo)`},
		{name: "repo ..", set: map[string]any{"path": "acme/.."},
			want: `path "acme/..": want an organisation (acme) or a repository (owner/repo)`},
		{name: "token missing", set: map[string]any{"token": ""},
			want: "token: missing: set a GitHub token, or a secret: URI granted to the application"},
		{name: "token with white space is never echoed", set: map[string]any{"token": "ghp_abc def"},
			want: "token: contains white space or control characters"},
		{name: "secret token", set: map[string]any{"token": "secret:0123456789abcdefghij"}},
		{name: "bad secret URI", set: map[string]any{"token": "secret:nope"},
			want: "token: not a valid secret URI (want secret:<id>)"},
		{name: "memory not a size", set: map[string]any{"vm-memory": "7XB"},
			want: `vm-memory "7XB": not a size (use e.g. 512MiB or 7GiB)`},
		{name: "memory without unit", set: map[string]any{"vm-memory": "7"},
			want: `vm-memory "7": not a size (use e.g. 512MiB or 7GiB)`},
		{name: "memory too small for a VM", set: map[string]any{"vm-memory": "512MiB"},
			want: `vm-memory "512MiB": memory 512MiB: at least 1GiB for a virtual-machine`},
		{name: "memory fine for a container", set: map[string]any{"vm-memory": "512MiB", "instance-type": "container"}},
		{name: "disk too small", set: map[string]any{"vm-disk": "10MiB"},
			want: `vm-disk "10MiB": disk 10MiB: at least 64MiB`},
		{name: "reconcile interval", set: map[string]any{"reconcile-interval": json.Number("1")},
			want: "reconcile-interval 1: at least 2 minutes"},
		{name: "instance type", set: map[string]any{"instance-type": "lxc"},
			want: `instance-type "lxc": want virtual-machine or container`},
		{name: "labels", set: map[string]any{"labels": "large,a b"},
			want: `labels "large,a b": invalid label "a b": use letters, digits, _ and -`},
		{name: "labels fine", set: map[string]any{"labels": " large, gpu ,"}},
		{name: "api url scheme", set: map[string]any{"github-api-url": "ftp://x"},
			want: `github-api-url "ftp://x": want an http(s) URL such as https://github.example.com/api/v3/, or empty for github.com`},
		{name: "api url GHES", set: map[string]any{"github-api-url": "https://ghe.example.com/api/v3/"}},
		{name: "mirror must be https", set: map[string]any{"dockerhub-mirror": "http://mirror:5000"},
			want: `dockerhub-mirror "http://mirror:5000": want an https URL, or empty for Docker Hub`},
		{name: "mirror https", set: map[string]any{"dockerhub-mirror": "https://mirror.example.com"}},
		{name: "base image noble", set: map[string]any{"base-image": "noble"}},
		{name: "base image alias", set: map[string]any{"base-image": "my-runner-base/22.04"}},
		{name: "base image junk", set: map[string]any{"base-image": "two words"},
			want: `base-image "two words": want jammy, noble, or the alias of an image in the local LXD image store`},
		{name: "image server needed for jammy", set: map[string]any{"image-server": ""},
			want: `image-server "": want the http(s) URL of a simplestreams server`},
		{name: "image server not needed for a local alias", set: map[string]any{"image-server": "", "base-image": "local-base"}},
		{name: "packages", set: map[string]any{"image-packages": "git,rm -rf"},
			want: `image-packages "git,rm -rf": "rm -rf" is not a Debian package name`},
		{name: "packages empty", set: map[string]any{"image-packages": ""}},
		{name: "packages with version", set: map[string]any{"image-packages": "git=1:2.34.1-1ubuntu1, libc6/jammy-updates"}},
		{name: "max parallel 0", set: map[string]any{"max-parallel-launches": 0},
			want: "max-parallel-launches 0: want 1 to 32"},
		{name: "max parallel 33", set: map[string]any{"max-parallel-launches": int64(33)},
			want: "max-parallel-launches 33: want 1 to 32"},
		{name: "bootstrap timeout", set: map[string]any{"bootstrap-timeout": 0},
			want: "bootstrap-timeout 0: at least 1 minute"},
		{name: "virtual machines 0 is fine", set: map[string]any{"virtual-machines": 0}},
		{name: "virtual machines negative", set: map[string]any{"virtual-machines": -1},
			want: "virtual-machines -1: at least 0"},
		{name: "vm-cpu", set: map[string]any{"vm-cpu": 0}, want: "vm-cpu 0: at least 1"},
		{name: "lxd socket relative", set: map[string]any{"lxd-socket": "lxd/unix.socket"},
			want: `lxd-socket "lxd/unix.socket": want an absolute path, or empty to discover it`},
		{name: "lxd socket absolute", set: map[string]any{"lxd-socket": "/var/snap/lxd/common/lxd/unix.socket"}},
		{name: "profiles", set: map[string]any{"lxd-profiles": "gpu, bad/name"},
			want: `lxd-profiles "gpu, bad/name": "bad/name" is not an LXD profile name`},
		{name: "profiles fine", set: map[string]any{"lxd-profiles": "gpu,proxy-net"}},
		{name: "timer directory", set: map[string]any{"timer-directory": "systemd"},
			want: `timer-directory "systemd": want an absolute path`},
		{name: "cron directory", set: map[string]any{"cron-directory": ""},
			want: `cron-directory "": want an absolute path`},
		{name: "a float for an int", set: map[string]any{"vm-cpu": 2.5},
			want: "vm-cpu 2.5: want a whole number"},
		{name: "several problems, in option order", set: map[string]any{"path": "", "vm-memory": "7XB", "max-parallel-launches": 99},
			want: `path: missing: set an organisation or owner/repo; vm-memory "7XB": not a size (use e.g. 512MiB or 7GiB); max-parallel-launches 99: want 1 to 32`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validConfig(t)
			for k, v := range tc.set {
				m[k] = v
			}
			err := pool.Decode(m).Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var cerr *config.Error
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, tc.want, err.Error())
			if tok, ok := tc.set["token"].(string); ok && tok != "" {
				require.NotContains(t, err.Error(), tok)
			}
		})
	}
}

// Every option of config.yaml is read: a value of the wrong type for any
// of them is reported, naming it.
func TestEveryOptionIsParsed(t *testing.T) {
	for name, v := range defaults(t) {
		t.Run(name, func(t *testing.T) {
			m := validConfig(t)
			if _, isString := v.(string); isString {
				m[name] = json.Number("5")
			} else {
				m[name] = "five"
			}
			var cerr *config.Error
			require.ErrorAs(t, pool.Decode(m).Validate(), &cerr)
			require.Contains(t, cerr.Options(), name)
		})
	}
}

func TestTokenNeverPrints(t *testing.T) {
	const secret = "ghp_supersecret"
	cfg := pool.Decode(map[string]any{"token": secret})
	require.Equal(t, secret, cfg.Token.Reveal())
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("config", "token", cfg.Token, "cfg", cfg)
	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(cfg.Token), fmt.Sprintf("%v %s %q %#v", cfg.Token, cfg.Token, cfg.Token, cfg.Token),
		fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), buf.String(), string(out),
	} {
		require.NotContains(t, s, secret)
	}
	require.Equal(t, "<redacted>", cfg.Token.String())
	require.Equal(t, "", pool.Token("").String())
}

// Settings matches config.yaml, and config.yaml's defaults read as Juju
// reads them are the ones Decode applies.
func TestSettingsMatchConfigYAML(t *testing.T) {
	require.NoError(t, pool.Schema().Check(&pool.Settings{}))
	require.Equal(t, pool.Decode(defaults(t)), pool.Decode(nil))
}
