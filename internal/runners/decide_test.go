package runners

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
)

// The decision tests need nothing but the clock they are given: no LXD, no
// GitHub. Runners a..f are this unit's; the GitHub ids are 1..6.

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	ra, rb, rc, rd, re, rf = "u-0-0000000a", "u-0-0000000b", "u-0-0000000c", "u-0-0000000d", "u-0-0000000e", "u-0-0000000f"
	boot                   = 10 * time.Minute
)

// live is a running instance whose runner process is alive, installed age
// ago, with the GitHub id recorded at creation (0: none).
func live(name string, age time.Duration, id int64) observed {
	config := map[string]string{KeyInstalledAt: now.Add(-age).Format(time.RFC3339Nano)}
	if id != 0 {
		config[KeyGitHubID] = strconv.FormatInt(id, 10)
	}
	return observed{Instance: Instance{Name: name, Running: true, Status: "Running", Config: config, CreatedAt: now.Add(-age)}, alive: true}
}

// down is an instance that does not run, with LXD's status word.
func down(name, status string, id int64) observed {
	o := live(name, time.Hour, id)
	o.Running, o.Status, o.alive = false, status, false
	return o
}

// noProcess is a running instance whose runner process is gone.
func noProcess(name string, id int64) observed {
	o := live(name, time.Hour, id)
	o.alive = false
	return o
}

func online(name string, id int64) github.Runner {
	return github.Runner{ID: id, Name: name, Status: github.StatusOnline}
}

func offline(name string, id int64) github.Runner {
	return github.Runner{ID: id, Name: name, Status: github.StatusOffline}
}

func busy(name string, id int64) github.Runner {
	r := online(name, id)
	r.Busy = true
	return r
}

