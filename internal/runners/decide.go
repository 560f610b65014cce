package runners

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.example/github-runner/internal/github"
)

// This file holds the manager's decisions, pure: a snapshot of LXD and
// GitHub and a goal in, the judged runners and the actions to take out.
// Reconcile and Flush observe, decide here, then act; no I/O happens here.

// RemovalKind says why a runner is removed.
type RemovalKind int

// Removal kinds. The first four are dead runners.
const (
	// RemovalInstanceDown: the runner's instance does not run.
	RemovalInstanceDown RemovalKind = iota + 1
	// RemovalProcessGone: the instance runs, the runner's start script
	// does not.
	RemovalProcessGone
	// RemovalDeregistered: GitHub no longer knows a runner that it had
	// registered.
	RemovalDeregistered
	// RemovalBootstrapTimeout: the runner never came online within the
	// bootstrap timeout.
	RemovalBootstrapTimeout
	// RemovalGhost: a runner of this unit on GitHub without an instance.
	RemovalGhost
	// RemovalSurplus: an idle (or not yet online) runner beyond the
	// wanted count.
	RemovalSurplus
	// RemovalFlushedIdle: an idle (or not yet online) runner removed by a
	// flush.
	RemovalFlushedIdle
	// RemovalFlushedBusy: a busy runner removed by a busy flush, its job
	// cancelled.
	RemovalFlushedBusy
	// RemovalCannotStart: the runner ended without ever being online (it
	// could not start: missing libraries, a bad configuration); dead.
	RemovalCannotStart
)

// String is the kind's text; Reason.String adds the facts some kinds name.
func (k RemovalKind) String() string {
	switch k {
	case 0:
		return ""
	case RemovalInstanceDown:
		return "dead: instance not running"
	case RemovalProcessGone:
		return "dead: runner process not alive"
	case RemovalDeregistered:
		return "dead: de-registered from GitHub"
	case RemovalBootstrapTimeout:
		return "dead: not online within the bootstrap timeout"
	case RemovalGhost:
		return "ghost: on GitHub without an instance"
	case RemovalSurplus:
		return "surplus"
	case RemovalFlushedIdle:
		return "flush"
	case RemovalFlushedBusy:
		return "flush busy"
	case RemovalCannotStart:
		return "dead: the runner could not start"
	}
	return "RemovalKind(" + strconv.Itoa(int(k)) + ")"
}

// healthy says whether runners removed for this kind counted as healthy
// (starting, idle or busy) before.
func (k RemovalKind) healthy() bool {
	return k == RemovalSurplus || k == RemovalFlushedIdle || k == RemovalFlushedBusy
}

// Reason is why a runner is removed (or, in a RunnerInfo, is to be): its
// kind and the fact that the kind's text names.
type Reason struct {
	Kind RemovalKind
	// Status is the LXD status of an instance that does not run
	// (RemovalInstanceDown).
	Status string
	// Timeout is the bootstrap timeout a runner missed
	// (RemovalBootstrapTimeout).
	Timeout time.Duration
	// Said is what a runner that could not start said (RemovalCannotStart).
	Said string
}

// String is the reason as the removal log line and the reports give it.
func (r Reason) String() string {
	switch {
	case r.Kind == RemovalInstanceDown && r.Status != "":
		return "dead: instance status " + r.Status
	case r.Kind == RemovalBootstrapTimeout && r.Timeout > 0:
		return fmt.Sprintf("dead: not online after %s", r.Timeout)
	case r.Kind == RemovalCannotStart && r.Said != "":
		return "dead: the runner could not start: " + r.Said
	}
	return r.Kind.String()
}

// snapshot is one look at this unit's runners in LXD and on GitHub.
type snapshot struct {
	// instances are this unit's runner instances.
	instances []observed
	// github are this unit's runners on GitHub, when githubErr is nil.
	github []github.Runner
	// githubErr says why GitHub could not be listed: then only what LXD
	// shows is known, and nothing that needs GitHub is decided.
	githubErr error
	// now is when the look was taken.
	now time.Time
}

