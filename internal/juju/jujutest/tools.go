package jujutest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v2"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

// Limits of the charm state, as the controller enforces them.
const (
	MaxStateKeySize   = 256
	MaxStateValueSize = 64 * 1024
)

// Messages the tools print, as Juju prints them.
const (
	msgNotAction = "not running an action"
	msgNotLeader = "this unit is not the leader"
)

// validStatuses are what status-set takes, in Juju's order.
var validStatuses = []string{"maintenance", "blocked", "waiting", "active"}

// actionKeyRule is action-set's rule for each dotted key segment.
var actionKeyRule = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// reservedActionKeys are the result keys Juju keeps for itself.
var reservedActionKeys = []string{"stdout", "stdout-encoding", "stderr", "stderr-encoding"}

// toolFunc runs one tool with s.mu held. It returns what to print; a
// *usageError becomes exit status 2, any other error exit status 1.
type toolFunc func(s *Sim, hc *hookContext, req hooktool.Request) ([]byte, error)

// toolFor returns the tool that runs inside a hook context. juju-exec is
// apart: it runs outside one.
func toolFor(name string) (toolFunc, bool) {
	switch name {
	case "config-get":
		return (*Sim).configGet, true
	case "status-set":
		return (*Sim).statusSet, true
	case "status-get":
		return (*Sim).statusGet, true
	case "application-version-set":
		return (*Sim).applicationVersionSet, true
	case "juju-log":
		return (*Sim).jujuLog, true
	case "action-get":
		return (*Sim).actionGet, true
	case "action-set":
		return (*Sim).actionSet, true
	case "action-fail":
		return (*Sim).actionFail, true
	case "action-log":
		return (*Sim).actionLog, true
	case "is-leader":
		return (*Sim).isLeader, true
	case "state-get":
		return (*Sim).stateGet, true
	case "state-set":
		return (*Sim).stateSet, true
	case "state-delete":
		return (*Sim).stateDelete, true
	case "secret-get":
		return (*Sim).secretGet, true
	case "secret-add":
		return (*Sim).secretAdd, true
	case "secret-set":
		return (*Sim).secretSet, true
	case "secret-remove":
		return (*Sim).secretRemove, true
	case "secret-ids":
		return (*Sim).secretIDs, true
	case "open-port":
		return (*Sim).openPort, true
	case "close-port":
		return (*Sim).closePort, true
	case "opened-ports":
		return (*Sim).openedPorts, true
	case "unit-get":
		return (*Sim).unitGet, true
	case "relation-ids":
		return (*Sim).relationIDs, true
	case "relation-list":
		return (*Sim).relationList, true
	case "relation-get":
		return (*Sim).relationGet, true
	case "relation-set":
		return (*Sim).relationSet, true
	}
	return nil, false
}

func (s *Sim) serveTool(w http.ResponseWriter, r *http.Request) {
	var req hooktool.Request
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := s.runTool(r.Context(), req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func failure(code int, msg string) hooktool.Response {
	return hooktool.Response{Code: code, Stderr: []byte("ERROR " + msg + "\n")}
}

func (s *Sim) runTool(ctx context.Context, req hooktool.Request) hooktool.Response {
	if req.Tool == "juju-exec" {
		return s.jujuExecTool(ctx, req)
	}
	f, ok := toolFor(req.Tool)
	if !ok {
		return failure(1, fmt.Sprintf("unknown command %q", req.Tool))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.ContextID == "" {
		return failure(1, hooktool.EnvContextID+" not set: not in a hook context")
	}
	hc, ok := s.contexts[req.ContextID]
	if !ok {
		return failure(1, fmt.Sprintf("bad request: unknown context %q (the hook has ended)", req.ContextID))
	}
	out, err := f(s, hc, req)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return failure(2, err.Error())
		}
		return failure(1, err.Error())
	}
	return hooktool.Response{Stdout: out}
}

func (s *Sim) configGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag, {names: []string{"all", "a"}, isBool: true}}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	key := ""
	if len(c.pos) > 0 {
		key = c.pos[0]
		if key != "" && c.flag("all") {
			return nil, usagef("cannot use argument --all together with key %q", key)
		}
		if err := unrecognized(c.pos[1:]); err != nil {
			return nil, err
		}
	}
	var value any
	if key == "" {
		settings := map[string]any{}
		for k, v := range hc.config {
			if v != nil || c.flag("all") {
				settings[k] = v
			}
		}
		value = settings
	} else {
		value = hc.config[key]
	}
	return render(c.format("smart"), value)
}