func TestDecide(t *testing.T) {
	reconcile := func(n int) goal { return goal{wanted: n, bootstrapTimeout: boot} }
	flush := func(mode FlushMode) goal { return goal{flush: true, mode: mode, bootstrapTimeout: boot} }
	unreachable := errors.New("cannot list GitHub runners: connection refused")

	for _, c := range []struct {
		name      string
		instances []observed
		github    []github.Runner
		githubErr error
		goal      goal
		// want is every action, in order (action.String).
		want []string
		// states are the runners as judged, "name state", when given.
		states []string
	}{{
		name: "nothing wanted, nothing there",
		goal: reconcile(0),
	}, {
		name: "shortage from nothing",
		goal: reconcile(3),
		want: []string{"create 3"},
	}, {
		name:      "online idle runner is kept",
		instances: []observed{live(ra, time.Hour, 1)},
		github:    []github.Runner{online(ra, 1)},
		goal:      reconcile(1),
		states:    []string{ra + " idle"},
	}, {
		name:      "busy runner is left alone",
		instances: []observed{live(ra, time.Hour, 1)},
		github:    []github.Runner{busy(ra, 1)},
		goal:      reconcile(1),
		want:      []string{"leave busy " + ra},
		states:    []string{ra + " busy"},
	}, {
		name:      "a runner busy while offline on GitHub is busy",
		instances: []observed{live(ra, time.Hour, 1)},
		github:    []github.Runner{func() github.Runner { r := offline(ra, 1); r.Busy = true; return r }()},
		goal:      reconcile(1),
		want:      []string{"leave busy " + ra},
		states:    []string{ra + " busy"},
	}, {
		name:      "shortage",
		instances: []observed{live(ra, time.Hour, 1)},
		github:    []github.Runner{online(ra, 1)},
		goal:      reconcile(3),
		want:      []string{"create 2"},
	}, {
		name:      "surplus idle: the ones installed longest ago go",
		instances: []observed{live(ra, 30*time.Minute, 1), live(rb, 10*time.Minute, 2), live(rc, 20*time.Minute, 3)},
		github:    []github.Runner{online(ra, 1), online(rb, 2), online(rc, 3)},
		goal:      reconcile(1),
		want: []string{
			"remove " + ra + " (surplus), de-register, if idle",
			"remove " + rc + " (surplus), de-register, if idle",
		},
	}, {
		name:      "surplus: runners not yet online go before idle ones",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Minute, 2)},
		github:    []github.Runner{online(ra, 1), offline(rb, 2)},
		goal:      reconcile(1),
		want:      []string{"remove " + rb + " (surplus), de-register, if idle"},
		states:    []string{ra + " idle", rb + " starting"},
	}, {
		name:      "surplus installed at the same time goes by name",
		instances: []observed{live(rc, time.Hour, 3), live(ra, time.Hour, 1), live(rb, time.Hour, 2)},
		github:    []github.Runner{online(ra, 1), online(rb, 2), online(rc, 3)},
		goal:      reconcile(1),
		want: []string{
			"remove " + ra + " (surplus), de-register, if idle",
			"remove " + rb + " (surplus), de-register, if idle",
		},
	}, {
		name:      "surplus never takes a busy runner",
		instances: []observed{live(ra, time.Hour, 1), live(rb, 2*time.Hour, 2), live(rc, time.Minute, 3)},
		github:    []github.Runner{busy(ra, 1), busy(rb, 2), online(rc, 3)},
		goal:      reconcile(1),
		want: []string{
			"leave busy " + ra,
			"leave busy " + rb,
			"remove " + rc + " (surplus), de-register, if idle",
		},
	}, {
		name:      "zero wanted: every idle and starting runner goes, busy ones stay",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Minute, 2), live(rc, time.Hour, 3)},
		github:    []github.Runner{online(ra, 1), offline(rb, 2), busy(rc, 3)},
		goal:      reconcile(0),
		want: []string{
			"leave busy " + rc,
			"remove " + rb + " (surplus), de-register, if idle",
			"remove " + ra + " (surplus), de-register, if idle",
		},
	}, {
		name:      "dead: a stopped instance is removed and replaced",
		instances: []observed{down(ra, "Stopped", 1)},
		github:    []github.Runner{offline(ra, 1)},
		goal:      reconcile(1),
		want:      []string{"remove " + ra + " (dead: instance status Stopped), de-register", "create 1"},
		states:    []string{ra + " dead"},
	}, {
		name:      "dead: an instance without a status word",
		instances: []observed{down(ra, "", 0)},
		goal:      reconcile(0),
		want:      []string{"remove " + ra + " (dead: instance not running), de-register"},
	}, {
		name:      "dead: the runner process is gone though GitHub says online",
		instances: []observed{noProcess(ra, 1), live(rb, time.Hour, 2)},
		github:    []github.Runner{online(ra, 1), online(rb, 2)},
		goal:      reconcile(2),
		want:      []string{"remove " + ra + " (dead: runner process not alive), de-register", "create 1"},
		states:    []string{ra + " dead", rb + " idle"},
	}, {
		name:      "dead: de-registered from GitHub behind the manager's back",
		instances: []observed{live(ra, time.Minute, 1)},
		goal:      reconcile(1),
		want:      []string{"remove " + ra + " (dead: de-registered from GitHub), de-register", "create 1"},
	}, {
		name:   "ghost: on GitHub without an instance",
		github: []github.Runner{offline(ra, 1)},
		goal:   reconcile(0),
		want:   []string{"delete ghost " + ra + " (ghost: on GitHub without an instance)"},
		states: []string{ra + " ghost"},
	}, {
		name:   "ghost GitHub still says busy: deleted all the same (a busy refusal is a later sweep's)",
		github: []github.Runner{busy(ra, 1)},
		goal:   reconcile(1),
		want:   []string{"delete ghost " + ra + " (ghost: on GitHub without an instance)", "create 1"},
	}, {
		name:      "starting within the bootstrap timeout, offline on GitHub",
		instances: []observed{live(ra, 5*time.Minute, 1)},
		github:    []github.Runner{offline(ra, 1)},
		goal:      reconcile(1),
		states:    []string{ra + " starting"},
	}, {
		name:      "starting within the bootstrap timeout, not on GitHub yet (registration token)",
		instances: []observed{live(ra, 5*time.Minute, 0)},
		goal:      reconcile(1),
		states:    []string{ra + " starting"},
	}, {
		name:      "starting exactly at the bootstrap timeout is still starting",
		instances: []observed{live(ra, boot, 1)},
		github:    []github.Runner{offline(ra, 1)},
		goal:      reconcile(1),
		states:    []string{ra + " starting"},
	}, {
		name:      "past the bootstrap timeout, offline on GitHub: never online",
		instances: []observed{live(ra, boot+time.Second, 1)},
		github:    []github.Runner{offline(ra, 1)},
		goal:      reconcile(1),
		want:      []string{"remove " + ra + " (dead: not online after 10m0s), de-register", "create 1"},
		states:    []string{ra + " dead"},
	}, {
		name: "past the bootstrap timeout, offline, but it was online and its listener runs: reconnecting after an outage",
		instances: []observed{func() observed {
			o := live(ra, time.Hour, 1)
			o.listened = true
			return o
		}()},
		github: []github.Runner{offline(ra, 1)},
		goal:   reconcile(1),
		states: []string{ra + " starting"},
	}, {
		name: "it was online, but its process is gone: dead (a runner that stopped, or could not start again)",
		instances: []observed{func() observed {
			o := noProcess(ra, 1)
			o.listened = false
			return o
		}()},
		github: []github.Runner{offline(ra, 1)},
		goal:   reconcile(1),
		want:   []string{"remove " + ra + " (dead: runner process not alive), de-register", "create 1"},
	}, {
		name: "a legacy runner (named before the model) counts but is never surplus",
		instances: []observed{func() observed {
			o := live(ra, time.Hour, 1)
			o.legacy = true
			return o
		}(), live(rb, time.Hour, 2)},
		github: []github.Runner{online(ra, 1), online(rb, 2)},
		goal:   reconcile(0),
		want:   []string{"remove " + rb + " (surplus), de-register, if idle"},
	}, {
		name: "a runner that could not start is dead, with what it said",
		instances: []observed{func() observed {
			o := noProcess(ra, 0)
			o.startFailed = "Process terminated. Couldn't find a valid ICU package installed on the system."
			return o
		}()},
		goal: reconcile(1),
		want: []string{"remove " + ra + " (dead: the runner could not start: Process terminated. Couldn't find a valid ICU package installed on the system.), de-register", "create 1"},
	}, {
		name:      "past the bootstrap timeout, never registered",
		instances: []observed{live(ra, time.Hour, 0)},
		goal:      reconcile(0),
		want:      []string{"remove " + ra + " (dead: not online after 10m0s), de-register"},
	}, {
		name: "no install record: LXD's creation time counts",
		instances: []observed{func() observed {
			o := live(ra, time.Hour, 0)
			delete(o.Config, KeyInstalledAt)
			return o
		}()},
		goal: reconcile(1),
		want: []string{"remove " + ra + " (dead: not online after 10m0s), de-register", "create 1"},
	}, {
		name:      "GitHub unreachable: live runners are kept, none created",
		instances: []observed{live(ra, time.Hour, 1)},
		githubErr: unreachable,
		goal:      reconcile(3),
		states:    []string{ra + " starting"},
	}, {
		name:      "GitHub unreachable: no surplus is judged idle",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Hour, 2)},
		githubErr: unreachable,
		goal:      reconcile(0),
	}, {
		name:      "GitHub unreachable: dead instances go from LXD alone, without de-registering",
		instances: []observed{down(ra, "Stopped", 1), noProcess(rb, 2), live(rc, time.Hour, 3)},
		githubErr: unreachable,
		goal:      reconcile(3),
		want: []string{
			"remove " + ra + " (dead: instance status Stopped)",
			"remove " + rb + " (dead: runner process not alive)",
		},
		states: []string{ra + " dead", rb + " dead", rc + " starting"},
	}, {
		name:      "flush idle: idle and starting runners go if still idle, busy ones stay",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Minute, 2), live(rc, time.Hour, 3)},
		github:    []github.Runner{online(ra, 1), offline(rb, 2), busy(rc, 3)},
		goal:      flush(FlushIdle),
		want: []string{
			"remove " + ra + " (flush), de-register, if idle",
			"remove " + rb + " (flush), de-register, if idle",
			"leave busy " + rc,
		},
	}, {
		name:      "flush busy: busy runners are killed first, idle ones go as they are",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Hour, 2)},
		github:    []github.Runner{online(ra, 1), busy(rb, 2)},
		goal:      flush(FlushBusy),
		want: []string{
			"remove " + ra + " (flush), de-register",
			"remove " + rb + " (flush busy), de-register, kill first",
		},
	}, {
		name:      "flush sweeps the dead and the ghosts too",
		instances: []observed{down(ra, "Error", 1), live(rb, time.Hour, 2)},
		github:    []github.Runner{offline(ra, 1), busy(rb, 2), offline(rc, 3)},
		goal:      flush(FlushIdle),
		want: []string{
			"remove " + ra + " (dead: instance status Error), de-register",
			"leave busy " + rb,
			"delete ghost " + rc + " (ghost: on GitHub without an instance)",
		},
	}, {
		name:      "flush of nothing",
		goal:      flush(FlushBusy),
		instances: nil,
	}, {
		name:      "flush without GitHub removes only the dead instances",
		instances: []observed{down(ra, "Stopped", 1), live(rb, time.Hour, 2)},
		githubErr: unreachable,
		goal:      flush(FlushBusy),
		want:      []string{"remove " + ra + " (dead: instance status Stopped)"},
	}, {
		name: "mixed: the dead and the ghosts go, the busy stay, the shortage is made up",
		instances: []observed{
			down(ra, "Stopped", 1), noProcess(rb, 2), live(rc, time.Hour, 3), live(rd, time.Hour, 4), live(re, time.Minute, 5),
		},
		github: []github.Runner{offline(ra, 1), online(rb, 2), busy(rc, 3), online(rd, 4), offline(re, 5), offline(rf, 6)},
		goal:   reconcile(5),
		want: []string{
			"remove " + ra + " (dead: instance status Stopped), de-register",
			"remove " + rb + " (dead: runner process not alive), de-register",
			"leave busy " + rc,
			"delete ghost " + rf + " (ghost: on GitHub without an instance)",
			"create 2",
		},
		states: []string{ra + " dead", rb + " dead", rc + " busy", rd + " idle", re + " starting", rf + " ghost"},
	}, {
		name:      "mixed: a dead runner goes and the surplus is trimmed, the dead not counted",
		instances: []observed{noProcess(ra, 1), live(rb, 3*time.Hour, 2), live(rc, 2*time.Hour, 3), live(rd, time.Hour, 4)},
		github:    []github.Runner{online(ra, 1), online(rb, 2), online(rc, 3), online(rd, 4)},
		goal:      reconcile(2),
		want: []string{
			"remove " + ra + " (dead: runner process not alive), de-register",
			"remove " + rb + " (surplus), de-register, if idle",
		},
	}, {
		name:      "mixed: wanted met by busy runners alone",
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Hour, 2), live(rc, time.Hour, 3)},
		github:    []github.Runner{busy(ra, 1), busy(rb, 2), online(rc, 3)},
		goal:      reconcile(2),
		want: []string{
			"leave busy " + ra,
			"leave busy " + rb,
			"remove " + rc + " (surplus), de-register, if idle",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			s := snapshot{instances: c.instances, github: c.github, githubErr: c.githubErr, now: now}
			p := decide(s, c.goal)
			var got []string
			for _, a := range p.actions {
				got = append(got, a.String())
			}
			require.Equal(t, c.want, got, "plan: %s", p)
			if c.states != nil {
				var states []string
				for _, r := range p.runners {
					states = append(states, r.Name+" "+string(r.State))
				}
				require.Equal(t, c.states, states)
			}
			// A runner judged healthy is exactly one not dead, not a ghost.
			for _, r := range p.runners {
				require.Equal(t, r.State != StateDead && r.State != StateGhost, r.Healthy, r.Name)
			}
			// What decide removes is never busy unless a busy flush says so.
			for _, a := range p.actions {
				if a.do == actRemove && !a.killFirst {
					for _, r := range p.runners {
						if r.Name == a.name {
							require.NotEqual(t, StateBusy, r.State, a.String())
						}
					}
				}
			}
		})
	}
}

