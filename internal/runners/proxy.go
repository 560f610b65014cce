package runners

import (
	"encoding/json"
	"strings"
)

// Proxy is the HTTP proxy the image build and the runners use. The zero
// value is no proxy.
type Proxy struct {
	// HTTP and HTTPS are proxy URLs (http://host:port) for http:// and
	// https:// destinations.
	HTTP, HTTPS string
	// NoProxy lists, comma-separated, the hosts, domains and addresses
	// reached without the proxy.
	NoProxy string
}

// DefaultNoProxy is what reaches the instance's own loopback without the
// proxy when a proxy is set and nothing says otherwise (Juju's default
// juju-no-proxy).
const DefaultNoProxy = "127.0.0.1,localhost,::1"

// IsZero says whether no proxy is set.
func (p Proxy) IsZero() bool { return p.HTTP == "" && p.HTTPS == "" }

// normal is p with NoProxy defaulted when a proxy is set, and nothing at
// all when none is.
func (p Proxy) normal() Proxy {
	if p.IsZero() {
		return Proxy{}
	}
	if strings.TrimSpace(p.NoProxy) == "" {
		p.NoProxy = DefaultNoProxy
	}
	return p
}

// vars are the proxy's environment variables, in both the lower-case
// spelling (curl, wget, apt's helpers) and the upper-case one (Go
// programs, Docker), in a fixed order.
func (p Proxy) vars() [][2]string {
	var out [][2]string
	add := func(name, value string) {
		if value != "" {
			out = append(out, [2]string{name, value}, [2]string{strings.ToUpper(name), value})
		}
	}
	add("http_proxy", p.HTTP)
	add("https_proxy", p.HTTPS)
	add("no_proxy", p.NoProxy)
	return out
}

// environmentLines are the proxy's variables as /etc/environment and the
// runner application's .env read them: NAME=value, one a line, unquoted
// (the runner splits each line at its first '=', see
// actions/runner src/Runner.Listener/Program.cs LoadAndSetEnv).
func (p Proxy) environmentLines() string {
	var b strings.Builder
	for _, v := range p.vars() {
		b.WriteString(v[0] + "=" + v[1] + "\n")
	}
	return b.String()
}

// aptConf is apt's proxy configuration (Acquire::http::Proxy and
// Acquire::https::Proxy); an https proxy alone serves both, as apt then
// fetches http:// sources through it too.
func (p Proxy) aptConf() string {
	var b strings.Builder
	httpProxy := p.HTTP
	if httpProxy == "" {
		httpProxy = p.HTTPS
	}
	if httpProxy != "" {
		b.WriteString("Acquire::http::Proxy \"" + httpProxy + "\";\n")
	}
	if p.HTTPS != "" {
		b.WriteString("Acquire::https::Proxy \"" + p.HTTPS + "\";\n")
	} else if p.HTTP != "" {
		b.WriteString("Acquire::https::Proxy \"" + p.HTTP + "\";\n")
	}
	return b.String()
}

// dockerDaemonDropIn is a systemd drop-in giving Docker's daemon the
// proxy (image pulls), as Docker's documentation describes
// (docs.docker.com/engine/daemon/proxy/, "systemd unit file").
func (p Proxy) dockerDaemonDropIn() string {
	var b strings.Builder
	b.WriteString("[Service]\n")
	for _, v := range p.vars() {
		if v[0] == strings.ToUpper(v[0]) {
			b.WriteString("Environment=\"" + v[0] + "=" + v[1] + "\"\n")
		}
	}
	return b.String()
}

// dockerClientConfig is the Docker client's ~/.docker/config.json with the
// proxy, which the client passes to containers and builds
// (docs.docker.com/engine/cli/proxy/).
func (p Proxy) dockerClientConfig() string {
	proxies := map[string]string{}
	if p.HTTP != "" {
		proxies["httpProxy"] = p.HTTP
	}
	if p.HTTPS != "" {
		proxies["httpsProxy"] = p.HTTPS
	}
	if p.NoProxy != "" {
		proxies["noProxy"] = p.NoProxy
	}
	b, _ := json.MarshalIndent(map[string]any{"proxies": map[string]any{"default": proxies}}, "", "  ")
	return string(b) + "\n"
}
