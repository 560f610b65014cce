package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath is the path of the metrics.
const MetricsPath = "/metrics"

// ServerOptions configure a Server.
type ServerOptions struct {
	// Dir is the unit's state folder (absolute), where the state file lives.
	Dir string
	// Log receives scrape errors; nil discards them.
	Log *slog.Logger
}

// Server is the serving side: a registry whose collector reads the state
// file at each scrape, and an HTTP handler for it.
type Server struct {
	dir      string
	log      *slog.Logger
	registry *prometheus.Registry
}

// NewServer returns a Server for the state folder opts.Dir, with a registry
// of its own.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("metrics state folder %q is not an absolute path", opts.Dir)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: filepath.Clean(opts.Dir), log: log, registry: prometheus.NewRegistry()}
	if err := s.registry.Register(newCollector(s.dir)); err != nil {
		return nil, fmt.Errorf("cannot register the metrics collector: %w", err)
	}
	return s, nil
}

// Registry is the Server's registry, for a caller that adds collectors of
// its own (the serving process's Go runtime, say).
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handler serves the metrics in Prometheus' text or protobuf format; a
// state file it cannot read answers 500.
func (s *Server) Handler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog:      slogPromLogger{s.log},
		ErrorHandling: promhttp.HTTPErrorOnError,
		Timeout:       10 * time.Second,
	})
}

// Serve answers MetricsPath on ln until ctx is done, then shuts down,
// giving scrapes in flight a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, s.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve metrics: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("cannot stop serving metrics: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cannot serve metrics: %w", err)
	}
	return nil
}

type slogPromLogger struct{ log *slog.Logger }

func (l slogPromLogger) Println(v ...any) {
	l.log.Error("metrics scrape failed", "err", fmt.Sprint(v...))
}

// collector turns the state file into constant metrics at each scrape.
type collector struct {
	dir   string
	descs map[string]*prometheus.Desc
}

// valueType says which metrics are counters; histograms are by their
// buckets; the rest are gauges.
func valueType(name string) prometheus.ValueType {
	switch name {
	case Reconciles, Creations, CreationFailures, Removals, GitHubRequests, ImageBuilds:
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

// zeroSeries are the label values a counter shows as 0 before anything
// happened, so that its first increase is visible to rate() and increase().
func zeroSeries(name string) [][]string {
	var out [][]string
	switch name {
	case Reconciles, ImageBuilds:
		for _, o := range []Outcome{OutcomeSuccess, OutcomeError} {
			out = append(out, []string{string(o)})
		}
	case CreationFailures:
		for _, c := range []CreationCause{CauseLXD, CauseGitHub, CauseImage, CauseTimeout, CauseOther} {
			out = append(out, []string{string(c)})
		}
	case Removals:
		for _, k := range []RemovalKind{RemovalFinished, RemovalDead, RemovalStuck, RemovalExcess, RemovalFlushed, RemovalOrphan} {
			out = append(out, []string{string(k)})
		}
	case Creations:
		out = append(out, nil)
	}
	return out
}

func newCollector(dir string) *collector {
	c := &collector{dir: dir, descs: map[string]*prometheus.Desc{}}
	for name, d := range definitions() {
		c.descs[name] = prometheus.NewDesc(name, d.help, d.labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st, err := ReadState(c.dir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[StateUpdated], err)
		return
	}
	names := make([]string, 0, len(c.descs))
	for name := range c.descs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		desc, labels := c.descs[name], definitions()[name].labels
		if buckets := histogramBuckets(name); buckets != nil {
			series := st.Histograms[name]
			if len(series) == 0 {
				series = map[string]*Histogram{"": {}}
			}
			for key, h := range series {
				ch <- constHistogram(desc, buckets, h, seriesValues(key, len(labels)))
			}
			continue
		}
		if name == StateUpdated {
			if st.Updated > 0 {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, st.Updated)
			}
			continue
		}
		vt := valueType(name)
		var series map[string]float64
		if vt == prometheus.CounterValue {
			series = st.Counters[name]
		} else {
			series = st.Gauges[name]
		}
		shown := map[string]bool{}
		for key, v := range series {
			shown[key] = true
			ch <- prometheus.MustNewConstMetric(desc, vt, v, seriesValues(key, len(labels))...)
		}
		for _, values := range zeroSeries(name) {
			if key := seriesKey(values...); !shown[key] {
				ch <- prometheus.MustNewConstMetric(desc, vt, 0, values...)
			}
		}
	}
}

func constHistogram(desc *prometheus.Desc, buckets []float64, h *Histogram, labels []string) prometheus.Metric {
	cumulative := make(map[float64]uint64, len(buckets))
	var n uint64
	for i, b := range buckets {
		if i < len(h.Counts) {
			n += h.Counts[i]
		}
		cumulative[b] = n
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum, cumulative, labels...)
}
