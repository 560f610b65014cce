package runners

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"7GiB": 7 * GiB, "512MiB": 512 * MiB, "1TiB": TiB, "10GB": 10 * GiB, "2G": 2 * GiB,
		"64M": 64 * MiB, " 3GiB ": 3 * GiB, "100KiB": 100 * KiB,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "7", "GiB", "7XB", "-1GiB", "1.5GiB", "7 gigs", "99999999999999999999GiB", "7gib"} {
		_, err := ParseSize(bad)
		require.ErrorIs(t, err, ErrInvalidSize, bad)
	}
}

func TestFormatSize(t *testing.T) {
	require.Equal(t, "7GiB", FormatSize(7*GiB))
	require.Equal(t, "1536MiB", FormatSize(1536*MiB))
	require.Equal(t, "1TiB", FormatSize(TiB))
	require.Equal(t, "100B", FormatSize(100))
}

func TestResourcesValidate(t *testing.T) {
	require.NoError(t, Resources{CPU: 2, Memory: 7 * GiB, Disk: 10 * GiB}.Validate("virtual-machine"))
	require.NoError(t, Resources{CPU: 1, Memory: 128 * MiB, Disk: 1 * GiB}.Validate("container"))
	require.ErrorContains(t, Resources{CPU: 1, Memory: 512 * MiB, Disk: GiB}.Validate("virtual-machine"), "memory 512MiB: at least 1GiB")
	require.ErrorContains(t, Resources{CPU: 0, Memory: GiB, Disk: GiB}.Validate("container"), "cpu 0")
}

func TestParseLabels(t *testing.T) {
	l, err := ParseLabels(" large, gpu,,x_y-z ,GPU")
	require.NoError(t, err)
	require.Equal(t, []string{"large", "gpu", "x_y-z"}, l)
	l, err = ParseLabels("")
	require.NoError(t, err)
	require.Empty(t, l)
	_, err = ParseLabels("ok,not ok")
	require.ErrorContains(t, err, `invalid label "not ok"`)
}
