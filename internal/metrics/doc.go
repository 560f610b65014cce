// Package metrics is the charm's Prometheus metrics: their definitions, the
// hook side that records what happened, and the serving side that exposes
// it on /metrics for the cos-agent subordinate to scrape.
//
// # Design: one small state file, folded by its writers
//
// The events happen in short-lived processes (a hook, an action, the timer's
// reconcile) and in the long-lived exit watcher; the scrape goes to one
// long-lived process. They meet in one file in the unit's state folder,
// metrics.json (mode 0600, names and numbers only: no token, URL query or
// runner configuration ever goes in):
//
//   - A Recorder buffers events in memory while the process works and, on
//     Flush, takes an exclusive flock on metrics.lock, reads the file, folds
//     its events into it with Fold (counters and histogram buckets add up,
//     gauges take the newest value) and replaces it atomically.
//   - The Server reads the file at each scrape, under a shared lock, and turns
//     it into constant metrics with the definitions in this package. It keeps
//     no state of its own.
//
// The file holds cumulative totals, not a log of events, so its size is
// bounded by the number of label values (each metric keeps at most
// MaxSeries of them; the rest count under "other"), whether or not anything
// scrapes it, and counters survive a restart of the serving process. A
// process that dies before Flush loses only its own events. Gauges that
// describe the pool (runners by state, wanted, versions, the image) are the
// snapshot the last reconcile left: the reconcile timestamps make their age
// visible, and the GitHubRunnerNotReconciling alert fires when they stop
// moving.
package metrics