func (s *Sim) statusSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{{names: []string{"application"}, isBool: true}}, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) < 1 {
		return nil, usagef("invalid args, require <status> [message]")
	}
	if !slices.Contains(validStatuses, c.pos[0]) {
		return nil, usagef("invalid status %q, expected one of [%s]", c.pos[0], strings.Join(validStatuses, " "))
	}
	st := Status{Status: c.pos[0]}
	if len(c.pos) > 1 {
		st.Message = c.pos[1]
		if err := unrecognized(c.pos[2:]); err != nil {
			return nil, err
		}
	}
	if c.flag("application") {
		if !s.leader {
			return nil, errors.New(msgNotLeader)
		}
		s.appStatus = st
		s.history = append(s.history, StatusEntry{Target: "application", Status: st, Context: hc.label, Time: time.Now()})
		return nil, nil
	}
	s.setUnitStatusLocked(st, hc.label)
	return nil, nil
}

func statusDetails(st Status, includeData bool) map[string]any {
	d := map[string]any{"status": st.Status}
	if includeData {
		d["message"] = st.Message
		d["status-data"] = map[string]any{}
	}
	return d
}

func (s *Sim) statusGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{
		formatFlag,
		{names: []string{"include-data"}, isBool: true},
		{names: []string{"application"}, isBool: true},
	}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos); err != nil {
		return nil, err
	}
	format, data := c.format("smart"), c.flag("include-data")
	if c.flag("application") {
		if !s.leader {
			return nil, fmt.Errorf("finding application status: %s", msgNotLeader)
		}
		if !data && format == "smart" {
			return render(format, s.appStatus.Status)
		}
		details := statusDetails(s.appStatus, data)
		details["units"] = map[string]any{s.unit: statusDetails(s.unitStatus, data)}
		return render(format, map[string]any{"application-status": details})
	}
	if !data && format == "smart" {
		return render(format, s.unitStatus.Status)
	}
	return render(format, statusDetails(s.unitStatus, data))
}

func (s *Sim) applicationVersionSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(nil, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) < 1 {
		return nil, usagef("no version specified")
	}
	if err := unrecognized(c.pos[1:]); err != nil {
		return nil, err
	}
	s.version = c.pos[0]
	return nil, nil
}

// logLevels are loggo's level names, as juju-log takes them.
var logLevels = map[string]string{
	"TRACE": "TRACE", "DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "WARN": "WARNING",
	"ERROR": "ERROR", "CRITICAL": "CRITICAL",
}

func (s *Sim) jujuLog(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{
		{names: []string{"debug"}, isBool: true},
		{names: []string{"log-level", "l"}},
		{names: []string{"format"}},
	}, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) == 0 {
		return nil, usagef("no message specified")
	}
	level := "INFO"
	if c.flag("debug") {
		level = "DEBUG"
	} else if l, ok := c.str("log-level"); ok && l != "" {
		if lv, ok := logLevels[strings.ToUpper(l)]; ok {
			level = lv
		} else {
			s.logLocked("WARNING", fmt.Sprintf("Specified log level of %q is not valid", l), hc.label)
		}
	}
	s.logLocked(level, strings.Join(c.pos, " "), hc.label)
	return nil, nil
}

