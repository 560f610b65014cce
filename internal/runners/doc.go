// Package runners manages one unit's pool of self-hosted GitHub Actions
// runners in LXD instances: it reconciles the instances and their GitHub
// registrations with the wanted count, flushes them, and keeps the runner
// image and the runner application current. It knows nothing of Juju.
package runners
