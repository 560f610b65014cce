package hooktool_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

func TestReadsStdin(t *testing.T) {
	for _, tc := range []struct {
		tool string
		args []string
		want bool
	}{
		{"state-set", []string{"--file", "-"}, true},
		{"state-set", []string{"--file=-"}, true},
		{"state-set", []string{"a=b", "--file", "-"}, true},
		{"state-set", []string{"--file", "values.yaml"}, false},
		{"state-set", []string{"--", "--file=-"}, false},
		{"state-set", []string{"a=b"}, false},
		{"relation-set", []string{"-r", "cos-agent:0", "--file", "-"}, true},
		{"relation-set", []string{"--app", "a=b"}, false},
		{"juju-log", []string{"--file", "-"}, false},
	} {
		require.Equal(t, tc.want, hooktool.ReadsStdin(tc.tool, tc.args), "%s %v", tc.tool, tc.args)
	}
}

func TestMainOutsideAHook(t *testing.T) {
	var stdout, stderr bytes.Buffer
	getenv := func(string) string { return "" }
	code := hooktool.Main(context.Background(), []string{"/some/tools/is-leader"}, getenv, "/", strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Equal(t, "ERROR JUJU_AGENT_SOCKET_ADDRESS not set: is-leader must run in a hook context\n", stderr.String())
	require.Empty(t, stdout.String())
}

func TestMainAgentGone(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := map[string]string{hooktool.EnvSocket: t.TempDir() + "/gone.socket", hooktool.EnvContextID: "u/0-install-1"}
	code := hooktool.Main(context.Background(), []string{"config-get"}, func(k string) string { return env[k] }, "/", strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "ERROR cannot reach the unit agent: ")
}
