package metrics

import "sort"

// Metric names. Durations are seconds, times are Unix seconds, counters end
// in _total (Prometheus naming conventions).
const (
	// Runners is a gauge of the unit's runners, by state (see RunnerStates).
	Runners = "github_runner_runners"
	// RunnersWanted is a gauge: the runners the configuration asks for.
	RunnersWanted = "github_runner_runners_wanted"

	// ReconcileDuration is a histogram of reconcile durations.
	ReconcileDuration = "github_runner_reconcile_duration_seconds"
	// Reconciles counts reconciles by outcome (see Outcome).
	Reconciles = "github_runner_reconciles_total"
	// ReconcileLastSuccess is the time of the last successful reconcile.
	ReconcileLastSuccess = "github_runner_reconcile_last_success_timestamp_seconds"
	// ReconcileInterval is the configured time between timer reconciles.
	ReconcileInterval = "github_runner_reconcile_interval_seconds"

	// Creations counts runner creations begun.
	Creations = "github_runner_creations_total"
	// CreationDuration is a histogram of the time from creation to the
	// runner being online in GitHub.
	CreationDuration = "github_runner_creation_duration_seconds"
	// CreationFailures counts failed creations by cause (see CreationCause).
	CreationFailures = "github_runner_creation_failures_total"
	// Removals counts runners removed, by kind (see RemovalKind).
	Removals = "github_runner_removals_total"

	// JobQueueDuration is a histogram of the time jobs waited for a runner.
	JobQueueDuration = "github_runner_job_queue_duration_seconds"
	// JobDuration is a histogram of the time jobs ran.
	JobDuration = "github_runner_job_duration_seconds"

	// GitHubRequests counts GitHub API requests by endpoint and status.
	GitHubRequests = "github_runner_github_requests_total"
	// RateLimitRemaining is the requests left in GitHub's rate limit window.
	RateLimitRemaining = "github_runner_github_rate_limit_remaining"
	// RateLimitQuota is the size of that window.
	RateLimitQuota = "github_runner_github_rate_limit_quota"
	// RateLimitReset is when the window resets.
	RateLimitReset = "github_runner_github_rate_limit_reset_timestamp_seconds"

	// ImageBuildDuration is a histogram of runner image build durations.
	ImageBuildDuration = "github_runner_image_build_duration_seconds"
	// ImageBuilds counts image builds by outcome.
	ImageBuilds = "github_runner_image_builds_total"
	// ImageBuildTimestamp is when the image in use was built; the image's
	// age is time() minus it.
	ImageBuildTimestamp = "github_runner_image_build_timestamp_seconds"
	// ImageRebuildInterval is the configured time between image rebuilds.
	ImageRebuildInterval = "github_runner_image_rebuild_interval_seconds"

	// RunnerApplicationInfo is 1, labelled with the runner application's version.
	RunnerApplicationInfo = "github_runner_runner_application_info"

	// StateUpdated is when the metrics state was last written.
	StateUpdated = "github_runner_metrics_updated_timestamp_seconds"
)

// RunnerState is the state label of Runners.
type RunnerState string

// Runner states.
const (
	RunnerStarting RunnerState = "starting" // created, not yet online
	RunnerIdle     RunnerState = "idle"     // online, waiting for a job
	RunnerBusy     RunnerState = "busy"     // running a job
	RunnerDead     RunnerState = "dead"     // offline or stopped, awaiting removal
)

// RunnerStates are every RunnerState, in order.
func RunnerStates() []RunnerState {
	return []RunnerState{RunnerStarting, RunnerIdle, RunnerBusy, RunnerDead}
}

// Outcome is the outcome label of Reconciles and ImageBuilds.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeError   Outcome = "error"
)

// CreationCause is the cause label of CreationFailures.
type CreationCause string

// Causes of a failed creation.
const (
	CauseLXD     CreationCause = "lxd"     // the instance could not be made or started
	CauseGitHub  CreationCause = "github"  // no JIT configuration, or GitHub refused
	CauseImage   CreationCause = "image"   // no usable runner image
	CauseTimeout CreationCause = "timeout" // never came online in time
	CauseOther   CreationCause = "other"
)

// RemovalKind is the kind label of Removals.
type RemovalKind string

