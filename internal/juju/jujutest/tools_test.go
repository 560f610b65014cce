package jujutest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

type toolCase struct {
	name   string
	path   string         // JUJU_DISPATCH_PATH of the context; default hooks/update-status
	params map[string]any // action params, as given
	opts   jujutest.Options
	setup  func(t *testing.T, s *jujutest.Sim)
	before [][]string // tool calls run first in the same context; each must exit 0
	tool   string
	args   []string
	stdin  string
	code   int
	stdout string
	stderr string
	fail   bool // the context ends as a failure (exit status 1)
	check  func(t *testing.T, s *jujutest.Sim, r jujutest.Run)
}

func runToolCases(t *testing.T, cases []toolCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := startSim(t, "", tc.opts)
			if tc.setup != nil {
				tc.setup(t, s)
			}
			path := tc.path
			if path == "" {
				path = "hooks/update-status"
			}
			var got toolRun
			r, err := s.InContext(ctx, path, tc.params, func(env []string) error {
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
			})
			require.NoError(t, err)
			require.Equal(t, tc.code, got.code, "exit status (stderr %q)", got.stderr)
			require.Equal(t, tc.stdout, got.stdout, "stdout")
			require.Equal(t, tc.stderr, got.stderr, "stderr")
			if tc.check != nil {
				tc.check(t, s, r)
			}
		})
	}
}

type failErr struct{}

func (failErr) Error() string { return "the test made the hook fail" }

var errFail = failErr{}

func TestConfigGet(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "all set or defaulted, json", tool: "config-get", args: []string{"--format=json"},
			stdout: `{"count":3,"enabled":false,"name":"x","ratio":1.5}` + "\n"},
		{name: "--all includes unset options as null", tool: "config-get", args: []string{"--all", "--format", "json"},
			stdout: `{"count":3,"enabled":false,"name":"x","nodefault":null,"ratio":1.5}` + "\n"},
		{name: "one key", tool: "config-get", args: []string{"count", "--format=json"}, stdout: "3\n"},
		{name: "one key, smart", tool: "config-get", args: []string{"name"}, stdout: "x\n"},
		{name: "boolean, smart", tool: "config-get", args: []string{"enabled"}, stdout: "False\n"},
		{name: "unknown key is null", tool: "config-get", args: []string{"--format=json", "no-such-key"}, stdout: "null\n"},
		{name: "unset key is null", tool: "config-get", args: []string{"--format=json", "nodefault"}, stdout: "null\n"},
		{name: "set values overlay defaults",
			setup: func(t *testing.T, s *jujutest.Sim) {
				require.NoError(t, s.SetConfig(map[string]any{"count": "7", "nodefault": "v", "ratio": 2}))
			},
			tool: "config-get", args: []string{"--format=json"},
			stdout: `{"count":7,"enabled":false,"name":"x","nodefault":"v","ratio":2}` + "\n"},
		{name: "yaml", tool: "config-get", args: []string{"--format=yaml", "name"}, stdout: "x\n"},
		{name: "--all with a key", tool: "config-get", args: []string{"--all", "count"},
			code: 2, stderr: "ERROR cannot use argument --all together with key \"count\"\n"},
		{name: "extra args", tool: "config-get", args: []string{"count", "name", "x"},
			code: 2, stderr: "ERROR unrecognized args: [\"name\" \"x\"]\n"},
		{name: "unknown flag", tool: "config-get", args: []string{"--bogus"},
			code: 2, stderr: "ERROR flag provided but not defined: --bogus\n"},
		{name: "unknown format", tool: "config-get", args: []string{"--format=xml"},
			code: 2, stderr: "ERROR invalid value \"xml\" for flag --format: unknown format \"xml\"\n"},
		{name: "flag without its value", tool: "config-get", args: []string{"--format"},
			code: 2, stderr: "ERROR flag needs an argument: --format\n"},
	})
}