func (s *Sim) actionGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	var keys []string
	if len(c.pos) > 0 {
		if err := unrecognized(c.pos[1:]); err != nil {
			return nil, err
		}
		keys = strings.Split(c.pos[0], ".")
	}
	if hc.action == nil {
		return nil, errors.New(msgNotAction)
	}
	// Test the map itself: a nil map put in an `any` is not a nil `any`,
	// and would print as null where Juju prints {}.
	params := hc.action.params
	if params == nil {
		params = map[string]any{}
	}
	var answer any = params
	if len(keys) > 0 {
		answer = lookupKeys(keys, params)
	}
	return render(c.format("smart"), answer)
}

// lookupKeys walks nested maps along keys; nil when a key is missing.
func lookupKeys(keys []string, m map[string]any) any {
	v, ok := m[keys[0]]
	if !ok || len(keys) == 1 {
		return v
	}
	next, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return lookupKeys(keys[1:], next)
}

func (s *Sim) actionSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(nil, req.Args)
	if err != nil {
		return nil, err
	}
	type pair struct {
		keys  []string
		value string
	}
	var pairs []pair
	for _, arg := range c.pos {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, usagef("argument %q must be of the form key...=value", arg)
		}
		keys := strings.Split(k, ".")
		for _, key := range keys {
			if !actionKeyRule.MatchString(key) {
				return nil, usagef("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", key)
			}
			if slices.Contains(reservedActionKeys, key) {
				return nil, usagef("cannot set reserved action key %q", key)
			}
		}
		pairs = append(pairs, pair{keys, v})
	}
	for _, p := range pairs {
		if hc.action == nil {
			return nil, errors.New(msgNotAction)
		}
		setNested(hc.action.results, p.keys, p.value)
	}
	return nil, nil
}

// setNested is Juju's addValueToMap: a non-map on the way is replaced by a map.
func setNested(target map[string]any, keys []string, value any) {
	next := target
	for i, k := range keys {
		if i == len(keys)-1 {
			next[k] = value
			return
		}
		m, ok := next[k].(map[string]any)
		if !ok {
			m = map[string]any{}
			next[k] = m
		}
		next = m
	}
}

func (s *Sim) actionFail(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(nil, req.Args)
	if err != nil {
		return nil, err
	}
	msg := "action failed without reason given, check action for errors"
	if len(c.pos) > 0 {
		msg = c.pos[0]
		if err := unrecognized(c.pos[1:]); err != nil {
			return nil, err
		}
	}
	if hc.action == nil {
		return nil, errors.New(msgNotAction)
	}
	hc.action.failed, hc.action.message = true, msg
	return nil, nil
}

func (s *Sim) actionLog(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(nil, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) == 0 {
		return nil, usagef("no message specified")
	}
	if hc.action == nil {
		return nil, errors.New(msgNotAction)
	}
	hc.action.logs = append(hc.action.logs, strings.Join(c.pos, " "))
	return nil, nil
}

func (s *Sim) isLeader(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos); err != nil {
		return nil, err
	}
	return render(c.format("smart"), s.leader)
}

func (s *Sim) stateGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag, {names: []string{"strict"}, isBool: true}}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	key := ""
	if len(c.pos) > 0 {
		if key = c.pos[0]; key == "-" {
			key = ""
		}
		if err := unrecognized(c.pos[1:]); err != nil {
			return nil, err
		}
	}
	if key == "" {
		return render(c.format("smart"), maps.Clone(hc.state))
	}
	v, ok := hc.state[key]
	if !ok && c.flag("strict") {
		return nil, fmt.Errorf("%q not found", key)
	}
	return render(c.format("smart"), v)
}

// parseKeyValues is juju/utils keyvalues.Parse(args, true): split at the
// first `=`, both sides trimmed of white space, no empty key, no repeat.
func parseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf(`expected "key=value", got %q`, kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, fmt.Errorf(`expected "key=value", got "%s=%s"`, k, v)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %q specified more than once", k)
		}
		out[k] = v
	}
	return out, nil
}

