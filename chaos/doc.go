// Package chaos is the resilience suite: trials that break what the runner
// manager and the charm depend on, on the project's real LXD and the GitHub
// and Juju simulators, and check that nothing leaks and that the unit
// converges once the fault is gone. All traffic stays on loopback and unix
// sockets; every trial is bounded in count and time and removes what it
// made.
//
//   - Crash: the reconcile, in a process of its own (the charm binary's
//     command line, `github-runner reconcile`), is killed with SIGKILL after
//     a random delay, after its N-th LXD request or after its N-th GitHub
//     request; then no lock is left held and at most two fresh reconciles
//     bring LXD and GitHub to exactly the wanted runners, the same names on
//     both sides.
//   - GitHub faults: 5xx on 20% of calls, answers slower than the client's
//     timeout, the primary rate limit spent, a secondary rate limit; a busy
//     runner is never removed, the error says why, and the unit converges
//     when the fault lifts.
//   - LXD faults: a second private LXD daemon (scripts/lxd-up.sh with its
//     own TEST_LXD_DIR) is killed and restarted in the middle of a
//     reconcile; runner creation fails (an image alias whose image is gone,
//     a profile whose device cannot start).
//   - Bad input: bad configuration values and action parameters through the
//     packed charm in the Juju simulator each get their message and change
//     nothing.
//   - Secrets: a recognisable token and the JIT configs appear in no log
//     line, status, action result, hook output, instance configuration,
//     process list (host or instance) or file the charm writes, except
//     files of mode 0600 and the charm state Juju keeps.
//
// `go test ./chaos` (and so `make test`) runs the bounded form: 5 crash
// trials, one daemon restart, every other trial once; about two minutes on
// two cores. `make chaos` runs the full form (-chaos.full): 36 crash trials
// and 3 daemon restarts. Each test prints how many of its trials passed, and
// the suite prints the totals. The package holds only tests.
package chaos