func TestStatusTools(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "set", tool: "status-set", args: []string{"active", "ready"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, jujutest.Status{Status: "active", Message: "ready"}, s.UnitStatus())
			}},
		{name: "set without message", tool: "status-set", args: []string{"waiting"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, jujutest.Status{Status: "waiting"}, s.UnitStatus())
			}},
		{name: "error is not settable", tool: "status-set", args: []string{"error", "boom"},
			code: 2, stderr: "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n"},
		{name: "unknown is not settable", tool: "status-set", args: []string{"unknown"},
			code: 2, stderr: "ERROR invalid status \"unknown\", expected one of [maintenance blocked waiting active]\n"},
		{name: "no status", tool: "status-set",
			code: 2, stderr: "ERROR invalid args, require <status> [message]\n"},
		{name: "extra args", tool: "status-set", args: []string{"active", "a", "b"},
			code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
		{name: "application status by a non-leader", tool: "status-set", args: []string{"--application", "active", "x"},
			code: 1, stderr: "ERROR this unit is not the leader\n"},
		{name: "application status by the leader", opts: jujutest.Options{Leader: true},
			tool: "status-set", args: []string{"--application", "blocked", "need config"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, jujutest.Status{Status: "blocked", Message: "need config"}, s.ApplicationStatus())
				h := s.StatusHistory()
				require.Equal(t, "application", h[len(h)-1].Target)
			}},
		{name: "get, smart", before: [][]string{{"status-set", "blocked", "m"}}, tool: "status-get", stdout: "blocked\n"},
		{name: "get json", before: [][]string{{"status-set", "blocked", "m"}},
			tool: "status-get", args: []string{"--format=json"}, stdout: `{"status":"blocked"}` + "\n"},
		{name: "get with data", before: [][]string{{"status-set", "blocked", "m"}},
			tool: "status-get", args: []string{"--include-data", "--format=json"},
			stdout: `{"message":"m","status":"blocked","status-data":{}}` + "\n"},
		{name: "get application by the leader", opts: jujutest.Options{Leader: true, Unit: "app/3"},
			before: [][]string{{"status-set", "active", "u"}, {"status-set", "--application", "waiting", "a"}},
			tool:   "status-get", args: []string{"--application", "--include-data", "--format=json"},
			stdout: `{"application-status":{"message":"a","status":"waiting","status-data":{},"units":{"app/3":{"message":"u","status":"active","status-data":{}}}}}` + "\n"},
		{name: "get application by a non-leader", tool: "status-get", args: []string{"--application"},
			code: 1, stderr: "ERROR finding application status: this unit is not the leader\n"},
		{name: "get extra args", tool: "status-get", args: []string{"x"},
			code: 2, stderr: "ERROR unrecognized args: [\"x\"]\n"},
	})
}

func TestApplicationVersionSet(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "set", tool: "application-version-set", args: []string{"2.319.1"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, "2.319.1", s.WorkloadVersion())
			}},
		{name: "kept when the hook fails", tool: "application-version-set", args: []string{"1.0"}, fail: true,
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, "1.0", s.WorkloadVersion())
			}},
		{name: "no version", tool: "application-version-set", code: 2, stderr: "ERROR no version specified\n"},
		{name: "extra args", tool: "application-version-set", args: []string{"1", "2"},
			code: 2, stderr: "ERROR unrecognized args: [\"2\"]\n"},
	})
}

func lastLog(t *testing.T, s *jujutest.Sim) jujutest.LogLine {
	t.Helper()
	logs := s.Logs()
	require.NotEmpty(t, logs)
	return logs[len(logs)-1]
}

