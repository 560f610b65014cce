package juju_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
)

func TestConfig(t *testing.T) {
	s := startSim(t, jujutest.Options{Config: map[string]any{"count": 42}})
	inContext(t, s, "hooks/config-changed", nil, func(ctx context.Context, c *juju.Client) error {
		cfg, err := c.Config(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]any{
			"name": "x", "count": json.Number("42"), "big": json.Number("9007199254740993"),
			"ratio": json.Number("1.5"), "enabled": true,
		}, cfg)

		var typed struct {
			Name    string  `json:"name"`
			Count   int     `json:"count"`
			Big     int64   `json:"big"`
			Ratio   float64 `json:"ratio"`
			Enabled bool    `json:"enabled"`
			Unset   *string `json:"unset"`
		}
		require.NoError(t, c.DecodeConfig(ctx, &typed))
		require.Equal(t, 42, typed.Count)
		require.Equal(t, int64(9007199254740993), typed.Big)
		require.Equal(t, 1.5, typed.Ratio)
		require.True(t, typed.Enabled)
		require.Nil(t, typed.Unset)
		return nil
	})
}

func TestStatus(t *testing.T) {
	t.Run("unit", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		inContext(t, s, "hooks/start", nil, func(ctx context.Context, c *juju.Client) error {
			require.NoError(t, c.SetStatus(ctx, juju.Blocked("path: missing; -x looks like a flag")))
			got, err := c.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, juju.Blocked("path: missing; -x looks like a flag"), got)
			return nil
		})
		require.Equal(t, jujutest.Status{Status: "blocked", Message: "path: missing; -x looks like a flag"}, s.UnitStatus())
	})
	t.Run("a status the charm cannot set is refused before any tool runs", func(t *testing.T) {
		// No tools on this PATH: a tool run would give ErrToolNotFound.
		c := juju.NewClient(juju.ExecRunner{Env: []string{"PATH=/nonexistent"}}, juju.Env{})
		for _, code := range []juju.StatusCode{juju.StatusError, juju.StatusUnknown, "idle"} {
			err := c.SetStatus(testContext(t), juju.Status{Code: code})
			require.ErrorIs(t, err, juju.ErrInvalidStatus)
		}
		require.ErrorIs(t, c.SetStatus(testContext(t), juju.Active("")), juju.ErrToolNotFound)
	})
	t.Run("application by a non-leader", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		inContext(t, s, "hooks/start", nil, func(ctx context.Context, c *juju.Client) error {
			err := c.SetApplicationStatus(ctx, juju.Active("ok"))
			require.ErrorIs(t, err, juju.ErrNotLeader)
			var te *juju.ToolError
			require.ErrorAs(t, err, &te)
			require.Equal(t, juju.ToolError{Tool: "status-set", Args: []string{"--application", "--", "active", "ok"}, ExitCode: 1, Message: "this unit is not the leader"}, *te)
			_, _, err = c.ApplicationStatus(ctx)
			require.ErrorIs(t, err, juju.ErrNotLeader)
			return nil
		})
	})
	t.Run("application by the leader", func(t *testing.T) {
		s := startSim(t, jujutest.Options{Leader: true})
		inContext(t, s, "hooks/start", nil, func(ctx context.Context, c *juju.Client) error {
			require.NoError(t, c.SetStatus(ctx, juju.Maintenance("building")))
			require.NoError(t, c.SetApplicationStatus(ctx, juju.Waiting("for units")))
			app, units, err := c.ApplicationStatus(ctx)
			require.NoError(t, err)
			require.Equal(t, juju.Waiting("for units"), app)
			require.Equal(t, map[string]juju.Status{"clienttest/0": juju.Maintenance("building")}, units)
			return nil
		})
		require.Equal(t, jujutest.Status{Status: "waiting", Message: "for units"}, s.ApplicationStatus())
	})
}

func TestLeaderAndVersion(t *testing.T) {
	for _, leader := range []bool{true, false} {
		s := startSim(t, jujutest.Options{Leader: leader})
		inContext(t, s, "hooks/update-status", nil, func(ctx context.Context, c *juju.Client) error {
			got, err := c.IsLeader(ctx)
			require.NoError(t, err)
			require.Equal(t, leader, got)
			require.NoError(t, c.SetApplicationVersion(ctx, "2.321.0"))
			return nil
		})
		require.Equal(t, "2.321.0", s.WorkloadVersion())
	}
}