// observed is one runner instance and whether its runner process is alive
// and has been online (listened) since it started.
type observed struct {
	Instance
	alive    bool
	listened bool
	// legacy: named before the model was part of names.
	legacy bool
	// startFailed is what a runner that could not start said.
	startFailed string
}

// goal is what a reconcile or a flush is to reach.
type goal struct {
	// wanted is the number of healthy runners a reconcile aims at.
	wanted int
	// flush removes runners as mode says, instead of reconciling.
	flush bool
	mode  FlushMode
	// bootstrapTimeout is how long a runner may take to come online.
	bootstrapTimeout time.Duration
}

// actionType is what an action does.
type actionType int

const (
	// actCreate starts count new runners.
	actCreate actionType = iota + 1
	// actRemove deletes a runner's instance and, with deregister, its
	// GitHub registration.
	actRemove
	// actDeleteGhost de-registers a GitHub runner that has no instance.
	actDeleteGhost
	// actLeaveBusy leaves a busy runner to finish its job.
	actLeaveBusy
)

// action is one thing to do.
type action struct {
	do    actionType
	count int // actCreate
	// name and id (its GitHub id, 0 if unknown) are the runner's.
	name   string
	id     int64
	reason Reason // actRemove, actDeleteGhost
	// deregister removes the runner from GitHub; false when GitHub could
	// not be asked.
	deregister bool
	// ifIdle: the runner was idle (or not yet online) when looked at; if
	// GitHub now says it is busy, it took a job since and is left alone.
	ifIdle bool
	// killFirst deletes the instance before de-registering: GitHub
	// refuses to de-register a runner while it runs a job.
	killFirst bool
}

// String is a short account of the action, for logs and tests.
func (a action) String() string {
	switch a.do {
	case actCreate:
		return fmt.Sprintf("create %d", a.count)
	case actLeaveBusy:
		return "leave busy " + a.name
	case actDeleteGhost:
		return fmt.Sprintf("delete ghost %s (%s)", a.name, a.reason)
	}
	s := fmt.Sprintf("remove %s (%s)", a.name, a.reason)
	for _, f := range []struct {
		on   bool
		text string
	}{{a.deregister, "de-register"}, {a.ifIdle, "if idle"}, {a.killFirst, "kill first"}} {
		if f.on {
			s += ", " + f.text
		}
	}
	return s
}

// plan is what decide says: the runners as judged and what to do.
type plan struct {
	runners []RunnerInfo
	actions []action
}

func (p plan) String() string {
	parts := make([]string, len(p.actions))
	for i, a := range p.actions {
		parts[i] = a.String()
	}
	return strings.Join(parts, "; ")
}

// decide judges every runner of s and says what brings them to g.
//
// A reconcile removes the dead runners (de-registering them when GitHub
// could be asked) and the ghosts, leaves busy runners alone, then creates
// the missing runners or removes the surplus: runners not yet online
// first, then the idle ones installed longest ago. Without GitHub it only
// removes the dead instances, which LXD alone shows: no runner can be
// created (each needs GitHub) nor judged idle.
//
// A flush removes the dead runners and the ghosts, and the idle and
// starting runners; busy ones too with FlushBusy, else it leaves them.
// Without GitHub it too only removes the dead instances.
func decide(s snapshot, g goal) plan {
	p := plan{runners: judge(s, g.bootstrapTimeout)}
	known := s.githubErr == nil
	healthy := 0
	var starting, idle []RunnerInfo
	for _, r := range p.runners {
		one := action{name: r.Name, id: r.GitHubID}
		switch r.State {
		case StateDead:
			one.do, one.reason, one.deregister = actRemove, r.Reason, known
		case StateGhost:
			one.do, one.reason, one.deregister = actDeleteGhost, r.Reason, true
		case StateBusy:
			healthy++
			one.do = actLeaveBusy
			if g.flush && g.mode == FlushBusy {
				one.do, one.reason, one.deregister, one.killFirst = actRemove, Reason{Kind: RemovalFlushedBusy}, true, true
			}
		case StateIdle, StateStarting:
			healthy++
			if r.State == StateIdle {
				idle = append(idle, r)
			} else {
				starting = append(starting, r)
			}
			if !g.flush || !known {
				continue
			}
			one.do, one.reason, one.deregister, one.ifIdle = actRemove, Reason{Kind: RemovalFlushedIdle}, true, g.mode == FlushIdle
		default:
			continue
		}
		p.actions = append(p.actions, one)
	}
	if g.flush || !known {
		return p
	}
	switch diff := g.wanted - healthy; {
	case diff < 0:
		// Legacy runners are never surplus: on an LXD shared by two
		// models (tests do that) their keys cannot say which model's unit
		// made them. They go when they finish, die, or are flushed.
		candidates := append(byAge(notLegacy(starting)), byAge(notLegacy(idle))...)
		for _, r := range candidates[:min(-diff, len(candidates))] {
			p.actions = append(p.actions, action{do: actRemove, name: r.Name, id: r.GitHubID,
				reason: Reason{Kind: RemovalSurplus}, deregister: true, ifIdle: true})
		}
	case diff > 0:
		p.actions = append(p.actions, action{do: actCreate, count: diff})
	}
	return p
}