func TestJujuLog(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "default level is INFO and words are joined", tool: "juju-log", args: []string{"hello", "world"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, jujutest.LogLine{Level: "INFO", Message: "hello world", Context: "hooks/update-status"}, lastLog(t, s))
			}},
		{name: "level and --", tool: "juju-log", args: []string{"--log-level", "WARNING", "--", "-x is not a flag"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, jujutest.LogLine{Level: "WARNING", Message: "-x is not a flag", Context: "hooks/update-status"}, lastLog(t, s))
			}},
		{name: "short level flag, any case", tool: "juju-log", args: []string{"-l", "error", "bad"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, "ERROR", lastLog(t, s).Level)
			}},
		{name: "--debug", tool: "juju-log", args: []string{"--debug", "x"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, "DEBUG", lastLog(t, s).Level)
			}},
		{name: "unknown level logs at INFO after a warning", tool: "juju-log", args: []string{"--log-level=LOUD", "m"},
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				logs := s.Logs()
				require.Equal(t, []jujutest.LogLine{
					{Level: "WARNING", Message: `Specified log level of "LOUD" is not valid`, Context: "hooks/update-status"},
					{Level: "INFO", Message: "m", Context: "hooks/update-status"},
				}, logs[len(logs)-2:])
			}},
		{name: "kept when the hook fails", tool: "juju-log", args: []string{"before failing"}, fail: true,
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Contains(t, s.Logs(), jujutest.LogLine{Level: "INFO", Message: "before failing", Context: "hooks/update-status"})
				require.Equal(t, jujutest.LogLine{Level: "WARNING", Message: "the test made the hook fail", Context: "hooks/update-status"}, lastLog(t, s))
			}},
		{name: "no message", tool: "juju-log", code: 2, stderr: "ERROR no message specified\n"},
		{name: "no message after flags", tool: "juju-log", args: []string{"-l", "INFO"}, code: 2, stderr: "ERROR no message specified\n"},
	})
}