func TestActions(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	params := map[string]any{"num": 5, "opts": map[string]any{"mode": "fast", "depth": map[string]any{"max": 3}}}
	r := inContext(t, s, "actions/do", params, func(ctx context.Context, c *juju.Client) error {
		got, err := c.ActionParams(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"num": json.Number("5"), "opts": map[string]any{"mode": "fast", "depth": map[string]any{"max": json.Number("3")}}}, got)
		v, err := c.ActionParam(ctx, "opts.depth.max")
		require.NoError(t, err)
		require.Equal(t, json.Number("3"), v)
		v, err = c.ActionParam(ctx, "opts.nope")
		require.NoError(t, err)
		require.Nil(t, v)

		require.NoError(t, c.ActionLog(ctx, "-starting, with a dash"))
		require.NoError(t, c.ActionSet(ctx, map[string]any{
			"removed": 3,
			"runners": map[string]any{"online": 2, "names": "a,b", "busy": false},
			"note":    "a = b\nnew line",
			"sub.key": "dotted",
		}))
		require.NoError(t, c.ActionSet(ctx, map[string]any{"removed": "4"})) // merges, last wins

		for _, bad := range []struct {
			key string
			err error
			msg string
		}{
			{"Upper", juju.ErrActionKeyInvalid, `key "Upper" must start and end with lowercase alphanumeric`},
			{"a..b", juju.ErrActionKeyInvalid, `key "" must start`},
			{"trailing-", juju.ErrActionKeyInvalid, `key "trailing-"`},
			{"stdout", juju.ErrActionKeyReserved, `cannot set reserved action key "stdout"`},
			{"x.stderr-encoding", juju.ErrActionKeyReserved, `reserved action key "stderr-encoding"`},
		} {
			err := c.ActionSet(ctx, map[string]any{"good": "1", bad.key: "v"})
			require.ErrorIs(t, err, bad.err, bad.key)
			var ke *juju.ActionKeyError
			require.ErrorAs(t, err, &ke)
			require.Contains(t, err.Error(), bad.msg)
		}
		require.NoError(t, c.ActionFail(ctx, "partly done"))
		return nil
	})
	require.Equal(t, "failed", r.Action.Status)
	require.Equal(t, "partly done", r.Action.Message)
	require.Equal(t, []string{"-starting, with a dash"}, r.Action.Logs)
	require.Equal(t, map[string]any{
		"removed":     "4",
		"runners":     map[string]any{"online": "2", "names": "a,b", "busy": "false"},
		"note":        "a = b\nnew line",
		"sub":         map[string]any{"key": "dotted"},
		"return-code": 0,
	}, r.Action.Results, "nothing from the refused calls was set")

	t.Run("fail without a message", func(t *testing.T) {
		r := inContext(t, s, "actions/do", nil, func(ctx context.Context, c *juju.Client) error {
			return c.ActionFail(ctx, "")
		})
		require.Equal(t, "action failed without reason given, check action for errors", r.Action.Message)
	})
	t.Run("outside an action", func(t *testing.T) {
		inContext(t, s, "hooks/update-status", nil, func(ctx context.Context, c *juju.Client) error {
			_, err := c.ActionParams(ctx)
			require.ErrorIs(t, err, juju.ErrNotAction)
			err = c.ActionSet(ctx, map[string]any{"token": "s3cret-value"})
			require.ErrorIs(t, err, juju.ErrNotAction)
			require.NotContains(t, err.Error(), "s3cret")
			var te *juju.ToolError
			require.ErrorAs(t, err, &te)
			require.Equal(t, []string{"--", "token=<redacted>"}, te.Args)
			require.ErrorIs(t, c.ActionFail(ctx, "x"), juju.ErrNotAction)
			require.ErrorIs(t, c.ActionLog(ctx, "x"), juju.ErrNotAction)
			return nil
		})
	})
}

