// Package config reads a charm's config.yaml, the one place that defines
// each option's name, type, default and description, and decodes option
// values into a typed struct whose fields carry `option:"<name>"` tags.
// The same schema gives a command line its flags and environment
// variables, so an option added to config.yaml and to the struct reaches
// the charm, the command line and validation with no other change.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Type is an option's type, as config.yaml names it.
type Type string

// Option types Juju knows.
const (
	String  Type = "string"
	Int     Type = "int"
	Float   Type = "float"
	Boolean Type = "boolean"
	Secret  Type = "secret"
)

// Option is one option of config.yaml.
type Option struct {
	Name        string
	Type        Type
	Default     any // nil when the option has none
	Description string
}

// Summary is the description's first sentence, on one line.
func (o Option) Summary() string {
	d := strings.Join(strings.Fields(o.Description), " ")
	if i := strings.Index(d, ". "); i >= 0 {
		d = d[:i]
	}
	return strings.TrimSuffix(d, ".")
}

// Schema is a charm's options, sorted by name.
type Schema struct {
	Options []Option
}

type rawFile struct {
	Options map[string]struct {
		Type        string    `yaml:"type"`
		Default     yaml.Node `yaml:"default"`
		Description string    `yaml:"description"`
	} `yaml:"options"`
}

// ParseSchema reads config.yaml.
func ParseSchema(data []byte) (*Schema, error) {
	var raw rawFile
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("cannot parse config.yaml: %w", err)
	}
	if raw.Options == nil {
		return nil, errors.New("cannot parse config.yaml: no options")
	}
	s := &Schema{}
	for name, o := range raw.Options {
		opt := Option{Name: name, Type: Type(o.Type), Description: strings.TrimSpace(o.Description)}
		switch opt.Type {
		case String, Int, Float, Boolean, Secret:
		default:
			return nil, fmt.Errorf("cannot parse config.yaml: option %q has unknown type %q", name, o.Type)
		}
		if !o.Default.IsZero() {
			var v any
			if err := o.Default.Decode(&v); err != nil {
				return nil, fmt.Errorf("cannot parse config.yaml: default of %q: %w", name, err)
			}
			def, perr := convert(opt, v)
			if perr != "" {
				return nil, fmt.Errorf("cannot parse config.yaml: default of %q: %s", name, perr)
			}
			opt.Default = def
		}
		s.Options = append(s.Options, opt)
	}
	sort.Slice(s.Options, func(i, j int) bool { return s.Options[i].Name < s.Options[j].Name })
	return s, nil
}

// Lookup finds an option by name.
func (s *Schema) Lookup(name string) (Option, bool) {
	for _, o := range s.Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// Defaults are the options that have a default, by name.
func (s *Schema) Defaults() map[string]any {
	out := map[string]any{}
	for _, o := range s.Options {
		if o.Default != nil {
			out[o.Name] = o.Default
		}
	}
	return out
}

// Problem is one bad option value.
type Problem struct {
	// Option is the option's name.
	Option string
	// Text says what is wrong, starting with the option's name and (except
	// for a secret) its value: `vm-memory "7XB": not a size ...`.
	Text string
}

// Error lists the bad options.
type Error struct {
	Problems []Problem
}

// Error joins the problems with "; ".
func (e *Error) Error() string {
	texts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		texts[i] = p.Text
	}
	return strings.Join(texts, "; ")
}

// Options are the names of the bad options, in order.
func (e *Error) Options() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Option
	}
	return out
}

// Has says whether option is among the bad ones.
func (e *Error) Has(option string) bool {
	for _, p := range e.Problems {
		if p.Option == option {
			return true
		}
	}
	return false
}

// HasProblem says whether err is an *Error naming option.
func HasProblem(err error, option string) bool {
	var cerr *Error
	return errors.As(err, &cerr) && cerr.Has(option)
}

// convert turns a value given for o (from config-get's JSON, YAML, or a
// command line's text) into o's Go type: string, int, float64 or bool. A
// value that does not fit gives a problem text.
func convert(o Option, v any) (any, string) {
	switch o.Type {
	case String, Secret:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("%s: want a string", o.Name)
		}
		return s, ""
	case Int:
		n, err := toInt(v)
		if err != nil {
			return nil, fmt.Sprintf("%s %s: want a whole number", o.Name, show(v))
		}
		return n, ""
	case Float:
		f, err := toFloat(v)
		if err != nil {
			return nil, fmt.Sprintf("%s %s: want a number", o.Name, show(v))
		}
		return f, ""
	case Boolean:
		switch b := v.(type) {
		case bool:
			return b, ""
		case string:
			if parsed, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return parsed, ""
			}
		}
		return nil, fmt.Sprintf("%s %s: want true or false", o.Name, show(v))
	}
	return nil, fmt.Sprintf("%s: unknown type %q", o.Name, o.Type)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, err
		}
		return clampInt(i)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, err
		}
		return clampInt(i)
	case int:
		return clampInt(int64(n))
	case int64:
		return clampInt(n)
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return 0, errors.New("not a whole number")
		}
		return clampInt(int64(n))
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

