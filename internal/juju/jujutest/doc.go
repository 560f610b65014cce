// Package jujutest simulates the Juju hook environment of one machine
// charm unit, faithfully enough to run the real charm binary as Juju would.
//
// A Sim lays out the charm folder from a packed .charm (or a folder), puts a
// folder of hook tools first on PATH (one multi-call program, see
// BuildTools and cmd/juju-hook-tools, installed under every tool's name),
// and answers those tools over a unix socket named by
// JUJU_AGENT_SOCKET_ADDRESS, as the unit agent does. Each hook or action
// runs `dispatch` with no arguments, stdin /dev/null, the charm folder as
// working folder and a clean environment holding only Juju's variables (and
// Options.Env), one at a time under a machine lock.
//
// The simulator keeps what the controller keeps, and tests assert on it
// (state in, state out): configuration (config.yaml defaults overlaid by
// SetConfig, checked with juju/charm as `juju config` does), leadership,
// unit and application status with history, workload version, the unit's
// log, charm state with Juju's transactional rule (kept only when the hook
// exits 0), opened ports, secrets with grants, relations to remote
// applications with their units and the databags of both sides (this
// side's writes transactional too, its application databag the leader's
// alone), and action parameters, results, failure messages and logs. Action requests are checked against
// actions.yaml before they reach the charm, as the controller does.
//
// Tests drive it like an operator and Juju would: SetConfig, SetLeader,
// AddSecret, GrantSecret and AddRelation change what the controller holds;
// Deploy, RunHook, Configure, Upgrade, Remove, RunAction, Exec (juju-exec)
// and Shell (a cron or timer line) run the charm; Relate, JoinUnit,
// SetRemoteUnitData, SetRemoteAppData, DepartUnit and RemoveRelation change
// a relation and run the relation hooks Juju runs for it, in Juju's order
// (-created; -joined then -changed per unit; -departed per unit; -broken); UnitStatus, StatusHistory,
// Logs, State, Relation, Runs and Snapshot read the outcome. Dispatch runs
// any JUJU_DISPATCH_PATH below the controller's checks, and InContext (and
// InRelationContext) opens a hook context for code in the test's own
// process (to test a hook tool client against the real tools).
//
// The tools' arguments, outputs, messages and exit codes follow Juju 3.6:
// `ERROR <message>` on stderr, exit status 2 for a bad command line and 1
// for a refused request. Known departures: secrets always serve their
// latest revision; state-set checks the size limits when called rather than
// when the hook commits; peer relations, storage and networks are not
// simulated; a remote side's databags change only when the test changes
// them; a failed hook is not retried by itself (run it again).
package jujutest
