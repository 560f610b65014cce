package jujutest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v2"
)

// A flag a tool accepts. Like Juju's gnuflag, long names take two dashes,
// one-letter names one; flags and positional arguments may be mixed, and
// `--` ends the flags.
type flagSpec struct {
	names  []string // first is canonical
	isBool bool
}

// cmdLine is a parsed tool command line.
type cmdLine struct {
	pos   []string
	bools map[string]bool
	strs  map[string]string
}

func (c *cmdLine) flag(name string) bool { return c.bools[name] }

func (c *cmdLine) str(name string) (string, bool) {
	v, ok := c.strs[name]
	return v, ok
}

func (c *cmdLine) format(def string) string {
	if f, ok := c.strs["format"]; ok {
		return f
	}
	return def
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseArgs reads args against specs, gnuflag-style: `--name`, `--name=v`
// or `--name v` for long names; `-x`, `-x=v`, `-x v`, `-xv` or a run of
// one-letter booleans (`-ab`) for short ones.
func parseArgs(specs []flagSpec, args []string) (*cmdLine, error) {
	c := &cmdLine{bools: map[string]bool{}, strs: map[string]string{}}
	lookup := func(name string) (flagSpec, bool) {
		for _, s := range specs {
			if slices.Contains(s.names, name) {
				return s, true
			}
		}
		return flagSpec{}, false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			c.pos = append(c.pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			c.pos = append(c.pos, a)
			continue
		}
		dashes, body := "-", a[1:]
		if strings.HasPrefix(a, "--") {
			dashes, body = "--", a[2:]
		}
		name, value, hasValue := strings.Cut(body, "=")
		if dashes == "-" && len(name) > 1 {
			spec, ok := lookup(name[:1])
			switch {
			case !ok:
				return nil, usagef("flag provided but not defined: -%s", name[:1])
			case !spec.isBool:
				// -lDEBUG: the rest of the word is the value.
				name, value, hasValue = name[:1], body[1:], true
			default:
				for _, ch := range body {
					s, ok := lookup(string(ch))
					if !ok || !s.isBool {
						return nil, usagef("flag provided but not defined: -%c", ch)
					}
					c.bools[s.names[0]] = true
				}
				continue
			}
		}
		spec, ok := lookup(name)
		if !ok || (dashes == "--") != (len(name) > 1) {
			return nil, usagef("flag provided but not defined: %s%s", dashes, name)
		}
		if spec.isBool {
			v := true
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return nil, usagef("invalid value %q for flag %s%s: parse error", value, dashes, name)
				}
				v = b
			}
			c.bools[spec.names[0]] = v
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usagef("flag needs an argument: %s%s", dashes, name)
			}
			i++
			value = args[i]
		}
		c.strs[spec.names[0]] = value
	}
	return c, nil
}

// formatFlag is the `--format` flag of tools that print values.
var formatFlag = flagSpec{names: []string{"format"}}

// checkFormat refuses a format the tool does not have.
func checkFormat(c *cmdLine, def string, allowed ...string) error {
	f := c.format(def)
	if !slices.Contains(allowed, f) {
		return usagef("invalid value %q for flag --format: unknown format %q", f, f)
	}
	return nil
}

// unrecognized is cmd.CheckEmpty: extra positional arguments.
func unrecognized(extra []string) error {
	if len(extra) == 0 {
		return nil
	}
	return usagef("unrecognized args: %q", extra)
}

// render writes v in format: "json" (compact, newline, null for nil),
// "yaml", or "smart" (strings bare, booleans as True/False, the rest YAML),
// and, like Juju's cmd.Output, ends non-empty output with a newline.
func render(format string, v any) ([]byte, error) {
	var out []byte
	switch format {
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out = b
	case "yaml":
		if v == nil {
			return nil, nil
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return nil, err
		}
		out = b
	default: // smart
		if v == nil {
			return nil, nil
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.String:
			out = []byte(rv.String())
		case reflect.Bool:
			if rv.Bool() {
				out = []byte("True")
			} else {
				out = []byte("False")
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			out = []byte(fmt.Sprint(v))
		case reflect.Slice:
			if ss, ok := v.([]string); ok {
				out = []byte(strings.Join(ss, "\n"))
				break
			}
			fallthrough
		default:
			b, err := yaml.Marshal(v)
			if err != nil {
				return nil, err
			}
			out = b
		}
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}
