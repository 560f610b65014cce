package lxd_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

func TestParseImageSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref     string
		want    lxd.InstanceSource
		wantErr string
	}{
		{ref: "ubuntu:22.04", want: lxd.InstanceSource{Type: "image", Mode: "pull", Server: "https://cloud-images.ubuntu.com/releases", Protocol: "simplestreams", Alias: "22.04"}},
		{ref: "ubuntu-daily:noble", want: lxd.InstanceSource{Type: "image", Mode: "pull", Server: "https://cloud-images.ubuntu.com/daily", Protocol: "simplestreams", Alias: "noble"}},
		{ref: "runner-image", want: lxd.InstanceSource{Type: "image", Alias: "runner-image"}},
		{ref: "local:runner-image", want: lxd.InstanceSource{Type: "image", Alias: "runner-image"}},
		{ref: "0275bd2b66c9", want: lxd.InstanceSource{Type: "image", Fingerprint: "0275bd2b66c9"}},
		{ref: "0275bd2b66c93d83fc4d01b9610e1de175ff73ba4e26e414a4c292cdf15cc53d", want: lxd.InstanceSource{Type: "image", Fingerprint: "0275bd2b66c93d83fc4d01b9610e1de175ff73ba4e26e414a4c292cdf15cc53d"}},
		{ref: "cafe", want: lxd.InstanceSource{Type: "image", Alias: "cafe"}},
		{ref: "images:debian/12", wantErr: `unknown remote "images"`},
		{ref: "ubuntu:", wantErr: "no image name"},
		{ref: "", wantErr: "no image name"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := lxd.ParseImageSource(tt.ref)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