func clampInt(i int64) (int, error) {
	if i > math.MaxInt32 || i < math.MinInt32 {
		return 0, errors.New("out of range")
	}
	return int(i), nil
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Float64()
	case string:
		return strconv.ParseFloat(strings.TrimSpace(n), 64)
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case float64:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// field is a struct field tagged with an option.
type field struct {
	index []int
	kind  reflect.Kind
}

// fields maps option names to dst's tagged fields, checking that every
// option has one of a fitting kind and every tag names an option.
func (s *Schema) fields(t reflect.Type) (map[string]field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("cannot decode options into %s: not a struct", t)
	}
	want := map[Type]reflect.Kind{String: reflect.String, Secret: reflect.String, Int: reflect.Int, Float: reflect.Float64, Boolean: reflect.Bool}
	out := map[string]field{}
	for _, f := range reflect.VisibleFields(t) {
		name, ok := f.Tag.Lookup("option")
		if !ok {
			continue
		}
		o, known := s.Lookup(name)
		if !known {
			return nil, fmt.Errorf("field %s.%s names option %q, which config.yaml does not define", t.Name(), f.Name, name)
		}
		if f.Type.Kind() != want[o.Type] {
			return nil, fmt.Errorf("field %s.%s is a %s; option %q is a %s", t.Name(), f.Name, f.Type, name, o.Type)
		}
		out[name] = field{index: f.Index, kind: f.Type.Kind()}
	}
	for _, o := range s.Options {
		if _, ok := out[o.Name]; !ok {
			return nil, fmt.Errorf("option %q of config.yaml has no field in %s", o.Name, t.Name())
		}
	}
	return out, nil
}

// Decode sets dst's tagged fields (dst points to a struct) from values,
// an option missing from values (or nil there) taking its default, or the
// zero value without one. A value of the wrong type leaves its field at
// the default and is returned as a problem. The error is for a struct
// that does not match the schema: a programming mistake, not bad input.
func (s *Schema) Decode(values map[string]any, dst any) ([]Problem, error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, errors.New("cannot decode options: want a pointer to a struct")
	}
	rv = rv.Elem()
	fields, err := s.fields(rv.Type())
	if err != nil {
		return nil, err
	}
	var problems []Problem
	for _, o := range s.Options {
		v, given := values[o.Name]
		if !given || v == nil {
			v = o.Default
		} else if conv, perr := convert(o, v); perr != "" {
			problems = append(problems, Problem{Option: o.Name, Text: perr})
			v = o.Default
		} else {
			v = conv
		}
		f := rv.FieldByIndex(fields[o.Name].index)
		if v == nil {
			f.SetZero()
			continue
		}
		f.Set(reflect.ValueOf(v).Convert(f.Type()))
	}
	for name := range values {
		if _, ok := s.Lookup(name); !ok {
			problems = append(problems, Problem{Option: name, Text: fmt.Sprintf("%s: no such option", name)})
		}
	}
	return problems, nil
}

// Check says whether dst's struct type matches the schema, as Decode
// needs: every option has a tagged field of a fitting kind.
func (s *Schema) Check(dst any) error {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return errors.New("cannot check options: nil")
	}
	_, err := s.fields(t)
	return err
}

// EnvName is the environment variable of an option for a program whose
// variables start with prefix: EnvName("GITHUB_RUNNER_", "vm-memory") is
// GITHUB_RUNNER_VM_MEMORY.
func EnvName(prefix, option string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(option, "-", "_"))
}

// AddFlags defines one flag per option on fs, except those in skip, each
// with the option's summary, its environment variable and its default in
// the usage text. It returns the values given so far: after fs.Parse, an
// option set by its flag or, failing that, by its environment variable
// (read with getenv) is there as text, ready for Decode, which checks it.
func (s *Schema) AddFlags(fs *flag.FlagSet, getenv func(string) string, envPrefix string, skip ...string) map[string]any {
	values := map[string]any{}
	for _, o := range s.Options {
		if contains(skip, o.Name) {
			continue
		}
		env := EnvName(envPrefix, o.Name)
		if v := getenv(env); v != "" {
			values[o.Name] = v
		}
		def := "none"
		if o.Default != nil {
			def = fmt.Sprint(o.Default)
			if def == "" {
				def = `""`
			}
		}
		usage := fmt.Sprintf("%s (env %s, default %s)", o.Summary(), env, def)
		name := o.Name
		set := func(v string) error { values[name] = v; return nil }
		if o.Type == Boolean {
			fs.BoolFunc(name, usage, set)
			continue
		}
		fs.Func(name, usage, set)
	}
	return values
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
