package juju

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Env is the environment Juju gives a hook, an action, or a juju-exec
// command. Read it once, at start, with ParseEnv.
type Env struct {
	// DispatchPath is JUJU_DISPATCH_PATH: `hooks/<hook>`, `actions/<action>`,
	// or a custom event name given by a juju-exec command.
	DispatchPath string
	// HookName is JUJU_HOOK_NAME (empty for actions).
	HookName string
	// UnitName is JUJU_UNIT_NAME, such as github-runner/0.
	UnitName string
	// CharmDir is JUJU_CHARM_DIR (or CHARM_DIR).
	CharmDir string
	// ModelName and ModelUUID are JUJU_MODEL_NAME and JUJU_MODEL_UUID.
	ModelName, ModelUUID string
	// ActionName, ActionUUID and ActionTag are set for actions only.
	// ActionUUID is a task number such as "7" in Juju 3.
	ActionName, ActionUUID, ActionTag string
	// ContextID is JUJU_CONTEXT_ID.
	ContextID string
	// MachineID is JUJU_MACHINE_ID.
	MachineID string
	// AvailabilityZone is JUJU_AVAILABILITY_ZONE.
	AvailabilityZone string
	// Version is JUJU_VERSION, such as 3.6.4.
	Version string
	// HTTPProxy, HTTPSProxy and NoProxy are the model's proxy settings for
	// charms (JUJU_CHARM_HTTP_PROXY, JUJU_CHARM_HTTPS_PROXY,
	// JUJU_CHARM_NO_PROXY); often empty.
	HTTPProxy, HTTPSProxy, NoProxy string
	// APIAddresses are JUJU_API_ADDRESSES, split at spaces.
	APIAddresses []string
	// AgentSocketAddress and AgentSocketNetwork are where the hook tools
	// reach the unit agent.
	AgentSocketAddress, AgentSocketNetwork string

	// Relation is JUJU_RELATION, the endpoint of a relation hook
	// (`cos-agent` in cos-agent-relation-joined); empty in other hooks.
	Relation string
	// RelationID is JUJU_RELATION_ID, the hook's relation as the relation
	// tools name it: `<endpoint>:<number>`, such as `cos-agent:3`.
	RelationID string
	// RemoteUnit is JUJU_REMOTE_UNIT, the remote unit a -joined, -changed
	// or -departed hook is about; empty in -created, -broken and in a
	// -changed for the remote application's data.
	RemoteUnit string
	// RemoteApp is JUJU_REMOTE_APP, the application at the other end of
	// the hook's relation.
	RemoteApp string
	// DepartingUnit is JUJU_DEPARTING_UNIT, the unit leaving the relation
	// in a -departed hook (this unit itself when it is the one leaving).
	DepartingUnit string
}

// ParseEnv reads the Juju variables from environ (os.Environ's form).
// Absent variables stay empty.
func ParseEnv(environ []string) Env {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	charmDir := m["JUJU_CHARM_DIR"]
	if charmDir == "" {
		charmDir = m["CHARM_DIR"]
	}
	return Env{
		DispatchPath:       m["JUJU_DISPATCH_PATH"],
		HookName:           m["JUJU_HOOK_NAME"],
		UnitName:           m["JUJU_UNIT_NAME"],
		CharmDir:           charmDir,
		ModelName:          m["JUJU_MODEL_NAME"],
		ModelUUID:          m["JUJU_MODEL_UUID"],
		ActionName:         m["JUJU_ACTION_NAME"],
		ActionUUID:         m["JUJU_ACTION_UUID"],
		ActionTag:          m["JUJU_ACTION_TAG"],
		ContextID:          m["JUJU_CONTEXT_ID"],
		MachineID:          m["JUJU_MACHINE_ID"],
		AvailabilityZone:   m["JUJU_AVAILABILITY_ZONE"],
		Version:            m["JUJU_VERSION"],
		HTTPProxy:          m["JUJU_CHARM_HTTP_PROXY"],
		HTTPSProxy:         m["JUJU_CHARM_HTTPS_PROXY"],
		NoProxy:            m["JUJU_CHARM_NO_PROXY"],
		APIAddresses:       strings.Fields(m["JUJU_API_ADDRESSES"]),
		AgentSocketAddress: m["JUJU_AGENT_SOCKET_ADDRESS"],
		AgentSocketNetwork: m["JUJU_AGENT_SOCKET_NETWORK"],
		Relation:           m["JUJU_RELATION"],
		RelationID:         m["JUJU_RELATION_ID"],
		RemoteUnit:         m["JUJU_REMOTE_UNIT"],
		RemoteApp:          m["JUJU_REMOTE_APP"],
		DepartingUnit:      m["JUJU_DEPARTING_UNIT"],
	}
}

