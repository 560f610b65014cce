package juju_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju"
)

func TestParseEnv(t *testing.T) {
	env := juju.ParseEnv([]string{
		"JUJU_DISPATCH_PATH=actions/flush-runners",
		"JUJU_UNIT_NAME=github-runner/12",
		"CHARM_DIR=/var/lib/juju/agents/unit-github-runner-12/charm",
		"JUJU_MODEL_NAME=ci",
		"JUJU_ACTION_NAME=flush-runners",
		"JUJU_ACTION_UUID=7",
		"JUJU_CHARM_HTTPS_PROXY=http://proxy:3128",
		"JUJU_CHARM_NO_PROXY=10.0.0.0/8,localhost",
		"JUJU_VERSION=3.6.4",
		"JUJU_MACHINE_ID=3",
		"JUJU_API_ADDRESSES=10.0.0.2:17070 10.0.0.3:17070",
		"NOT_JUJU=x",
		"MALFORMED",
	})
	require.Equal(t, "actions/flush-runners", env.DispatchPath)
	require.Equal(t, "/var/lib/juju/agents/unit-github-runner-12/charm", env.CharmDir)
	require.Equal(t, "flush-runners", env.ActionName)
	require.Equal(t, "7", env.ActionUUID)
	require.Equal(t, "http://proxy:3128", env.HTTPSProxy)
	require.Equal(t, "", env.HTTPProxy)
	require.Equal(t, "10.0.0.0/8,localhost", env.NoProxy)
	require.Equal(t, "3.6.4", env.Version)
	require.Equal(t, "3", env.MachineID)
	require.Equal(t, []string{"10.0.0.2:17070", "10.0.0.3:17070"}, env.APIAddresses)
	require.Equal(t, "github-runner", env.AppName())
	n, err := env.UnitNumber()
	require.NoError(t, err)
	require.Equal(t, 12, n)
}

func TestParseEnvRelation(t *testing.T) {
	env := juju.ParseEnv([]string{
		"JUJU_DISPATCH_PATH=hooks/cos-agent-relation-departed",
		"JUJU_RELATION=cos-agent",
		"JUJU_RELATION_ID=cos-agent:3",
		"JUJU_REMOTE_UNIT=grafana-agent/1",
		"JUJU_REMOTE_APP=grafana-agent",
		"JUJU_DEPARTING_UNIT=grafana-agent/1",
	})
	require.Equal(t, juju.Env{
		DispatchPath: "hooks/cos-agent-relation-departed",
		Relation:     "cos-agent", RelationID: "cos-agent:3",
		RemoteUnit: "grafana-agent/1", RemoteApp: "grafana-agent", DepartingUnit: "grafana-agent/1",
		APIAddresses: []string{},
	}, env)
}

func TestRelationHook(t *testing.T) {
	for _, tc := range []struct {
		hook, endpoint, kind string
		ok                   bool
	}{
		{"cos-agent-relation-joined", "cos-agent", "relation-joined", true},
		{"db-relation-created", "db", "relation-created", true},
		{"a-relation-broken-relation-broken", "a-relation-broken", "relation-broken", true},
		{"relation-changed", "", "", false},
		{"config-changed", "", "", false},
		{"cos-agent-relation-exploded", "", "", false},
	} {
		ep, kind, ok := juju.RelationHook(tc.hook)
		require.Equal(t, tc.ok, ok, tc.hook)
		require.Equal(t, tc.endpoint, ep, tc.hook)
		require.Equal(t, tc.kind, kind, tc.hook)
	}
}

func TestUnitNumber(t *testing.T) {
	for _, tc := range []struct {
		unit string
		app  string
		num  int
		ok   bool
	}{
		{"github-runner/0", "github-runner", 0, true},
		{"a/123", "a", 123, true},
		{"", "", 0, false},
		{"app", "app", 0, false},
		{"app/", "app", 0, false},
		{"app/x", "app", 0, false},
		{"app/-1", "app", 0, false},
		{"app/01", "app", 0, false},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			env := juju.Env{UnitName: tc.unit}
			require.Equal(t, tc.app, env.AppName())
			n, err := env.UnitNumber()
			if !tc.ok {
				require.True(t, errors.Is(err, juju.ErrBadUnitName), "%v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.num, n)
		})
	}
}

func TestEvent(t *testing.T) {
	for _, tc := range []struct {
		path string
		want juju.Event
	}{
		{"", juju.Event{Kind: juju.NoEvent}},
		{"hooks/install", juju.Event{Kind: juju.HookEvent, Name: "install"}},
		{"actions/check-runners", juju.Event{Kind: juju.ActionEvent, Name: "check-runners"}},
		{"reconcile-runners", juju.Event{Kind: juju.CustomEvent, Name: "reconcile-runners"}},
	} {
		require.Equal(t, tc.want, juju.Env{DispatchPath: tc.path}.Event(), tc.path)
	}
}
