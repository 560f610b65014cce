package jujutest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// A dispatch that reports each relation hook's environment and what the
// relation tools show, one line per hook, and writes relation data.
const relationDispatch = `
case "$JUJU_HOOK_NAME" in
*-relation-*)
	echo "$JUJU_HOOK_NAME rel=$JUJU_RELATION id=$JUJU_RELATION_ID app=$JUJU_REMOTE_APP unit=$JUJU_REMOTE_UNIT departing=$JUJU_DEPARTING_UNIT units=$(relation-list --format=json) ids=$(relation-ids --format=json)"
	relation-set seen="$JUJU_HOOK_NAME"
	if [ "$(is-leader)" = True ]; then relation-set --app last="$JUJU_HOOK_NAME"; fi
	;;
esac
case "$JUJU_HOOK_NAME" in
cos-agent-relation-changed) [ -n "$JUJU_REMOTE_UNIT" ] && relation-set "from-$(echo $JUJU_REMOTE_UNIT | tr / -)=$(relation-get peer-key)" ;;
db-relation-changed) exit 7 ;;
esac
exit 0
`

func hookLines(t *testing.T, s *jujutest.Sim, from int) []string {
	t.Helper()
	var out []string
	for _, r := range s.Runs()[from:] {
		out = append(out, strings.TrimSpace(r.Stdout))
	}
	return out
}

func TestRelationLifecycleRunsJujusHooksInOrder(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, relationDispatch, jujutest.Options{Leader: true})

	id, err := s.Relate(ctx, jujutest.RelationOptions{
		Endpoint:      "cos-agent",
		RemoteApp:     "grafana-agent",
		RemoteAppData: map[string]string{"receivers": "[]"},
		RemoteUnits: map[string]map[string]string{
			"grafana-agent/1": {"peer-key": "one"},
			"grafana-agent/0": {"peer-key": "zero"},
		},
	})
	require.NoError(t, err)
	require.Equal(t, "cos-agent:0", id)
	require.Equal(t, []string{
		`cos-agent-relation-created rel=cos-agent id=cos-agent:0 app=grafana-agent unit= departing= units=[] ids=["cos-agent:0"]`,
		`cos-agent-relation-joined rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/0 departing= units=["grafana-agent/0"] ids=["cos-agent:0"]`,
		`cos-agent-relation-changed rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/0 departing= units=["grafana-agent/0"] ids=["cos-agent:0"]`,
		`cos-agent-relation-joined rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/1 departing= units=["grafana-agent/0","grafana-agent/1"] ids=["cos-agent:0"]`,
		`cos-agent-relation-changed rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/1 departing= units=["grafana-agent/0","grafana-agent/1"] ids=["cos-agent:0"]`,
		`cos-agent-relation-changed rel=cos-agent id=cos-agent:0 app=grafana-agent unit= departing= units=["grafana-agent/0","grafana-agent/1"] ids=["cos-agent:0"]`,
	}, hookLines(t, s, 0))

	rel, err := s.Relation(id)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"private-address": "10.0.0.10", "ingress-address": "10.0.0.10", "egress-subnets": "10.0.0.10/32",
		"seen": "cos-agent-relation-changed", "from-grafana-agent-0": "zero", "from-grafana-agent-1": "one",
	}, rel.Unit, "this unit's databag: Juju's address keys and the hooks' writes")
	require.Equal(t, map[string]string{"last": "cos-agent-relation-changed"}, rel.App)
	require.Equal(t, map[string]string{
		"peer-key": "zero", "private-address": "10.0.1.1", "ingress-address": "10.0.1.1", "egress-subnets": "10.0.1.1/32",
	}, rel.RemoteUnits["grafana-agent/0"])

	n := len(s.Runs())
	require.NoError(t, s.DepartUnit(ctx, id, "grafana-agent/1"))
	require.NoError(t, s.RemoveRelation(ctx, id))
	require.Equal(t, []string{
		`cos-agent-relation-departed rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/1 departing=grafana-agent/1 units=["grafana-agent/0"] ids=["cos-agent:0"]`,
		`cos-agent-relation-departed rel=cos-agent id=cos-agent:0 app=grafana-agent unit=grafana-agent/0 departing=grafana-agent/0 units=[] ids=["cos-agent:0"]`,
		`cos-agent-relation-broken rel=cos-agent id=cos-agent:0 app=grafana-agent unit= departing= units=[] ids=["cos-agent:0"]`,
	}, hookLines(t, s, n))
	require.Empty(t, s.Relations(), "the relation is gone once -broken has run")
	_, err = s.Relation(id)
	require.ErrorIs(t, err, jujutest.ErrNoRelation)

	// Relation ids count on: a new relation gets the next number.
	id2, err := s.Relate(ctx, jujutest.RelationOptions{Endpoint: "cos-agent", RemoteApp: "opentelemetry-collector"})
	require.NoError(t, err)
	require.Equal(t, "cos-agent:1", id2)
}