// toolValues are a setting tool's key=value arguments over the YAML map
// its --file names (- for stdin), as state-set and relation-set take them.
func toolValues(c *cmdLine, req hooktool.Request) (map[string]string, error) {
	values, err := parseKeyValues(c.pos)
	if err != nil {
		return nil, usagef("%v", err)
	}
	file, ok := c.str("file")
	if !ok {
		return values, nil
	}
	var data []byte
	if file == "-" {
		data = req.Stdin
	} else {
		if !filepath.IsAbs(file) {
			file = filepath.Join(req.Dir, file)
		}
		if data, err = os.ReadFile(file); err != nil {
			return nil, err
		}
	}
	fromFile := map[string]string{}
	if err := yaml.Unmarshal(data, fromFile); err != nil {
		return nil, err
	}
	maps.Copy(fromFile, values)
	return fromFile, nil
}

func (s *Sim) stateSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{{names: []string{"file"}}}, req.Args)
	if err != nil {
		return nil, err
	}
	values, err := toolValues(c, req)
	if err != nil {
		return nil, err
	}
	for k, v := range values {
		if len(k) > MaxStateKeySize {
			return nil, fmt.Errorf("max allowed key length (%d) exceeded", MaxStateKeySize)
		}
		if len(v) > MaxStateValueSize {
			return nil, fmt.Errorf("max allowed value length (%d) exceeded", MaxStateValueSize)
		}
	}
	maps.Copy(hc.state, values)
	return nil, nil
}

func (s *Sim) stateDelete(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(nil, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) == 0 {
		return nil, nil
	}
	if err := unrecognized(c.pos[1:]); err != nil {
		return nil, err
	}
	delete(hc.state, c.pos[0])
	return nil, nil
}

func (s *Sim) secretGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{
		formatFlag,
		{names: []string{"label"}},
		{names: []string{"peek"}, isBool: true},
		{names: []string{"refresh"}, isBool: true},
	}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "yaml", "yaml", "json"); err != nil {
		return nil, err
	}
	var id string
	pos := c.pos
	if len(pos) > 0 {
		if id, err = parseSecretURI(pos[0]); err != nil {
			return nil, usagef("secret URI %q not valid", pos[0])
		}
		pos = pos[1:]
	}
	label, _ := c.str("label")
	if id == "" && label == "" {
		return nil, usagef("require either a secret URI or label")
	}
	if c.flag("peek") && c.flag("refresh") {
		return nil, usagef("specify one of --peek or --refresh but not both")
	}
	key := ""
	if len(pos) > 0 {
		key = pos[0]
		if err := unrecognized(pos[1:]); err != nil {
			return nil, err
		}
	}
	found, sec, ok := s.findSecretLocked(hc, id, label)
	if !ok {
		return nil, fmt.Errorf("secret %q not found", cmpOr(id, label))
	}
	id = found
	if !sec.granted {
		return nil, errors.New("permission denied")
	}
	// The owner reads the newest revision. A consumer keeps the revision
	// it first read; --peek shows the newest, --refresh shows it and moves
	// to it (Juju's secret-get; juju.md "Secrets").
	content := sec.latest()
	if sec.ownerUnit == "" {
		rev := hc.tracked[id]
		switch {
		case c.flag("peek"):
			rev = len(sec.revisions)
		case rev == 0 || c.flag("refresh"):
			rev = len(sec.revisions)
			hc.tracked[id] = rev
		}
		content = sec.revisions[rev-1]
	}
	if key == "" {
		return render(c.format("yaml"), maps.Clone(content))
	}
	name, b64 := strings.CutSuffix(key, "#base64")
	v, ok := content[name]
	if !ok {
		return nil, fmt.Errorf("secret key %q not found", name)
	}
	if b64 {
		v = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return render(c.format("yaml"), v)
}

// portRe is what open-port and close-port take.
var portRe = regexp.MustCompile(`^(?:icmp|([0-9]{1,5})(?:-([0-9]{1,5}))?(?:/(tcp|udp))?)$`)