// The GitHub ids go with the actions, from GitHub or, for a runner GitHub
// no longer lists, from the instance's record.
func TestDecideCarriesGitHubIDs(t *testing.T) {
	s := snapshot{
		instances: []observed{live(ra, time.Minute, 7), down(rb, "Stopped", 8)},
		github:    []github.Runner{offline(rb, 8), offline(rc, 9)},
		now:       now,
	}
	p := decide(s, goal{bootstrapTimeout: boot})
	ids := map[string]int64{}
	for _, a := range p.actions {
		ids[a.name] = a.id
	}
	require.Equal(t, map[string]int64{ra: 7, rb: 8, rc: 9}, ids)
}

// Running a decision twice on the same snapshot gives the same plan.
func TestDecideIsAFunction(t *testing.T) {
	s := snapshot{
		instances: []observed{live(ra, time.Hour, 1), live(rb, time.Hour, 2), noProcess(rc, 3)},
		github:    []github.Runner{online(ra, 1), online(rb, 2), offline(rd, 4)},
		now:       now,
	}
	g := goal{wanted: 1, bootstrapTimeout: boot}
	require.Equal(t, decide(s, g), decide(s, g))
}

func TestDecideRemovalTexts(t *testing.T) {
	for r, want := range map[Reason]string{
		{Kind: RemovalInstanceDown, Status: "Stopped"}:            "dead: instance status Stopped",
		{Kind: RemovalInstanceDown}:                               "dead: instance not running",
		{Kind: RemovalProcessGone}:                                "dead: runner process not alive",
		{Kind: RemovalDeregistered}:                               "dead: de-registered from GitHub",
		{Kind: RemovalBootstrapTimeout, Timeout: 2 * time.Second}: "dead: not online after 2s",
		{Kind: RemovalBootstrapTimeout}:                           "dead: not online within the bootstrap timeout",
		{Kind: RemovalGhost}:                                      "ghost: on GitHub without an instance",
		{Kind: RemovalSurplus}:                                    "surplus",
		{Kind: RemovalFlushedIdle}:                                "flush",
		{Kind: RemovalFlushedBusy}:                                "flush busy",
		{}:                                                        "",
		{Kind: RemovalCannotStart}:                                "dead: the runner could not start",
		{Kind: RemovalCannotStart, Said: "no ICU"}:                "dead: the runner could not start: no ICU",
		{Kind: RemovalCannotStart + 1}:                            "RemovalKind(" + strconv.Itoa(int(RemovalCannotStart+1)) + ")",
	} {
		require.Equal(t, want, r.String())
		require.False(t, strings.Contains(r.String(), "%"), r.String())
	}
	for k := RemovalInstanceDown; k <= RemovalFlushedBusy; k++ {
		require.Equal(t, k == RemovalSurplus || k == RemovalFlushedIdle || k == RemovalFlushedBusy, k.healthy(), k.String())
	}
}
