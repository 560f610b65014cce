package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"charm.example/github-runner/internal/metrics"
)

// metricsRetry is the wait before listening again on an address that
// could not be listened on (not yet configured, or its port taken).
const metricsRetry = 30 * time.Second

// splitAddrs splits a comma-separated list of host:port addresses,
// dropping empty items and repeats.
func splitAddrs(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" || seen[a] {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("%q is not host:port: %w", a, err)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

// serveMetrics serves the metrics recorded in stateDir on every address
// until ctx ends. An address it cannot listen on is logged and tried again
// every metricsRetry: the exit watcher sharing the process goes on.
func serveMetrics(ctx context.Context, stateDir string, addrs []string, log *slog.Logger) error {
	srv, err := metrics.NewServer(metrics.ServerOptions{Dir: stateDir, Log: log})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var lc net.ListenConfig
				ln, err := lc.Listen(ctx, "tcp", addr)
				if err == nil {
					log.Info("Serving metrics", "address", addr, "path", metrics.MetricsPath)
					err = srv.Serve(ctx, ln)
					if err == nil {
						return
					}
				}
				log.Warn("Cannot serve metrics; trying again", "address", addr, "error", err, "retry", metricsRetry)
				select {
				case <-ctx.Done():
				case <-time.After(metricsRetry):
				}
			}
		}()
	}
	wg.Wait()
	return nil
}
