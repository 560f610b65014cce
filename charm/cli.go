package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"charm.example/github-runner/internal/cli"
)

// command is one subcommand of the command line mode
// (`github-runner <name> [args]`), run on the unit's machine by an operator.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdio cli.IO) int
}

// commands is the command line's table: the runner pool's commands, which
// mirror the charm's actions (see internal/cli).
func commands() map[string]command {
	out := map[string]command{}
	for _, c := range cli.Commands() {
		out[c.Name] = command{summary: c.Summary, run: c.Run}
	}
	return out
}

// runCLI runs the command line mode: args[0] names the command; getenv
// reads the process environment.
func runCLI(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return cli.ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout, cmds)
		return cli.ExitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "github-runner: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return cli.ExitUsage
	}
	return cmd.run(ctx, args[1:], cli.IO{Stdout: stdout, Stderr: stderr, Getenv: getenv})
}

func usage(w io.Writer, cmds map[string]command) {
	var b strings.Builder
	b.WriteString("Usage: github-runner <command> [flags]\n\n")
	b.WriteString("The charm's binary. Juju runs it as the charm's dispatch, with no arguments\n")
	b.WriteString("and JUJU_DISPATCH_PATH set; with arguments, it runs one of these commands on\n")
	b.WriteString("the runners of one unit (--app, --unit) on this machine:\n\n")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %-20s %s\n", name, cmds[name].summary)
	}
	b.WriteString("  help                 show this help\n\n")
	b.WriteString("Flags mirror the charm's options (--path, --virtual-machines, --lxd-socket, ...);\n")
	b.WriteString("each may also be set as GITHUB_RUNNER_<OPTION> in the environment. The token is\n")
	b.WriteString("read from GITHUB_RUNNER_TOKEN or --token-file, never from an argument.\n")
	b.WriteString("`github-runner <command> -h` lists a command's flags. Exit status: 0 done,\n")
	b.WriteString("1 failed, 2 bad usage or configuration.\n")
	fmt.Fprint(w, b.String())
}
