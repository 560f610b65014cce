package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/juju/jujutest"
)

// Memory is the peak resident memory of reconciles of N runners, in KiB.
type Memory struct {
	N int
	// CLI is the charm binary's command line, `github-runner reconcile`.
	CLIUp, CLISteady int64
	// Charm is the charm binary as the hook process of the timer's event.
	CharmUp, CharmSteady int64
	CharmSkipped         string
}

// peakMemory measures each process reconciling a unit from 0 to N runners
// and then again with nothing to do.
func (b *bench) peakMemory(ctx context.Context, rep *Report) error {
	n := b.s.large
	mem := &Memory{N: n}
	rep.Memory = mem
	dir, err := os.MkdirTemp(b.r.Dir(), "binaries-")
	if err != nil {
		return err
	}
	cli, err := rig.Build(ctx, filepath.Join(dir, "github-runner"), jujutest.CharmPackage)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// The charm's command line.
	u, err := b.unit("memory-cli")
	if err != nil {
		return err
	}
	if err := b.r.LendImage(ctx, u); err != nil {
		return err
	}
	reconcile := func(ctx context.Context) error {
		cmd := b.r.CLICmd(ctx, cli, u, n)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("github-runner reconcile: %w: %s %s", err, strings.TrimSpace(stdout.String()), lastLine(stderr.String()))
		}
		return nil
	}
	for _, dst := range []*int64{&mem.CLIUp, &mem.CLISteady} {
		if *dst, err = sampleHWM(ctx, cli, reconcile); err != nil {
			return err
		}
		if err := b.r.WaitOnline(wctx, u, n); err != nil {
			return err
		}
	}
	if err := b.clean(ctx, u); err != nil {
		return err
	}

	// The charm binary as the hook process of the timer's event.
	if b.charm == nil {
		mem.CharmSkipped = "the charm could not be deployed in this run"
		return nil
	}
	c := b.charm
	if err := c.Sim.SetConfig(map[string]any{"virtual-machines": n}); err != nil {
		return err
	}
	dispatch := filepath.Join(c.Sim.CharmDir(), "dispatch")
	for _, dst := range []*int64{&mem.CharmUp, &mem.CharmSteady} {
		if *dst, err = sampleHWM(ctx, dispatch, c.FireTimer); err != nil {
			return err
		}
		if err := b.r.WaitOnline(wctx, c.Unit, n); err != nil {
			return err
		}
	}
	b.log.Info("peak memory (KiB)", "cli-up", mem.CLIUp, "cli-steady", mem.CLISteady,
		"charm-up", mem.CharmUp, "charm-steady", mem.CharmSteady)
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// sampleHWM runs fn while reading, every 2 ms, the VmHWM of every process
// running the executable exe, and returns the highest seen.
func sampleHWM(ctx context.Context, exe string, fn func(context.Context) error) (int64, error) {
	exe, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var max int64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if v := scanHWM(exe); v > max {
				max = v
			}
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	err = fn(ctx)
	close(done)
	p := <-peak
	if err != nil {
		return 0, err
	}
	if p == 0 {
		return 0, fmt.Errorf("no process of %s was seen running", exe)
	}
	return p, nil
}

// scanHWM returns the highest VmHWM (KiB) of the processes running exe.
func scanHWM(exe string) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var max int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err != nil || target != exe {
			continue
		}
		if v := peakRSS(filepath.Join("/proc", e.Name(), "status")); v > max {
			max = v
		}
	}
	return max
}

// peakRSS returns the VmHWM (peak resident set, KiB) in a /proc status
// file, or 0 when it cannot be read.
func peakRSS(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}