func TestActionTools(t *testing.T) {
	params := map[string]any{"who": "you", "deep": map[string]any{"er": map[string]any{"key": 1}}}
	action := "actions/greet"
	results := func(want map[string]any) func(t *testing.T, s *jujutest.Sim, r jujutest.Run) {
		return func(t *testing.T, s *jujutest.Sim, r jujutest.Run) {
			require.NotNil(t, r.Action)
			want["return-code"] = 0
			require.Equal(t, want, r.Action.Results)
		}
	}
	runToolCases(t, []toolCase{
		{name: "get all", path: action, params: params, tool: "action-get", args: []string{"--format=json"},
			stdout: `{"deep":{"er":{"key":1}},"who":"you"}` + "\n"},
		{name: "get nested key", path: action, params: params, tool: "action-get", args: []string{"deep.er.key", "--format=json"}, stdout: "1\n"},
		{name: "get key, smart", path: action, params: params, tool: "action-get", args: []string{"who"}, stdout: "you\n"},
		{name: "get missing key", path: action, params: params, tool: "action-get", args: []string{"--format=json", "deep.nope"}, stdout: "null\n"},
		{name: "get through a scalar", path: action, params: params, tool: "action-get", args: []string{"--format=json", "who.x"}, stdout: "null\n"},
		{name: "get with no params", path: action, tool: "action-get", args: []string{"--format=json"}, stdout: "{}\n"},
		{name: "get outside an action", tool: "action-get", code: 1, stderr: "ERROR not running an action\n"},
		{name: "get extra args", path: action, tool: "action-get", args: []string{"a", "b"},
			code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},

		{name: "set nests and merges", path: action,
			before: [][]string{{"action-set", "outfile.size=10G", "foo.bar=2"}},
			tool:   "action-set", args: []string{"foo.baz=1", "x=a=b", "empty=", "spaced= a b "},
			check: results(map[string]any{
				"outfile": map[string]any{"size": "10G"},
				"foo":     map[string]any{"bar": "2", "baz": "1"},
				"x":       "a=b", "empty": "", "spaced": " a b ",
			})},
		{name: "set replaces a value by a map", path: action,
			before: [][]string{{"action-set", "a=1"}}, tool: "action-set", args: []string{"a.b=2"},
			check: results(map[string]any{"a": map[string]any{"b": "2"}})},
		{name: "set reserved key", path: action, tool: "action-set", args: []string{"ok=1", "stdout=x"},
			code: 2, stderr: "ERROR cannot set reserved action key \"stdout\"\n",
			check: results(map[string]any{})},
		{name: "set reserved nested key", path: action, tool: "action-set", args: []string{"a.stderr-encoding=x"},
			code: 2, stderr: "ERROR cannot set reserved action key \"stderr-encoding\"\n"},
		{name: "set upper-case key", path: action, tool: "action-set", args: []string{"Foo=1"},
			code: 2, stderr: "ERROR key \"Foo\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n"},
		{name: "set key ending with a hyphen", path: action, tool: "action-set", args: []string{"foo-=1"},
			code: 2, stderr: "ERROR key \"foo-\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n"},
		{name: "set empty key segment", path: action, tool: "action-set", args: []string{"a..b=1"},
			code: 2, stderr: "ERROR key \"\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n"},
		{name: "set without =", path: action, tool: "action-set", args: []string{"result"},
			code: 2, stderr: "ERROR argument \"result\" must be of the form key...=value\n"},
		{name: "set outside an action", tool: "action-set", args: []string{"a=1"}, code: 1, stderr: "ERROR not running an action\n"},
		{name: "set nothing outside an action", tool: "action-set"},

		{name: "fail with message", path: action, tool: "action-fail", args: []string{"it broke"},
			check: func(t *testing.T, s *jujutest.Sim, r jujutest.Run) {
				require.Equal(t, "failed", r.Action.Status)
				require.Equal(t, "it broke", r.Action.Message)
			}},
		{name: "fail without message, last call wins", path: action, before: [][]string{{"action-fail", "first"}}, tool: "action-fail",
			check: func(t *testing.T, s *jujutest.Sim, r jujutest.Run) {
				require.Equal(t, "failed", r.Action.Status)
				require.Equal(t, "action failed without reason given, check action for errors", r.Action.Message)
			}},
		{name: "fail extra args", path: action, tool: "action-fail", args: []string{"a", "b"},
			code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
		{name: "fail outside an action", tool: "action-fail", args: []string{"x"}, code: 1, stderr: "ERROR not running an action\n"},

		{name: "log", path: action, before: [][]string{{"action-log", "one"}}, tool: "action-log", args: []string{"two", "words"},
			check: func(t *testing.T, s *jujutest.Sim, r jujutest.Run) {
				require.Equal(t, []string{"one", "two words"}, r.Action.Logs)
				require.Equal(t, "completed", r.Action.Status)
			}},
		{name: "log without message", path: action, tool: "action-log", code: 2, stderr: "ERROR no message specified\n"},
		{name: "log outside an action", tool: "action-log", args: []string{"x"}, code: 1, stderr: "ERROR not running an action\n"},
	})
}

func TestIsLeader(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "leader json", opts: jujutest.Options{Leader: true}, tool: "is-leader", args: []string{"--format=json"}, stdout: "true\n"},
		{name: "follower json", tool: "is-leader", args: []string{"--format=json"}, stdout: "false\n"},
		{name: "leader smart", opts: jujutest.Options{Leader: true}, tool: "is-leader", stdout: "True\n"},
		{name: "follower smart", tool: "is-leader", stdout: "False\n"},
		{name: "extra args", tool: "is-leader", args: []string{"x"}, code: 2, stderr: "ERROR unrecognized args: [\"x\"]\n"},
	})
}