func parsePort(arg string) (string, error) {
	m := portRe.FindStringSubmatch(strings.ToLower(arg))
	if m == nil {
		return "", usagef("expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got %q", arg)
	}
	if m[0] == "icmp" {
		return "icmp", nil
	}
	from, _ := strconv.Atoi(m[1])
	to := from
	if m[2] != "" {
		to, _ = strconv.Atoi(m[2])
	}
	if from < 1 || to > 65535 || to < from {
		return "", usagef("invalid port range %q", arg)
	}
	proto := cmpOr(m[3], "tcp")
	if from == to {
		return fmt.Sprintf("%d/%s", from, proto), nil
	}
	return fmt.Sprintf("%d-%d/%s", from, to, proto), nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (s *Sim) portTool(hc *hookContext, req hooktool.Request, open bool) ([]byte, error) {
	c, err := parseArgs([]flagSpec{{names: []string{"endpoints"}}}, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) < 1 {
		return nil, usagef("no port or range specified")
	}
	port, err := parsePort(c.pos[0])
	if err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos[1:]); err != nil {
		return nil, err
	}
	if open {
		hc.ports[port] = true
	} else {
		delete(hc.ports, port)
	}
	return nil, nil
}

func (s *Sim) openPort(hc *hookContext, req hooktool.Request) ([]byte, error) {
	return s.portTool(hc, req, true)
}

func (s *Sim) closePort(hc *hookContext, req hooktool.Request) ([]byte, error) {
	return s.portTool(hc, req, false)
}

func (s *Sim) openedPorts(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag, {names: []string{"endpoints"}, isBool: true}}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos); err != nil {
		return nil, err
	}
	return render(c.format("smart"), sortedKeys(hc.ports))
}

func (s *Sim) unitGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	if len(c.pos) < 1 {
		return nil, usagef("no setting specified")
	}
	var v string
	switch c.pos[0] {
	case "private-address":
		v = cmpOr(s.opts.PrivateAddress, "10.0.0.10")
	case "public-address":
		v = cmpOr(s.opts.PublicAddress, cmpOr(s.opts.PrivateAddress, "10.0.0.10"))
	default:
		return nil, usagef("unknown setting %q", c.pos[0])
	}
	if err := unrecognized(c.pos[1:]); err != nil {
		return nil, err
	}
	return render(c.format("smart"), v)
}

// jujuExecTool is `juju-exec <unit> <command...>` (or `--unit <unit>`), run from
// outside a hook (a cron job, a timer, a shell): it takes the machine lock
// and runs the command with sh in a hook context of the unit. Run from
// inside a hook it is refused, since the hook holds the lock it would wait for.
func (s *Sim) jujuExecTool(ctx context.Context, req hooktool.Request) hooktool.Response {
	c, err := parseArgs([]flagSpec{{names: []string{"unit", "u"}}}, req.Args)
	if err != nil {
		return failure(2, err.Error())
	}
	pos := c.pos
	unit, ok := c.str("unit")
	if !ok {
		if len(pos) == 0 {
			return failure(2, "missing unit-name")
		}
		unit, pos = pos[0], pos[1:]
	}
	if len(pos) == 0 {
		return failure(2, "missing commands")
	}
	// Juju's juju-exec refuses whenever JUJU_CONTEXT_ID is set, in any
	// hook, action or juju-exec context, live or not (juju's juju-exec
	// RunCommand.Init and its TestInsideContext).
	if req.ContextID != "" {
		return failure(1, "juju-exec cannot be called from within a hook, have context "+strconv.Quote(req.ContextID))
	}
	if unit != s.unit {
		return failure(1, fmt.Sprintf("unit %q not found on this machine", unit))
	}
	res, err := s.Exec(ctx, strings.Join(pos, " "))
	if err != nil {
		return failure(1, err.Error())
	}
	return hooktool.Response{Code: res.Code, Stdout: []byte(res.Stdout), Stderr: []byte(res.Stderr)}
}