// ErrBadUnitName is wrapped by UnitNumber's error.
var ErrBadUnitName = errors.New("bad unit name")

// AppName is the application part of the unit name ("github-runner" for
// "github-runner/0"), or "" without one.
func (e Env) AppName() string {
	app, _, _ := strings.Cut(e.UnitName, "/")
	return app
}

// UnitNumber is the number part of the unit name (0 for "github-runner/0").
func (e Env) UnitNumber() (int, error) {
	_, num, ok := strings.Cut(e.UnitName, "/")
	if !ok {
		return 0, fmt.Errorf("%w %q: want <application>/<number>", ErrBadUnitName, e.UnitName)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return 0, fmt.Errorf("%w %q: want <application>/<number>", ErrBadUnitName, e.UnitName)
	}
	return n, nil
}

// EventKind says what Juju is running.
type EventKind int

// Kinds of event.
const (
	// NoEvent: JUJU_DISPATCH_PATH is not set; not run by Juju.
	NoEvent EventKind = iota
	// HookEvent: JUJU_DISPATCH_PATH=hooks/<name>.
	HookEvent
	// ActionEvent: JUJU_DISPATCH_PATH=actions/<name>.
	ActionEvent
	// CustomEvent: any other JUJU_DISPATCH_PATH, as a juju-exec command
	// sets it (`JUJU_DISPATCH_PATH=reconcile-runners ./dispatch`).
	CustomEvent
)

// String names the kind: hook, action, event or none.
func (k EventKind) String() string {
	switch k {
	case HookEvent:
		return "hook"
	case ActionEvent:
		return "action"
	case CustomEvent:
		return "event"
	}
	return "none"
}

// Event is what a dispatch path names.
type Event struct {
	Kind EventKind
	Name string
}

// Event splits DispatchPath into a kind and a name.
func (e Env) Event() Event {
	p := e.DispatchPath
	switch {
	case p == "":
		return Event{Kind: NoEvent}
	case strings.HasPrefix(p, "hooks/"):
		return Event{Kind: HookEvent, Name: strings.TrimPrefix(p, "hooks/")}
	case strings.HasPrefix(p, "actions/"):
		return Event{Kind: ActionEvent, Name: strings.TrimPrefix(p, "actions/")}
	}
	return Event{Kind: CustomEvent, Name: p}
}

// RelationHookKinds are the hook names a relation endpoint has, by suffix,
// in the order Juju runs them over a relation's life.
func RelationHookKinds() []string {
	return []string{"relation-created", "relation-joined", "relation-changed", "relation-departed", "relation-broken"}
}

// RelationHook splits a relation hook's name into its endpoint and kind
// ("cos-agent-relation-joined" gives "cos-agent", "relation-joined"); ok is
// false for any other hook.
func RelationHook(hook string) (endpoint, kind string, ok bool) {
	for _, k := range RelationHookKinds() {
		if ep, found := strings.CutSuffix(hook, "-"+k); found && ep != "" {
			return ep, k, true
		}
	}
	return "", "", false
}