// Kinds of removal.
const (
	RemovalFinished RemovalKind = "finished" // ran its job and exited
	RemovalDead     RemovalKind = "dead"     // crashed or went offline
	RemovalStuck    RemovalKind = "stuck"    // never came online
	RemovalExcess   RemovalKind = "excess"   // more runners than wanted
	RemovalFlushed  RemovalKind = "flushed"  // the flush-runners action
	RemovalOrphan   RemovalKind = "orphan"   // left in LXD or GitHub without its other half
)

// Label names.
const (
	LabelState    = "state"
	LabelOutcome  = "outcome"
	LabelCause    = "cause"
	LabelKind     = "kind"
	LabelEndpoint = "endpoint"
	LabelStatus   = "status"
	LabelVersion  = "version"
)

// OtherLabelValue stands for label values past MaxSeries.
const OtherLabelValue = "other"

// MaxSeries bounds the label values a metric keeps in the state file.
const MaxSeries = 64

// Histogram buckets, in seconds.
var (
	reconcileBuckets = []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	creationBuckets  = []float64{5, 10, 20, 30, 60, 90, 120, 180, 300, 600}
	queueBuckets     = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	jobBuckets       = []float64{10, 30, 60, 300, 600, 1800, 3600, 7200, 21600}
	imageBuckets     = []float64{30, 60, 120, 300, 600, 1200, 1800, 3600}
)

// histogramBuckets are each histogram's upper bounds.
func histogramBuckets(name string) []float64 {
	switch name {
	case ReconcileDuration:
		return reconcileBuckets
	case CreationDuration:
		return creationBuckets
	case JobQueueDuration:
		return queueBuckets
	case JobDuration:
		return jobBuckets
	case ImageBuildDuration:
		return imageBuckets
	}
	return nil
}

// definition is a metric's help text and label names.
type definition struct {
	help   string
	labels []string
}

// definitions are every metric the Server exposes.
func definitions() map[string]definition {
	return map[string]definition{
		Runners:              {"Runners of this unit by state (starting, idle, busy, dead), as the last reconcile saw them.", []string{LabelState}},
		RunnersWanted:        {"Runners the configuration asks this unit to keep.", nil},
		ReconcileDuration:    {"Time one reconcile of the runner pool took.", nil},
		Reconciles:           {"Reconciles of the runner pool, by outcome.", []string{LabelOutcome}},
		ReconcileLastSuccess: {"Unix time of the last successful reconcile.", nil},
		ReconcileInterval:    {"Configured time between timer reconciles.", nil},
		Creations:            {"Runner creations begun.", nil},
		CreationDuration:     {"Time from creating a runner to it being online in GitHub.", nil},
		CreationFailures:     {"Runner creations that failed, by cause (lxd, github, image, timeout, other).", []string{LabelCause}},
		Removals:             {"Runners removed, by kind (finished, dead, stuck, excess, flushed, orphan).", []string{LabelKind}},
		JobQueueDuration:     {"Time a job waited from being queued to starting on a runner of this unit.", nil},
		JobDuration:          {"Time a job ran on a runner of this unit.", nil},
		GitHubRequests:       {"GitHub API requests, by endpoint and HTTP status (or error).", []string{LabelEndpoint, LabelStatus}},
		RateLimitRemaining:   {"Requests left in the GitHub API rate limit window.", nil},
		RateLimitQuota:       {"Requests allowed in a GitHub API rate limit window.", nil},
		RateLimitReset:       {"Unix time the GitHub API rate limit window resets.", nil},
		ImageBuildDuration:   {"Time one runner image build took.", nil},
		ImageBuilds:          {"Runner image builds, by outcome.", []string{LabelOutcome}},
		ImageBuildTimestamp:  {"Unix time the runner image in use was built.", nil},
		ImageRebuildInterval: {"Configured time between runner image rebuilds.", nil},
		RunnerApplicationInfo: {"The GitHub Actions runner application version runners are made with (always 1).",
			[]string{LabelVersion}},
		StateUpdated: {"Unix time the charm last recorded metrics.", nil},
	}
}

// Names are every metric the Server exposes, sorted. Histograms also
// appear as <name>_bucket, <name>_sum and <name>_count in queries.
func Names() []string {
	defs := definitions()
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// IsHistogram says whether name is one of the histograms.
func IsHistogram(name string) bool { return histogramBuckets(name) != nil }