func TestStateTools(t *testing.T) {
	seeded := func(t *testing.T, s *jujutest.Sim) { s.SetState(map[string]string{"k": "v", "other": "o"}) }
	state := func(want map[string]string) func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
		return func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) { require.Equal(t, want, s.State()) }
	}
	runToolCases(t, []toolCase{
		{name: "get key", setup: seeded, tool: "state-get", args: []string{"k"}, stdout: "v\n"},
		{name: "get all, json", setup: seeded, tool: "state-get", args: []string{"--format=json"}, stdout: `{"k":"v","other":"o"}` + "\n"},
		{name: "get all with -", setup: seeded, tool: "state-get", args: []string{"-", "--format=json"}, stdout: `{"k":"v","other":"o"}` + "\n"},
		{name: "get empty state", tool: "state-get", args: []string{"--format=json"}, stdout: "{}\n"},
		{name: "get missing key", tool: "state-get", args: []string{"--format=json", "nope"}, stdout: "\"\"\n"},
		{name: "get missing key, strict", tool: "state-get", args: []string{"--strict", "nope"}, code: 1, stderr: "ERROR \"nope\" not found\n"},
		{name: "get extra args", tool: "state-get", args: []string{"a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
		{name: "the hook sees its own writes", before: [][]string{{"state-set", "new=1"}}, tool: "state-get", args: []string{"new"}, stdout: "1\n"},
		{name: "set is kept when the hook succeeds", setup: seeded, tool: "state-set", args: []string{"k=changed", "n=x=y"},
			check: state(map[string]string{"k": "changed", "other": "o", "n": "x=y"})},
		{name: "set is dropped when the hook fails", setup: seeded, tool: "state-set", args: []string{"k=changed"}, fail: true,
			check: state(map[string]string{"k": "v", "other": "o"})},
		{name: "set trims key=value arguments", tool: "state-set", args: []string{" k = spaced \n"},
			check: state(map[string]string{"k": "spaced"})},
		{name: "set from a YAML file on stdin keeps every byte", tool: "state-set", args: []string{"--file", "-", "b=arg wins"},
			stdin: `{"a":" lead\nnew=line ","b":"file","c":"yes","d":"null"}`,
			check: state(map[string]string{"a": " lead\nnew=line ", "b": "arg wins", "c": "yes", "d": "null"})},
		{name: "set without =", tool: "state-set", args: []string{"k"}, code: 2, stderr: "ERROR expected \"key=value\", got \"k\"\n"},
		{name: "set empty key", tool: "state-set", args: []string{"=v"}, code: 2, stderr: "ERROR expected \"key=value\", got \"=v\"\n"},
		{name: "set key twice", tool: "state-set", args: []string{"a=1", "a=2"}, code: 2, stderr: "ERROR key \"a\" specified more than once\n"},
		{name: "set too long a key", tool: "state-set", args: []string{strings.Repeat("k", 257) + "=v"}, code: 1,
			stderr: "ERROR max allowed key length (256) exceeded\n"},
		{name: "set too long a value", tool: "state-set", args: []string{"k=" + strings.Repeat("v", 64*1024+1)}, code: 1,
			stderr: "ERROR max allowed value length (65536) exceeded\n"},
		{name: "delete", setup: seeded, tool: "state-delete", args: []string{"k"}, check: state(map[string]string{"other": "o"})},
		{name: "delete missing key", setup: seeded, tool: "state-delete", args: []string{"nope"}, check: state(map[string]string{"k": "v", "other": "o"})},
		{name: "delete dropped when the hook fails", setup: seeded, tool: "state-delete", args: []string{"k"}, fail: true,
			check: state(map[string]string{"k": "v", "other": "o"})},
		{name: "delete extra args", tool: "state-delete", args: []string{"a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
	})
}

func TestSecretGet(t *testing.T) {
	var granted, notGranted string
	setup := func(t *testing.T, s *jujutest.Sim) {
		granted = s.AddSecret(map[string]string{"token": "ghp_x", "other": "o"}, jujutest.SecretOptions{Granted: true, Label: "gh"})
		notGranted = s.AddSecret(map[string]string{"token": "hidden"}, jujutest.SecretOptions{})
	}
	// The URIs exist only once setup ran: resolve them in args lazily.
	cases := []toolCase{
		{name: "content as json", tool: "secret-get", args: []string{"{granted}", "--format=json"}, stdout: `{"other":"o","token":"ghp_x"}` + "\n"},
		{name: "one key", tool: "secret-get", args: []string{"{granted}", "token", "--format=json"}, stdout: "\"ghp_x\"\n"},
		{name: "one key, base64", tool: "secret-get", args: []string{"{granted}", "token#base64", "--format=json"}, stdout: "\"Z2hwX3g=\"\n"},
		{name: "default format is yaml", tool: "secret-get", args: []string{"{granted}"}, stdout: "other: o\ntoken: ghp_x\n"},
		{name: "by label", tool: "secret-get", args: []string{"--label", "gh", "--format=json"}, stdout: `{"other":"o","token":"ghp_x"}` + "\n"},
		{name: "the first argument is always the URI", tool: "secret-get", args: []string{"--label", "gh", "token"}, code: 2, stderr: "ERROR secret URI \"token\" not valid\n"},
		{name: "missing key", tool: "secret-get", args: []string{"{granted}", "nope"}, code: 1, stderr: "ERROR secret key \"nope\" not found\n"},
		{name: "not granted", tool: "secret-get", args: []string{"{notGranted}"}, code: 1, stderr: "ERROR permission denied\n"},
		{name: "not found", tool: "secret-get", args: []string{"secret:aaaaaaaaaaaaaaaaaaaa"}, code: 1, stderr: "ERROR secret \"aaaaaaaaaaaaaaaaaaaa\" not found\n"},
		{name: "bad URI", tool: "secret-get", args: []string{"foo"}, code: 2, stderr: "ERROR secret URI \"foo\" not valid\n"},
		{name: "no URI", tool: "secret-get", code: 2, stderr: "ERROR require either a secret URI or label\n"},
		{name: "extra args", tool: "secret-get", args: []string{"{granted}", "a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
	}
	for i := range cases {
		orig := cases[i].args
		cases[i].setup = func(t *testing.T, s *jujutest.Sim) {
			setup(t, s)
			for j, a := range orig {
				orig[j] = strings.NewReplacer("{granted}", granted, "{notGranted}", notGranted).Replace(a)
			}
		}
	}
	// Cases share granted/notGranted: run them one after another.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			s := startSim(t, "", tc.opts)
			tc.setup(t, s)
			_, err := s.InContext(ctx, "hooks/config-changed", nil, func(env []string) error {
				got, err := runTool(ctx, s, env, "", tc.tool, tc.args...)
				require.NoError(t, err)
				require.Equal(t, tc.code, got.code, got.stderr)
				require.Equal(t, tc.stdout, got.stdout)
				require.Equal(t, tc.stderr, got.stderr)
				return nil
			})
			require.NoError(t, err)
		})
	}
}

func TestPortsAndUnitGet(t *testing.T) {
	runToolCases(t, []toolCase{
		{name: "open and list", before: [][]string{{"open-port", "80"}, {"open-port", "8000-8010/udp"}, {"open-port", "icmp"}},
			tool: "opened-ports", stdout: "80/tcp\n8000-8010/udp\nicmp\n",
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) {
				require.Equal(t, []string{"80/tcp", "8000-8010/udp", "icmp"}, s.OpenedPorts())
			}},
		{name: "close", before: [][]string{{"open-port", "80"}, {"open-port", "443"}, {"close-port", "80/tcp"}},
			tool: "opened-ports", args: []string{"--format=json"}, stdout: `["443/tcp"]` + "\n"},
		{name: "dropped when the hook fails", tool: "open-port", args: []string{"80"}, fail: true,
			check: func(t *testing.T, s *jujutest.Sim, _ jujutest.Run) { require.Empty(t, s.OpenedPorts()) }},
		{name: "bad port", tool: "open-port", args: []string{"http"}, code: 2,
			stderr: "ERROR expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got \"http\"\n"},
		{name: "private address", opts: jujutest.Options{PrivateAddress: "192.0.2.7"}, tool: "unit-get", args: []string{"private-address"}, stdout: "192.0.2.7\n"},
		{name: "unknown setting", tool: "unit-get", args: []string{"colour"}, code: 2, stderr: "ERROR unknown setting \"colour\"\n"},
		{name: "no setting", tool: "unit-get", code: 2, stderr: "ERROR no setting specified\n"},
	})
}