func TestState(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	awkward := map[string]string{
		"spaces":  "  leading and trailing  ",
		"lines":   "one\ntwo\n",
		"equals":  "a=b=c",
		"yaml":    "yes",
		"null":    "null",
		"number":  "007",
		"empty":   "",
		"unicode": "héllo \u2028 \t tab \"quoted\" 'single' # not a comment",
		"json":    `{"a": [1, 2]}`,
		"big":     strings.Repeat("x", 60*1024),
	}
	inContext(t, s, "hooks/install", nil, func(ctx context.Context, c *juju.Client) error {
		require.NoError(t, c.StateSet(ctx, awkward))
		got, err := c.State(ctx)
		require.NoError(t, err)
		require.Equal(t, awkward, got, "the hook sees its own writes")
		v, err := c.StateGet(ctx, "spaces")
		require.NoError(t, err)
		require.Equal(t, awkward["spaces"], v)
		v, err = c.StateGet(ctx, "absent")
		require.NoError(t, err)
		require.Equal(t, "", v)
		require.NoError(t, c.StateDelete(ctx, "big"))
		require.NoError(t, c.StateDelete(ctx, "absent"))
		require.ErrorIs(t, c.StateSet(ctx, map[string]string{"": "x"}), juju.ErrEmptyStateKey)
		return nil
	})
	delete(awkward, "big")
	require.Equal(t, awkward, s.State())

	// A failing hook's writes are discarded.
	inContext(t, s, "hooks/config-changed", nil, func(ctx context.Context, c *juju.Client) error {
		require.NoError(t, c.StateSet(ctx, map[string]string{"spaces": "changed"}))
		return errors.New("the hook fails")
	})
	require.Equal(t, awkward, s.State())

	inContext(t, s, "hooks/config-changed", nil, func(ctx context.Context, c *juju.Client) error {
		err := c.StateSet(ctx, map[string]string{"v": strings.Repeat("x", 64*1024+1)})
		var te *juju.ToolError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "max allowed value length (65536) exceeded", te.Message)
		return nil
	})
}

func TestSecrets(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	granted := s.AddSecret(map[string]string{"token": "ghp_granted"}, jujutest.SecretOptions{Granted: true})
	hidden := s.AddSecret(map[string]string{"token": "ghp_hidden"}, jujutest.SecretOptions{})
	inContext(t, s, "hooks/config-changed", nil, func(ctx context.Context, c *juju.Client) error {
		content, err := c.SecretGet(ctx, granted)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"token": "ghp_granted"}, content)
		v, err := c.SecretValue(ctx, granted, "token")
		require.NoError(t, err)
		require.Equal(t, "ghp_granted", v)

		_, err = c.SecretValue(ctx, granted, "nope")
		require.ErrorIs(t, err, juju.ErrNotFound)
		_, err = c.SecretValue(ctx, hidden, "token")
		require.ErrorIs(t, err, juju.ErrPermissionDenied)
		require.NotContains(t, err.Error(), "ghp_hidden")
		_, err = c.SecretGet(ctx, "secret:0123456789abcdefghij")
		require.ErrorIs(t, err, juju.ErrNotFound)
		_, err = c.SecretGet(ctx, "not-a-uri")
		var te *juju.ToolError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 2, te.ExitCode)
		require.Equal(t, `secret URI "not-a-uri" not valid`, te.Message)
		return nil
	})
}

func TestToolErrors(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	ctx := testContext(t)
	_, err := s.InContext(ctx, "hooks/update-status", nil, func(env []string) error {
		r := juju.ExecRunner{Env: env}
		_, err := r.Run(ctx, "status-set", []string{"error", "boom"}, nil)
		var te *juju.ToolError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 2, te.ExitCode)
		require.Equal(t, `invalid status "error", expected one of [maintenance blocked waiting active]`, te.Message)
		require.Equal(t, `status-set failed (exit status 2): invalid status "error", expected one of [maintenance blocked waiting active]`, err.Error())

		_, err = r.Run(ctx, "juju-log", nil, nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, juju.ToolError{Tool: "juju-log", Args: []string{}, ExitCode: 2, Message: "no message specified"}, *te)

		_, err = r.Run(ctx, "is-leader", []string{"extra"}, nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, `unrecognized args: ["extra"]`, te.Message)

		_, err = r.Run(ctx, "no-such-tool", nil, nil)
		require.ErrorIs(t, err, juju.ErrToolNotFound)

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = r.Run(cancelled, "is-leader", nil, nil)
		require.ErrorIs(t, err, context.Canceled)
		return nil
	})
	require.NoError(t, err)
}

func TestRedactArgs(t *testing.T) {
	require.Equal(t,
		[]string{"--format=json", "--", "token=<redacted>", "a.b=<redacted>", "plain", "-x=1"},
		juju.RedactArgs([]string{"--format=json", "--", "token=ghp_x", "a.b=c=d", "plain", "-x=1"}))
}
