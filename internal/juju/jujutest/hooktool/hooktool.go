// Package hooktool is the client half of the hook-environment simulator in
// package jujutest: the code of the multi-call program that stands in for
// Juju's hook tools (config-get, status-set, juju-log, ...) on the PATH of a
// simulated hook.
//
// Like Juju's own jujuc, the program is thin: it sends its name, arguments,
// working folder and (when the command reads it) standard input to the unit
// agent, here the simulator, over the unix socket named by
// JUJU_AGENT_SOCKET_ADDRESS, tagged with JUJU_CONTEXT_ID, and prints what the
// agent answers. Everything a tool does, its parsing and its messages
// included, happens in the simulator.
package hooktool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Path is the HTTP path the simulator serves tool requests on.
const Path = "/v1/tool"

// Environment variables the program reads.
const (
	EnvSocket    = "JUJU_AGENT_SOCKET_ADDRESS"
	EnvNetwork   = "JUJU_AGENT_SOCKET_NETWORK"
	EnvContextID = "JUJU_CONTEXT_ID"
)

// Request is one run of a tool, as sent to the simulator.
type Request struct {
	// ContextID is the JUJU_CONTEXT_ID of the hook the tool runs in; empty
	// outside a hook (juju-exec is run that way).
	ContextID string `json:"context-id"`
	// Tool is the tool's name (the base name it was run as).
	Tool string `json:"tool"`
	// Args are the tool's arguments, without the name.
	Args []string `json:"args"`
	// Dir is the tool's working folder.
	Dir string `json:"dir"`
	// Stdin is set when the tool reads its standard input.
	Stdin []byte `json:"stdin,omitempty"`
	// StdinSet says Stdin was read (and may be empty).
	StdinSet bool `json:"stdin-set,omitempty"`
}

// Response is what the tool prints and its exit status.
type Response struct {
	Code   int    `json:"code"`
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
}

// ReadsStdin says whether the tool run with args reads its standard input:
// only `state-set --file -` and `relation-set --file -` do among the
// simulated tools. The program reads standard input only then, so that a
// tool run from a terminal never waits.
func ReadsStdin(tool string, args []string) bool {
	if tool != "state-set" && tool != "relation-set" {
		return false
	}
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--file=-" || a == "-file=-":
			return true
		case (a == "--file" || a == "-file") && i+1 < len(args) && args[i+1] == "-":
			return true
		}
	}
	return false
}

// Main runs the tool named by the base name of argv[0] and returns its exit
// status. getenv reads the environment; dir is the working folder.
func Main(ctx context.Context, argv []string, getenv func(string) string, dir string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "ERROR no tool name")
		return 2
	}
	tool := filepath.Base(argv[0])
	args := argv[1:]
	socket := getenv(EnvSocket)
	if socket == "" {
		fmt.Fprintf(stderr, "ERROR %s not set: %s must run in a hook context\n", EnvSocket, tool)
		return 1
	}
	if network := getenv(EnvNetwork); network != "" && network != "unix" {
		fmt.Fprintf(stderr, "ERROR unsupported %s %q\n", EnvNetwork, network)
		return 1
	}
	req := Request{ContextID: getenv(EnvContextID), Tool: tool, Args: slices.Clone(args), Dir: dir}
	if ReadsStdin(tool, args) {
		data, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR cannot read standard input: %v\n", err)
			return 1
		}
		req.Stdin, req.StdinSet = data, true
	}
	resp, err := call(ctx, socket, req)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR cannot reach the unit agent: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(resp.Stdout)
	_, _ = stderr.Write(resp.Stderr)
	return resp.Code
}

// call sends req to the agent on socket. The dial is bounded; the answer is
// not, since juju-exec answers only when its command ends.
func call(ctx context.Context, socket string, req Request) (*Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 10 * time.Second}
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		return nil, err
	}
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent answered %s: %s", hresp.Status, strings.TrimSpace(string(data)))
	}
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("cannot decode the agent's answer: %w", err)
	}
	return &resp, nil
}
