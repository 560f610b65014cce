package runners

import (
	"errors"
	"strings"
	"testing"
)

func TestProxyFiles(t *testing.T) {
	px := Proxy{HTTP: "http://proxy:3128"}.normal()
	if px.NoProxy != DefaultNoProxy {
		t.Fatalf("no_proxy defaults to %q, got %q", DefaultNoProxy, px.NoProxy)
	}
	env := px.environmentLines()
	for _, want := range []string{"http_proxy=http://proxy:3128\n", "HTTP_PROXY=http://proxy:3128\n", "no_proxy=" + DefaultNoProxy + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "https_proxy") {
		t.Errorf("no https proxy set, yet:\n%s", env)
	}
	apt := px.aptConf()
	if !strings.Contains(apt, `Acquire::http::Proxy "http://proxy:3128";`) || !strings.Contains(apt, `Acquire::https::Proxy "http://proxy:3128";`) {
		t.Errorf("apt conf:\n%s", apt)
	}
	if d := px.dockerDaemonDropIn(); !strings.Contains(d, `Environment="HTTP_PROXY=http://proxy:3128"`) || strings.Contains(d, "http_proxy") {
		t.Errorf("docker drop-in:\n%s", d)
	}
	if c := px.dockerClientConfig(); !strings.Contains(c, `"httpProxy": "http://proxy:3128"`) || !strings.Contains(c, `"noProxy"`) {
		t.Errorf("docker client config:\n%s", c)
	}
	if (Proxy{NoProxy: "x"}).normal() != (Proxy{}) {
		t.Error("no_proxy alone is no proxy")
	}
}

func TestMissingPackages(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   []string
	}{
		{"E: Unable to locate package nosuch\n", []string{"nosuch"}},
		{"W: x\nE: Package 'virt' has no installation candidate\nE: Unable to locate package b\n", []string{"virt", "b"}},
		{"E: Version '9.9' for 'jq' was not found\n", []string{"jq"}},
		{"E: Failed to fetch http://deb.debian.org/...  Connection refused\n", nil},
	} {
		err := missingPackages(ExecResult{ExitCode: 100, Stderr: []byte(tc.stderr)})
		var me *MissingPackagesError
		if tc.want == nil {
			if err != nil {
				t.Errorf("%q: %v, want nil", tc.stderr, err)
			}
			continue
		}
		if !errors.As(err, &me) || strings.Join(me.Packages, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: %v, want %v", tc.stderr, err, tc.want)
		}
	}
}