func notLegacy(rs []RunnerInfo) []RunnerInfo {
	var out []RunnerInfo
	for _, r := range rs {
		if !r.Legacy {
			out = append(out, r)
		}
	}
	return out
}

// byAge sorts runners by install time, oldest first.
func byAge(rs []RunnerInfo) []RunnerInfo {
	out := append([]RunnerInfo(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].InstalledAt.Before(out[j].InstalledAt) })
	return out
}

// judge says what each runner of s is, sorted by name. Without GitHub a
// live runner counts as starting: nothing more is known of it.
func judge(s snapshot, bootstrapTimeout time.Duration) []RunnerInfo {
	known := s.githubErr == nil
	byName := map[string]github.Runner{}
	for _, r := range s.github {
		byName[r.Name] = r
	}
	var out []RunnerInfo
	for _, in := range s.instances {
		info := RunnerInfo{Name: in.Name, InstanceState: in.Status, InstalledAt: installedAt(in.Instance), Legacy: in.legacy}
		gh, onGitHub := byName[in.Name]
		if onGitHub {
			info.GitHubID, info.Online, info.Busy = gh.ID, gh.Online(), gh.Busy
			delete(byName, in.Name)
		}
		recordedID, _ := strconv.ParseInt(in.Config[KeyGitHubID], 10, 64)
		switch {
		case !in.Running:
			info.State, info.Reason = StateDead, Reason{Kind: RemovalInstanceDown, Status: in.Status}
		case !in.alive && in.startFailed != "":
			info.State, info.Reason = StateDead, Reason{Kind: RemovalCannotStart, Said: in.startFailed}
		case !in.alive:
			info.State, info.Reason = StateDead, Reason{Kind: RemovalProcessGone}
		case !known:
			info.State = StateStarting
		case info.Busy:
			info.State = StateBusy
		case info.Online:
			info.State = StateIdle
		case !onGitHub && recordedID != 0:
			info.State, info.Reason = StateDead, Reason{Kind: RemovalDeregistered}
		case in.listened:
			// It was online and its listener still runs: offline only
			// because GitHub was out of reach, the real listener retries
			// until reconnected. Replacing it would be churn.
			info.State = StateStarting
		case s.now.Sub(info.InstalledAt) > bootstrapTimeout:
			info.State, info.Reason = StateDead, Reason{Kind: RemovalBootstrapTimeout, Timeout: bootstrapTimeout}
		default:
			info.State = StateStarting
		}
		if info.GitHubID == 0 {
			info.GitHubID = recordedID
		}
		info.Healthy = info.State != StateDead
		out = append(out, info)
	}
	for _, gh := range byName {
		out = append(out, RunnerInfo{
			Name: gh.Name, GitHubID: gh.ID, Online: gh.Online(), Busy: gh.Busy,
			State: StateGhost, Reason: Reason{Kind: RemovalGhost},
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// installedAt is when the manager installed the runner, or, for an
// instance without the record, when LXD created it.
func installedAt(in Instance) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, in.Config[KeyInstalledAt]); err == nil {
		return t
	}
	return in.CreatedAt
}
