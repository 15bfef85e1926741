// Package shim is pixi-lima's multi-call entry point: it dispatches on the
// name it was called by, finds and execs the real tool, and implements the
// pixi-lima subcommands. The commands talk to the project's engine (the
// Lima VM, the host's, or one over ssh) through one interface, never to
// Lima's packages; everything it says goes to stderr, and a wrapped tool's
// stdout and exit code are the tool's own.
package shim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
)

// The names install.sh links to the binary, besides pixi-lima itself.
const (
	nameDocker  = "docker"
	nameCompose = "docker-compose"
	nameLimactl = "limactl-local"
)

// forceArg0Var lets tests run the binary under any name without links
// (as rustup's RUSTUP_FORCE_ARG0).
const forceArg0Var = "PIXI_LIMA_FORCE_ARG0"

// Main runs pixi-lima and returns the exit code. Wrapped tools never come
// back here: they replace this process.
func Main(args []string) int {
	// Lima's packages log through logrus; a shim prints its own messages only.
	logrus.SetOutput(io.Discard)
	s := newSession(os.Stdin, os.Stdout, os.Stderr)
	if err := s.dispatch(args); err != nil && err != errHelpShown {
		return report(s.stderr, err)
	}
	return 0
}

// dispatch resolves the name we were called by, then argv[1] (busybox
// style: `pixi-lima docker ps`), else treats the call as a subcommand.
func (s *session) dispatch(args []string) error {
	name := filepath.Base(args[0])
	if forced := os.Getenv(forceArg0Var); forced != "" {
		name = forced
		// The real tool must not see it: s.environ was taken before this.
		os.Unsetenv(forceArg0Var)
		s.environ = env.Build(s.environ, env.Overrides{Unset: []string{forceArg0Var}})
	}
	rest := args[1:]
	if name != nameDocker && name != nameCompose && name != nameLimactl && len(rest) > 0 {
		switch rest[0] {
		case nameDocker, nameCompose, nameLimactl:
			name, rest = rest[0], rest[1:]
		}
	}
	switch name {
	case nameDocker, nameCompose:
		return s.runTool(name, rest)
	case nameLimactl:
		return s.runLimactl(rest)
	}
	return s.command(rest)
}

// session holds the streams and the process facts a call needs; no globals.
type session struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        []string
	// request is why this call may start the VM: init's own, or a wake
	// socket client's on whose behalf the wake server runs init.
	request lima.Request
}

func newSession(stdin io.Reader, stdout, stderr io.Writer) *session {
	return &session{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ(),
		request: lima.Request{By: "pixi-lima init"}}
}

func (s *session) printf(format string, a ...any) {
	fmt.Fprintf(s.stderr, "pixi-lima: "+format+"\n", a...)
}

// isCheap says whether a docker or docker-compose call can run without an
// engine, so that it must never boot the VM: version and help output, shell
// completion, and docker's probe of its CLI plugins.
func isCheap(tool string, args []string) bool {
	// `docker compose …`, and Compose run as docker's plugin: argv[1] is "compose".
	if len(args) > 0 && args[0] == "compose" {
		tool, args = nameCompose, args[1:]
	}
	if len(args) == 0 {
		return true // prints usage
	}
	switch args[0] {
	case "--version", "-v", "--help", "-h", "help", "completion",
		"__complete", "__completeNoDesc", "docker-cli-plugin-metadata":
		return true
	case "version":
		return tool == nameCompose // docker version asks the engine too
	}
	// `docker ps --help`, `docker compose up --help`: subcommand words only,
	// then a help flag. Not `docker run alpine --help`: that goes to the container.
	last := args[len(args)-1]
	if last != "--help" && last != "-h" {
		return false
	}
	words := args[:len(args)-1]
	if len(words) > 2 || (len(words) > 1 && (words[0] == "run" || words[0] == "exec" || words[0] == "create")) {
		return false
	}
	for _, w := range words {
		if strings.HasPrefix(w, "-") || strings.ContainsAny(w, "/:.=") {
			return false
		}
	}
	return true
}
