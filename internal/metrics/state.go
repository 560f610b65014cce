package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// StateFile is the state's file name in the unit's state folder.
const StateFile = "metrics.json"

// stateVersion is the layout of State; a file of another version is
// started afresh.
const stateVersion = 1

// maxStateBytes bounds the file a reader accepts.
const maxStateBytes = 4 << 20

// State is what the state file holds: cumulative counters and histograms
// since the unit began recording, and the newest gauges. Series are keyed
// by their label values joined with labelSep, in the order of the metric's
// label names.
type State struct {
	Version int `json:"version"`
	// Updated is the Unix time of the last write.
	Updated float64 `json:"updated"`
	// Counters are totals by metric and series.
	Counters map[string]map[string]float64 `json:"counters,omitempty"`
	// Histograms are observations by metric and series.
	Histograms map[string]map[string]*Histogram `json:"histograms,omitempty"`
	// Gauges are the newest values by metric and series. In a delta, a
	// metric present replaces all of the metric's series.
	Gauges map[string]map[string]float64 `json:"gauges,omitempty"`
}

// Histogram is one histogram series: Counts[i] observations fell at or
// below the metric's bucket i and above bucket i-1 (not cumulative); the
// last count is those above every bucket.
type Histogram struct {
	Counts []uint64 `json:"counts"`
	Count  uint64   `json:"count"`
	Sum    float64  `json:"sum"`
}

// labelSep joins label values into a series key.
const labelSep = "\x1f"

func seriesKey(values ...string) string { return strings.Join(values, labelSep) }

func seriesValues(key string, n int) []string {
	if n == 0 {
		return nil
	}
	return strings.SplitN(key, labelSep, n)
}

// Fold adds delta to base and returns the result: counters and histogram
// observations add up, a gauge metric in delta replaces base's. A metric
// already holding MaxSeries series counts new ones under "other". base is
// not changed.
func Fold(base, delta State) State {
	out := State{
		Version:    stateVersion,
		Updated:    max(base.Updated, delta.Updated),
		Counters:   map[string]map[string]float64{},
		Histograms: map[string]map[string]*Histogram{},
		Gauges:     map[string]map[string]float64{},
	}
	for name, series := range base.Counters {
		out.Counters[name] = maps.Clone(series)
	}
	for name, series := range base.Histograms {
		m := make(map[string]*Histogram, len(series))
		for k, h := range series {
			m[k] = h.clone()
		}
		out.Histograms[name] = m
	}
	for name, series := range base.Gauges {
		out.Gauges[name] = maps.Clone(series)
	}
	for name, series := range delta.Counters {
		m := out.Counters[name]
		if m == nil {
			m = map[string]float64{}
			out.Counters[name] = m
		}
		for k, v := range series {
			m[boundedKey(m, name, k)] += v
		}
	}
	for name, series := range delta.Histograms {
		m := out.Histograms[name]
		if m == nil {
			m = map[string]*Histogram{}
			out.Histograms[name] = m
		}
		for k, h := range series {
			k = boundedKey(m, name, k)
			if m[k] == nil {
				m[k] = &Histogram{Counts: make([]uint64, len(histogramBuckets(name))+1)}
			}
			m[k].add(h)
		}
	}
	for name, series := range delta.Gauges {
		out.Gauges[name] = maps.Clone(series)
	}
	return out
}

// boundedKey is key, or the "other" series once m holds MaxSeries others.
func boundedKey[V any](m map[string]V, name, key string) string {
	if _, ok := m[key]; ok || len(m) < MaxSeries {
		return key
	}
	n := len(definitions()[name].labels)
	others := make([]string, n)
	for i := range others {
		others[i] = OtherLabelValue
	}
	return seriesKey(others...)
}

func (h *Histogram) clone() *Histogram {
	c := *h
	c.Counts = append([]uint64(nil), h.Counts...)
	return &c
}

func (h *Histogram) add(o *Histogram) {
	if len(h.Counts) < len(o.Counts) {
		h.Counts = append(h.Counts, make([]uint64, len(o.Counts)-len(h.Counts))...)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// observe adds one observation v to h, for a histogram with buckets.
func (h *Histogram) observe(buckets []float64, v float64) {
	if len(h.Counts) != len(buckets)+1 {
		h.Counts = make([]uint64, len(buckets)+1)
	}
	i := len(buckets)
	for j, b := range buckets {
		if v <= b {
			i = j
			break
		}
	}
	h.Counts[i]++
	h.Count++
	h.Sum += v
}

// ErrBadState is wrapped by ReadState for a file it cannot use.
var ErrBadState = errors.New("bad metrics state")

// ReadState reads the state file in dir; a missing file is an empty state.
// It takes no lock: writers replace the file atomically.
func ReadState(dir string) (State, error) {
	path := filepath.Join(dir, StateFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{Version: stateVersion}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("cannot read metrics state: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return State{}, fmt.Errorf("cannot read metrics state: %w", err)
	}
	if info.Size() > maxStateBytes {
		return State{}, fmt.Errorf("cannot read metrics state %s: %w: %d bytes", path, ErrBadState, info.Size())
	}
	var s State
	if err := json.NewDecoder(f).Decode(&s); err != nil {
		return State{}, fmt.Errorf("cannot read metrics state %s: %w: %v", path, ErrBadState, err)
	}
	if s.Version != stateVersion {
		return State{Version: stateVersion}, nil
	}
	return s, nil
}
