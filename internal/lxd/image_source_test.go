package lxd_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

func TestLocalImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  string
		want lxd.InstanceSource
	}{
		{ref: "runner-image", want: lxd.InstanceSource{Type: "image", Alias: "runner-image"}},
		{ref: "0275bd2b66c9", want: lxd.InstanceSource{Type: "image", Fingerprint: "0275bd2b66c9"}},
		{ref: "0275bd2b66c93d83fc4d01b9610e1de175ff73ba4e26e414a4c292cdf15cc53d", want: lxd.InstanceSource{Type: "image", Fingerprint: "0275bd2b66c93d83fc4d01b9610e1de175ff73ba4e26e414a4c292cdf15cc53d"}},
		{ref: "cafe", want: lxd.InstanceSource{Type: "image", Alias: "cafe"}},
		{ref: "0275BD2B66C9", want: lxd.InstanceSource{Type: "image", Alias: "0275BD2B66C9"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			require.Equal(t, tt.want, lxd.LocalImage(tt.ref))
		})
	}
}

func TestRemoteImage(t *testing.T) {
	t.Parallel()
	got := lxd.RemoteImage("https://cloud-images.ubuntu.com/releases", "22.04")
	require.Equal(t, lxd.InstanceSource{Type: "image", Mode: "pull", Server: "https://cloud-images.ubuntu.com/releases", Protocol: "simplestreams", Alias: "22.04"}, got)
}