func TestRelationDataIsTransactional(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, relationDispatch, jujutest.Options{})
	id, err := s.AddRelation(jujutest.RelationOptions{Endpoint: "db", RemoteApp: "postgresql", RemoteUnits: map[string]map[string]string{"postgresql/0": {}}})
	require.NoError(t, err)
	require.Equal(t, "db:0", id)
	before, err := s.Relation(id)
	require.NoError(t, err)

	// db-relation-changed writes, then exits 7: nothing is kept, the unit is in error.
	err = s.SetRemoteUnitData(ctx, id, "postgresql/0", map[string]string{"password": "x"})
	var hf *jujutest.HookFailedError
	require.ErrorAs(t, err, &hf)
	require.Equal(t, "db-relation-changed", hf.Hook)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "db-relation-changed"`}, s.UnitStatus())
	after, err := s.Relation(id)
	require.NoError(t, err)
	require.Equal(t, before.Unit, after.Unit)
	require.Equal(t, map[string]string{"password": "x"}, after.RemoteUnits["postgresql/0"])

	// A hook that exits 0 keeps its writes; a non-leader has no app writes.
	_, err = s.RunRelationHook(ctx, jujutest.RelationHook{RelationID: id, Kind: jujutest.RelationJoined, RemoteUnit: "postgresql/0"})
	require.NoError(t, err)
	after, err = s.Relation(id)
	require.NoError(t, err)
	require.Equal(t, "db-relation-joined", after.Unit["seen"])
	require.Empty(t, after.App)
	require.Len(t, s.Snapshot().Relations, 1)
}

func TestRelationOptionsAreChecked(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, "", jujutest.Options{})
	for _, tc := range []struct {
		opts jujutest.RelationOptions
		err  string
	}{
		{jujutest.RelationOptions{Endpoint: "nope", RemoteApp: "x"}, `charm "testcharm" has no relation endpoint "nope"`},
		{jujutest.RelationOptions{Endpoint: "replicas", RemoteApp: "testcharm"}, "peer relations are not simulated"},
		{jujutest.RelationOptions{Endpoint: "db", RemoteApp: "Bad"}, `remote application name "Bad" is not valid`},
		{jujutest.RelationOptions{Endpoint: "db", RemoteApp: "pg", RemoteUnits: map[string]map[string]string{"other/0": nil}}, `remote unit "other/0" is not a unit of "pg"`},
	} {
		_, err := s.Relate(ctx, tc.opts)
		require.ErrorContains(t, err, tc.err)
	}
	_, err := s.AddRelation(jujutest.RelationOptions{Endpoint: "cos-agent", RemoteApp: "grafana-agent"})
	require.NoError(t, err)
	_, err = s.AddRelation(jujutest.RelationOptions{Endpoint: "cos-agent", RemoteApp: "opentelemetry-collector"})
	require.ErrorContains(t, err, "would exceed its maximum relation limit of 1")
	require.Empty(t, s.Runs(), "no hook ran")

	_, err = s.RunRelationHook(ctx, jujutest.RelationHook{RelationID: "cos-agent:0", Kind: jujutest.RelationJoined})
	require.ErrorContains(t, err, "needs a remote unit")
	_, err = s.RunRelationHook(ctx, jujutest.RelationHook{RelationID: "cos-agent:9", Kind: jujutest.RelationChanged})
	require.ErrorIs(t, err, jujutest.ErrNoRelation)
	_, err = s.RunRelationHook(ctx, jujutest.RelationHook{RelationID: "cos-agent:0", Kind: "relation-exploded"})
	require.ErrorContains(t, err, "not a relation hook kind")
}

// relationToolCase is one relation tool call in a relation hook's context.
type relationToolCase struct {
	name   string
	leader bool
	hook   *jujutest.RelationHook // nil: an update-status hook, not a relation hook
	before [][]string
	tool   string
	args   []string
	stdin  string
	code   int
	stdout string
	stderr string
	fail   bool
	check  func(t *testing.T, rel jujutest.RelationData)
}

func runRelationToolCases(t *testing.T, cases []relationToolCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := startSim(t, "", jujutest.Options{Leader: tc.leader})
			id, err := s.AddRelation(jujutest.RelationOptions{
				Endpoint: "cos-agent", RemoteApp: "grafana-agent",
				RemoteAppData: map[string]string{"receivers": `[{"protocol":{"name":"otlp_http","type":"http"},"url":"http://host:4318"}]`},
				RemoteUnits:   map[string]map[string]string{"grafana-agent/3": {"k": "remote", "private-address": "192.0.2.3"}},
			})
			require.NoError(t, err)
			_, err = s.AddRelation(jujutest.RelationOptions{Endpoint: "db", RemoteApp: "postgresql"})
			require.NoError(t, err)
			var got toolRun
			body := func(env []string) error {
				for _, call := range tc.before {
					res, err := runTool(ctx, s, env, "", call[0], call[1:]...)
					require.NoError(t, err)
					require.Equal(t, 0, res.code, "%v: %s", call, res.stderr)
				}
				var err error
				got, err = runTool(ctx, s, env, tc.stdin, tc.tool, tc.args...)
				require.NoError(t, err)
				if tc.fail {
					return errFail
				}
				return nil
			}
			if tc.hook != nil {
				_, err = s.InRelationContext(ctx, *tc.hook, body)
			} else {
				_, err = s.InContext(ctx, "hooks/update-status", nil, body)
			}
			require.NoError(t, err)
			require.Equal(t, tc.code, got.code, "exit status (stderr %q)", got.stderr)
			require.Equal(t, tc.stdout, got.stdout, "stdout")
			require.Equal(t, tc.stderr, got.stderr, "stderr")
			if tc.check != nil {
				rel, err := s.Relation(id)
				require.NoError(t, err)
				tc.check(t, rel)
			}
		})
	}
}

func TestRelationTools(t *testing.T) {
	changed := &jujutest.RelationHook{RelationID: "cos-agent:0", Kind: jujutest.RelationChanged, RemoteUnit: "grafana-agent/3"}
	appChanged := &jujutest.RelationHook{RelationID: "cos-agent:0", Kind: jujutest.RelationChanged}
	created := &jujutest.RelationHook{RelationID: "cos-agent:0", Kind: jujutest.RelationCreated}
	unitData := func(want map[string]string) func(t *testing.T, rel jujutest.RelationData) {
		return func(t *testing.T, rel jujutest.RelationData) {
			want["private-address"], want["ingress-address"], want["egress-subnets"] = "10.0.0.10", "10.0.0.10", "10.0.0.10/32"
			require.Equal(t, want, rel.Unit)
		}
	}
	runRelationToolCases(t, []relationToolCase{
		// relation-ids
		{name: "ids by name", tool: "relation-ids", args: []string{"cos-agent", "--format=json"}, stdout: `["cos-agent:0"]` + "\n"},
		{name: "ids default to the hook's endpoint", hook: changed, tool: "relation-ids", stdout: "cos-agent:0\n"},
		{name: "ids of an endpoint with none", tool: "relation-ids", args: []string{"--format=json", "nothing"}, stdout: "[]\n"},
		{name: "ids without a name outside a relation hook", tool: "relation-ids", code: 2, stderr: "ERROR no relation name specified\n"},
		{name: "ids extra args", tool: "relation-ids", args: []string{"a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},

		// relation-list
		{name: "list the hook's relation", hook: changed, tool: "relation-list", args: []string{"--format=json"}, stdout: `["grafana-agent/3"]` + "\n"},
		{name: "list, smart", hook: changed, tool: "relation-list", stdout: "grafana-agent/3\n"},
		{name: "list by -r", tool: "relation-list", args: []string{"-r", "cos-agent:0", "--format=json"}, stdout: `["grafana-agent/3"]` + "\n"},
		{name: "list by bare number", tool: "relation-list", args: []string{"-r", "1", "--format=json"}, stdout: "[]\n"},
		{name: "list the remote app", hook: changed, tool: "relation-list", args: []string{"--app"}, stdout: "grafana-agent\n"},
		{name: "list without a relation", tool: "relation-list", code: 2, stderr: "ERROR no relation id specified\n"},
		{name: "list an unknown relation", tool: "relation-list", args: []string{"-r", "cos-agent:7"}, code: 2,
			stderr: "ERROR invalid value \"cos-agent:7\" for flag -r: relation not found\n"},
		{name: "list a bad relation id", tool: "relation-list", args: []string{"-r", "cos-agent:x"}, code: 2,
			stderr: "ERROR invalid value \"cos-agent:x\" for flag -r: invalid relation id\n"},

		// relation-get
		{name: "get the remote unit's data", hook: changed, tool: "relation-get", args: []string{"--format=json"},
			stdout: `{"egress-subnets":"10.0.1.4/32","ingress-address":"10.0.1.4","k":"remote","private-address":"192.0.2.3"}` + "\n"},
		{name: "get one key", hook: changed, tool: "relation-get", args: []string{"k"}, stdout: "remote\n"},
		{name: "get a missing key", hook: changed, tool: "relation-get", args: []string{"--format=json", "nope"}, stdout: "null\n"},
		{name: "get a named unit with -r", tool: "relation-get", args: []string{"-r", "cos-agent:0", "--format=json", "k", "grafana-agent/3"}, stdout: "\"remote\"\n"},
		{name: "get the remote app's data", hook: changed, tool: "relation-get", args: []string{"--app", "--format=json", "receivers"},
			stdout: `"[{\"protocol\":{\"name\":\"otlp_http\",\"type\":\"http\"},\"url\":\"http://host:4318\"}]"` + "\n"},
		{name: "get app data by a unit name", tool: "relation-get", args: []string{"-r", "cos-agent:0", "--app", "--format=json", "-", "grafana-agent/3"},
			stdout: `{"receivers":"[{\"protocol\":{\"name\":\"otlp_http\",\"type\":\"http\"},\"url\":\"http://host:4318\"}]"}` + "\n"},
		{name: "an app-data -changed reads the app by default", hook: appChanged, tool: "relation-get", args: []string{"--format=json"},
			stdout: `{"receivers":"[{\"protocol\":{\"name\":\"otlp_http\",\"type\":\"http\"},\"url\":\"http://host:4318\"}]"}` + "\n"},
		{name: "get own data sees the hook's writes", hook: changed, before: [][]string{{"relation-set", "mine=1"}},
			tool: "relation-get", args: []string{"--format=json", "mine", "testcharm/0"}, stdout: "\"1\"\n"},
		{name: "get own app data by the leader", leader: true, hook: changed, before: [][]string{{"relation-set", "--app", "a=1"}},
			tool: "relation-get", args: []string{"--app", "--format=json", "-", "testcharm"}, stdout: `{"a":"1"}` + "\n"},
		{name: "get own app data by a non-leader", hook: changed, tool: "relation-get", args: []string{"--app", "-", "testcharm"},
			code: 1, stderr: "ERROR permission denied\n"},
		{name: "get a unit not in the relation", hook: changed, tool: "relation-get", args: []string{"-", "grafana-agent/9"}, code: 1,
			stderr: "ERROR cannot read settings for unit \"grafana-agent/9\" in relation \"grafana-agent:cos-agent testcharm:cos-agent\": unit \"grafana-agent/9\": settings not found\n"},
		{name: "-created reads the remote app by default", hook: created, tool: "relation-get", args: []string{"--format=json", "-"},
			stdout: `{"receivers":"[{\"protocol\":{\"name\":\"otlp_http\",\"type\":\"http\"},\"url\":\"http://host:4318\"}]"}` + "\n"},
		{name: "a missing key prints nothing, smart", hook: changed, tool: "relation-get", args: []string{"nope"}},
		{name: "get outside a relation hook without a unit", tool: "relation-get", args: []string{"-r", "cos-agent:0"}, code: 2,
			stderr: "ERROR no unit or application specified\n"},
		{name: "get extra args", hook: changed, tool: "relation-get", args: []string{"k", "grafana-agent/3", "x"}, code: 2,
			stderr: "ERROR unrecognized args: [\"x\"]\n"},

		// relation-set
		{name: "set and delete", hook: changed, before: [][]string{{"relation-set", "a=1", "b=2"}}, tool: "relation-set", args: []string{"a=", "c=x=y"},
			check: unitData(map[string]string{"b": "2", "c": "x=y"})},
		{name: "set by -r outside a relation hook", tool: "relation-set", args: []string{"-r", "cos-agent:0", "k=v"},
			check: unitData(map[string]string{"k": "v"})},
		{name: "set from a YAML file on stdin keeps every byte", hook: changed, tool: "relation-set", args: []string{"--file", "-", "b=arg wins"},
			stdin: `{"config":"{\"dashboards\": [\"/Td6WFoAAATm\"]}\nline two","b":"file","yes":"yes"}`,
			check: unitData(map[string]string{"config": "{\"dashboards\": [\"/Td6WFoAAATm\"]}\nline two", "b": "arg wins", "yes": "yes"})},
		{name: "set is dropped when the hook fails", hook: changed, tool: "relation-set", args: []string{"k=v"}, fail: true,
			check: unitData(map[string]string{})},
		{name: "set app data by the leader", leader: true, hook: changed, tool: "relation-set", args: []string{"--app", "k=v"},
			check: func(t *testing.T, rel jujutest.RelationData) { require.Equal(t, map[string]string{"k": "v"}, rel.App) }},
		{name: "set app data by a non-leader", hook: changed, tool: "relation-set", args: []string{"--app", "k=v"},
			code: 1, stderr: "ERROR cannot write relation settings\n",
			check: func(t *testing.T, rel jujutest.RelationData) { require.Empty(t, rel.App) }},
		{name: "set without =", hook: changed, tool: "relation-set", args: []string{"k"}, code: 2, stderr: "ERROR expected \"key=value\", got \"k\"\n"},
		{name: "set a key twice", hook: changed, tool: "relation-set", args: []string{"a=1", "a=2"}, code: 2, stderr: "ERROR key \"a\" specified more than once\n"},
		{name: "set without a relation", tool: "relation-set", args: []string{"a=1"}, code: 2, stderr: "ERROR no relation id specified\n"},
	})
}

func TestActionGetPrintsAnEmptyMapWithoutParams(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, `action-set json="$(action-get --format=json)" smart="$(action-get)" yaml="$(action-get --format=yaml)"`, jujutest.Options{})
	for _, run := range []func() (map[string]any, error){
		func() (map[string]any, error) { // through the controller: an action with no params
			res, err := s.RunAction(ctx, "fail", nil)
			return res.Results, err
		},
		func() (map[string]any, error) { // below it, params nil
			r, err := s.Dispatch(ctx, "actions/fail", nil)
			return r.Action.Results, err
		},
	} {
		res, err := run()
		require.NoError(t, err)
		require.Equal(t, "{}", res["json"])
		require.Equal(t, "{}", res["smart"])
		require.Equal(t, "{}", res["yaml"])
	}
}
