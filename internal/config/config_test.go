package config_test

import (
	"encoding/json"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	githubrunner "charm.example/github-runner"
	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/pool"
)

const schemaYAML = `options:
  name:
    type: string
    default: "web"
    description: |
      The name. Longer text follows.
  count:
    type: int
    default: 2
    description: How many.
  ratio:
    type: float
    description: A ratio.
  enabled:
    type: boolean
    default: true
    description: Whether it is on.
  secret-ref:
    type: secret
    description: A secret.
`

type small struct {
	Name    string  `option:"name"`
	Count   int     `option:"count"`
	Ratio   float64 `option:"ratio"`
	Enabled bool    `option:"enabled"`
	Secret  string  `option:"secret-ref"`
}

func parse(t *testing.T, data string) *config.Schema {
	t.Helper()
	s, err := config.ParseSchema([]byte(data))
	require.NoError(t, err)
	return s
}

func TestParseSchema(t *testing.T) {
	s := parse(t, schemaYAML)
	require.Len(t, s.Options, 5)
	require.Equal(t, "count", s.Options[0].Name) // sorted
	o, ok := s.Lookup("name")
	require.True(t, ok)
	require.Equal(t, config.String, o.Type)
	require.Equal(t, "web", o.Default)
	require.Equal(t, "The name", o.Summary())
	require.Equal(t, map[string]any{"name": "web", "count": 2, "enabled": true}, s.Defaults())

	for _, bad := range []string{"", "options:\n  x:\n    type: integer\n", "options:\n  x:\n    type: int\n    default: seven\n"} {
		_, err := config.ParseSchema([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestDecode(t *testing.T) {
	s := parse(t, schemaYAML)
	var v small
	problems, err := s.Decode(map[string]any{"count": json.Number("7"), "ratio": "0.5", "enabled": false}, &v)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, small{Name: "web", Count: 7, Ratio: 0.5, Enabled: false}, v)

	problems, err = s.Decode(map[string]any{"count": "seven", "enabled": "maybe", "name": 3, "nope": 1}, &v)
	require.NoError(t, err)
	require.Equal(t, []config.Problem{
		{Option: "count", Text: `count "seven": want a whole number`},
		{Option: "enabled", Text: `enabled "maybe": want true or false`},
		{Option: "name", Text: "name: want a string"},
		{Option: "nope", Text: "nope: no such option"},
	}, problems)
	require.Equal(t, 2, v.Count, "a bad value leaves the default")

	// A struct that does not match the schema is a programming error.
	var missing struct {
		Name string `option:"name"`
	}
	_, err = s.Decode(nil, &missing)
	require.ErrorContains(t, err, `option "count" of config.yaml has no field`)
	var wrongKind struct {
		small
		Extra int `option:"name"`
	}
	require.Error(t, s.Check(&wrongKind))
}

// An option added to config.yaml and to the struct, and nowhere else,
// becomes a flag with an environment variable, and its values are checked.
func TestAddedOptionReachesFlagsAndValidation(t *testing.T) {
	data := string(githubrunner.ConfigYAML()) + `  spare-knob:
    type: int
    default: 3
    description: A knob added for this test. It exists nowhere else.
`
	s := parse(t, data)
	type extended struct {
		pool.Settings
		SpareKnob int `option:"spare-knob"`
	}
	require.NoError(t, s.Check(&extended{}))

	run := func(args []string, env map[string]string) (extended, []config.Problem) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		values := s.AddFlags(fs, func(k string) string { return env[k] }, "GITHUB_RUNNER_", "token")
		require.NoError(t, fs.Parse(args))
		var v extended
		problems, err := s.Decode(values, &v)
		require.NoError(t, err)
		return v, problems
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	s.AddFlags(fs, func(string) string { return "" }, "GITHUB_RUNNER_")
	fl := fs.Lookup("spare-knob")
	require.NotNil(t, fl)
	require.Equal(t, "A knob added for this test (env GITHUB_RUNNER_SPARE_KNOB, default 3)", fl.Usage)

	v, problems := run(nil, nil)
	require.Empty(t, problems)
	require.Equal(t, 3, v.SpareKnob)
	require.Equal(t, 1, v.VirtualMachines)
	v, problems = run([]string{"--spare-knob", "9"}, nil)
	require.Empty(t, problems)
	require.Equal(t, 9, v.SpareKnob)
	v, problems = run(nil, map[string]string{"GITHUB_RUNNER_SPARE_KNOB": "5"})
	require.Empty(t, problems)
	require.Equal(t, 5, v.SpareKnob)
	_, problems = run([]string{"--spare-knob", "lots"}, nil)
	require.Equal(t, []config.Problem{{Option: "spare-knob", Text: `spare-knob "lots": want a whole number`}}, problems)
}

func TestBooleanFlag(t *testing.T) {
	s := parse(t, schemaYAML)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	values := s.AddFlags(fs, func(string) string { return "" }, "X_")
	require.NoError(t, fs.Parse([]string{"--enabled=false"}))
	var v small
	problems, err := s.Decode(values, &v)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.False(t, v.Enabled)
}

func TestErrorMessage(t *testing.T) {
	e := &config.Error{Problems: []config.Problem{{Option: "a", Text: "a: bad"}, {Option: "b", Text: "b: worse"}}}
	require.Equal(t, "a: bad; b: worse", e.Error())
	require.Equal(t, []string{"a", "b"}, e.Options())
	require.True(t, config.HasProblem(e, "b"))
	require.False(t, config.HasProblem(e, "c"))
}
