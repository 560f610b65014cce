package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand of the command line mode
// (`github-runner <name> [args]`), run on the unit's machine by an operator.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the command line's table. The runner manager's commands
// (reconcile, flush, check, build-image, update-runner-bin) join it when
// the manager is wired in.
func commands() map[string]command {
	return map[string]command{}
}

// runCLI runs the command line mode: args[0] names the command.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout, cmds)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "github-runner: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	var b strings.Builder
	b.WriteString("Usage: github-runner <command> [arguments]\n\n")
	b.WriteString("The charm's binary. Juju runs it as the charm's dispatch, with no arguments\n")
	b.WriteString("and JUJU_DISPATCH_PATH set; with arguments, it runs one of these commands:\n\n")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %-20s %s\n", name, cmds[name].summary)
	}
	if len(names) == 0 {
		b.WriteString("  (none yet)\n")
	}
	b.WriteString("  help                 show this help\n")
	fmt.Fprint(w, b.String())
}
