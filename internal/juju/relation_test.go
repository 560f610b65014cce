package juju_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
)

func relate(t *testing.T, s *jujutest.Sim) string {
	t.Helper()
	id, err := s.AddRelation(jujutest.RelationOptions{
		Endpoint:      "cos-agent",
		RemoteApp:     "grafana-agent",
		RemoteAppData: map[string]string{"receivers": "[]"},
		RemoteUnits:   map[string]map[string]string{"grafana-agent/0": {"config": "remote"}},
	})
	require.NoError(t, err)
	return id
}

// inRelation runs fn with a Client in a relation hook of s.
func inRelation(t *testing.T, s *jujutest.Sim, h jujutest.RelationHook, fn func(ctx context.Context, c *juju.Client) error) jujutest.Run {
	t.Helper()
	ctx := testContext(t)
	r, err := s.InRelationContext(ctx, h, func(env []string) error {
		return fn(ctx, juju.NewClient(juju.ExecRunner{Env: env}, juju.ParseEnv(env)))
	})
	require.NoError(t, err)
	return r
}

func TestRelations(t *testing.T) {
	s := startSim(t, jujutest.Options{Leader: true})
	id := relate(t, s)
	big := strings.Repeat("x", 200*1024) // far beyond what argv should carry
	awkward := "line one\nkey=value: {yaml: no} 'quoted' \"double\" # not a comment"
	hook := jujutest.RelationHook{RelationID: id, Kind: jujutest.RelationChanged, RemoteUnit: "grafana-agent/0"}
	inRelation(t, s, hook, func(ctx context.Context, c *juju.Client) error {
		env := c.Env()
		require.Equal(t, "cos-agent", env.Relation)
		require.Equal(t, "cos-agent:0", env.RelationID)
		require.Equal(t, "grafana-agent/0", env.RemoteUnit)
		require.Equal(t, "grafana-agent", env.RemoteApp)
		require.Equal(t, "", env.DepartingUnit)

		ids, err := c.RelationIDs(ctx, "cos-agent")
		require.NoError(t, err)
		require.Equal(t, []string{"cos-agent:0"}, ids)
		none, err := c.RelationIDs(ctx, "other")
		require.NoError(t, err)
		require.Equal(t, []string{}, none)

		units, err := c.RelationUnits(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"grafana-agent/0"}, units)
		app, err := c.RelationApp(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "grafana-agent", app)

		remote, err := c.RelationGet(ctx, juju.RelationGetOptions{})
		require.NoError(t, err)
		require.Equal(t, "remote", remote["config"])
		v, ok, err := c.RelationValue(ctx, juju.RelationGetOptions{App: true}, "receivers")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "[]", v)
		_, ok, err = c.RelationValue(ctx, juju.RelationGetOptions{RelationID: id, Owner: "grafana-agent/0"}, "absent")
		require.NoError(t, err)
		require.False(t, ok)

		require.NoError(t, c.RelationSet(ctx, juju.RelationSetOptions{}, map[string]string{"config": big, "awkward": awkward}))
		require.NoError(t, c.RelationSet(ctx, juju.RelationSetOptions{RelationID: id, App: true}, map[string]string{"shared": "yes"}))
		mine, err := c.RelationGet(ctx, juju.RelationGetOptions{Owner: env.UnitName})
		require.NoError(t, err)
		require.Equal(t, big, mine["config"], "the hook sees its own writes")
		require.Equal(t, awkward, mine["awkward"])
		ownApp, err := c.RelationGet(ctx, juju.RelationGetOptions{App: true, Owner: env.AppName()})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"shared": "yes"}, ownApp)

		_, err = c.RelationGet(ctx, juju.RelationGetOptions{Owner: "grafana-agent/9"})
		require.ErrorIs(t, err, juju.ErrNotFound)
		_, err = c.RelationUnits(ctx, "cos-agent:42")
		require.ErrorIs(t, err, juju.ErrRelationNotFound)
		var te *juju.ToolError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 2, te.ExitCode)

		require.ErrorIs(t, c.RelationSet(ctx, juju.RelationSetOptions{}, map[string]string{"": "x"}), juju.ErrEmptyRelationKey)
		_, err = c.RelationIDs(ctx, "")
		require.ErrorIs(t, err, juju.ErrEmptyEndpoint)
		_, _, err = c.RelationValue(ctx, juju.RelationGetOptions{}, "-")
		require.ErrorIs(t, err, juju.ErrEmptyRelationKey)
		return nil
	})
	rel, err := s.Relation(id)
	require.NoError(t, err)
	require.Equal(t, big, rel.Unit["config"])
	require.Equal(t, awkward, rel.Unit["awkward"])
	require.Equal(t, map[string]string{"shared": "yes"}, rel.App)

	// Deleting with an empty value; a failing hook's writes are dropped.
	inRelation(t, s, hook, func(ctx context.Context, c *juju.Client) error {
		require.NoError(t, c.RelationSet(ctx, juju.RelationSetOptions{}, map[string]string{"config": ""}))
		return nil
	})
	inRelation(t, s, hook, func(ctx context.Context, c *juju.Client) error {
		require.NoError(t, c.RelationSet(ctx, juju.RelationSetOptions{}, map[string]string{"awkward": "changed"}))
		return errors.New("the hook fails")
	})
	rel, err = s.Relation(id)
	require.NoError(t, err)
	require.NotContains(t, rel.Unit, "config")
	require.Equal(t, awkward, rel.Unit["awkward"])
}

func TestRelationsNotLeader(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	id := relate(t, s)
	inRelation(t, s, jujutest.RelationHook{RelationID: id, Kind: jujutest.RelationCreated}, func(ctx context.Context, c *juju.Client) error {
		require.Equal(t, "", c.Env().RemoteUnit)
		err := c.RelationSet(ctx, juju.RelationSetOptions{App: true}, map[string]string{"token": "s3cret"})
		require.ErrorIs(t, err, juju.ErrNotLeader)
		require.NotContains(t, err.Error(), "s3cret")
		_, err = c.RelationGet(ctx, juju.RelationGetOptions{App: true, Owner: c.Env().AppName()})
		require.ErrorIs(t, err, juju.ErrPermissionDenied)
		return nil
	})
}

func TestRelationToolsOutsideARelationHook(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	id := relate(t, s)
	inContext(t, s, "hooks/update-status", nil, func(ctx context.Context, c *juju.Client) error {
		require.Equal(t, juju.Env{}.Relation, c.Env().Relation)
		_, err := c.RelationUnits(ctx, "")
		var te *juju.ToolError
		require.ErrorAs(t, err, &te)
		require.Equal(t, juju.ToolError{Tool: "relation-list", Args: []string{"--format=json"}, ExitCode: 2, Message: "no relation id specified"}, *te)
		units, err := c.RelationUnits(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []string{"grafana-agent/0"}, units)
		require.NoError(t, c.RelationSet(ctx, juju.RelationSetOptions{RelationID: id}, map[string]string{"k": "v"}))
		return nil
	})
	rel, err := s.Relation(id)
	require.NoError(t, err)
	require.Equal(t, "v", rel.Unit["k"])
}
