package lxd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

func TestGetServer(t *testing.T) {
	t.Parallel()
	c := connect(t)
	srv, err := c.GetServer(testCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Equal(t, "1.0", srv.APIVersion)
	require.True(t, srv.HasExtension("instances"))
	require.False(t, srv.HasExtension("no-such-extension"))
	require.NotEmpty(t, srv.Environment.ServerVersion)

	drivers := srv.Drivers()
	require.NotEmpty(t, drivers)
	require.Equal(t, "lxc", drivers[0].Name)
	require.NotEmpty(t, drivers[0].Version)

	types, ok := srv.InstanceTypes()
	require.True(t, ok, "the daemon lists only operational drivers")
	require.Contains(t, types, lxd.InstanceTypeContainer)
	require.True(t, srv.SupportsInstanceType(lxd.InstanceTypeContainer))
	// Whether VMs work depends on the host (KVM, vhost_vsock): report it.
	t.Logf("LXD %s drivers %q: instance types %v (VMs supported: %v)",
		srv.Environment.ServerVersion, srv.Environment.Driver, types, srv.SupportsInstanceType(lxd.InstanceTypeVM))
}

func TestServerInstanceTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		driver, version string
		extensions      []string
		want            []lxd.InstanceType
		wantOK          bool
		drivers         []lxd.Driver
	}{{
		driver: "lxc | qemu", version: "5.0.2 | 7.2.0",
		extensions: []string{"server_instance_driver_operational"},
		want:       []lxd.InstanceType{lxd.InstanceTypeContainer, lxd.InstanceTypeVM}, wantOK: true,
		drivers: []lxd.Driver{{Name: "lxc", Version: "5.0.2"}, {Name: "qemu", Version: "7.2.0"}},
	}, {
		driver: "lxc", version: "5.0.2",
		extensions: []string{"server_instance_driver_operational"},
		want:       []lxd.InstanceType{lxd.InstanceTypeContainer}, wantOK: true,
		drivers: []lxd.Driver{{Name: "lxc", Version: "5.0.2"}},
	}, {
		driver: "qemu", version: "8.0",
		extensions: []string{"server_instance_driver_operational"},
		want:       []lxd.InstanceType{lxd.InstanceTypeVM}, wantOK: true,
		drivers: []lxd.Driver{{Name: "qemu", Version: "8.0"}},
	}, {
		driver: "lxc | qemu", version: "3.0.3",
		want: []lxd.InstanceType{lxd.InstanceTypeContainer, lxd.InstanceTypeVM}, wantOK: false,
		drivers: []lxd.Driver{{Name: "lxc", Version: "3.0.3"}, {Name: "qemu"}},
	}}
	for _, tt := range tests {
		t.Run(tt.driver, func(t *testing.T) {
			srv := lxd.Server{APIExtensions: tt.extensions, Environment: lxd.ServerEnvironment{Driver: tt.driver, DriverVersion: tt.version}}
			got, ok := srv.InstanceTypes()
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.drivers, srv.Drivers())
		})
	}
}
