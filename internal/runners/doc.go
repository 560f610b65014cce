// Package runners manages one unit's pool of self-hosted GitHub Actions
// runners in LXD instances: it reconciles the instances and their GitHub
// registrations with the wanted count, flushes them, and keeps the runner
// image and the runner application current. It knows nothing of Juju.
//
// A Reconcile or a Flush observes (observe.go: one LXD listing, one GitHub
// listing, a liveness probe per instance), decides (decide.go: a pure
// function of that snapshot, the clock and the goal, giving the judged
// runners and a list of actions) and acts (reconcile.go and create.go:
// bounded parallel removals and creations, each failure cleaned up and
// reported). Beside the Manager: the ImageBuilder (image.go), the AppStore
// of the runner application tarball (appstore.go), what goes into a runner
// instance (instance.go), and the exit watcher (watch.go).
package runners
