package lxd

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// GetServer returns the daemon's description of itself (GET /1.0).
func (c *Client) GetServer(ctx context.Context) (*Server, error) {
	var s Server
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0"}, &s); err != nil {
		return nil, fmt.Errorf("cannot get lxd server information: %w", err)
	}
	return &s, nil
}

// InstanceTypes returns the instance types the server can run: containers
// when the "lxc" driver is listed, virtual machines when "qemu" is.
//
// Servers with the server_instance_driver_operational API extension (LXD 4.0
// and later) list only operational drivers, so a host without KVM or
// vhost_vsock reports no "qemu" and this returns only containers. On older
// servers ok is false: the list then names compiled-in drivers, which may
// not work.
func (s *Server) InstanceTypes() (types []InstanceType, ok bool) {
	for _, d := range s.Drivers() {
		switch d.Name {
		case "lxc":
			types = append(types, InstanceTypeContainer)
		case "qemu":
			types = append(types, InstanceTypeVM)
		}
	}
	return types, s.HasExtension("server_instance_driver_operational")
}

// SupportsInstanceType reports whether the server lists an operational
// driver for instances of type t (see [Server.InstanceTypes]).
func (s *Server) SupportsInstanceType(t InstanceType) bool {
	types, _ := s.InstanceTypes()
	return slices.Contains(types, t)
}

// Driver is one instance driver of a server.
type Driver struct {
	Name    string // "lxc" or "qemu"
	Version string
}

// Drivers parses the server's instance drivers from its environment.
func (s *Server) Drivers() []Driver {
	var out []Driver
	names := splitList(s.Environment.Driver)
	versions := splitList(s.Environment.DriverVersion)
	for i, n := range names {
		d := Driver{Name: n}
		if i < len(versions) {
			d.Version = versions[i]
		}
		out = append(out, d)
	}
	return out
}

// HasExtension reports whether the server supports an API extension.
func (s *Server) HasExtension(name string) bool {
	return slices.Contains(s.APIExtensions, name)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "|") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
