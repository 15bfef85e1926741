package shim

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
)

// Exit codes of pixi-lima's own errors. A wrapped tool's code passes
// through untouched; these are only ever ours.
const (
	ExitFailed   = 1   // Lima or an operation failed
	ExitUsage    = 2   // unknown subcommand or flag
	ExitConfig   = 3   // no project, a bad setting, a socket path too long, root
	ExitRefused  = 4   // a destructive command without confirmation
	ExitLoop     = 5   // shims calling each other: the depth guard stopped it
	ExitNoExec   = 126 // found but cannot be run (as shells say it)
	ExitNotFound = 127 // docker, docker-compose or limactl not installed
)

// Error is the one error type main prints: what happened, and the exact
// next command.
type Error struct {
	Code int
	Msg  string
	Hint string
	Tail []string // last lines of a log, shown indented
	Logs []string // where the whole story is
}

func (e *Error) Error() string { return e.Msg }

// report prints err once, on stderr, and returns its exit code.
func report(stderr io.Writer, err error) int {
	e := asError(err)
	fmt.Fprintf(stderr, "pixi-lima: %s\n", e.Msg)
	if len(e.Tail) > 0 {
		fmt.Fprintln(stderr, "  last lines:")
		for _, l := range e.Tail {
			fmt.Fprintf(stderr, "    %s\n", l)
		}
	}
	if len(e.Logs) > 0 {
		fmt.Fprintf(stderr, "  full log: %s\n", strings.Join(e.Logs, " and "))
	}
	if e.Hint != "" {
		fmt.Fprintf(stderr, "  hint: %s\n", e.Hint)
	}
	return e.Code
}

// asError gives every error from below a code and a hint.
func asError(err error) *Error {
	var e *Error
	var cfg *settings.Error
	var sock *env.SocketPathError
	var stage *lima.StageError
	var tool *lima.MissingToolError
	var damaged *lima.DamagedError
	var rosetta *lima.RosettaError
	var hinted *lima.HintError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &cfg):
		return &Error{Code: ExitConfig, Msg: cfg.Error(), Hint: "fix the setting, then run the command again (keys: pixi-lima help settings)"}
	case errors.As(err, &hinted):
		return &Error{Code: ExitFailed, Msg: hinted.Msg, Hint: hinted.Hint}
	case errors.As(err, &rosetta):
		return &Error{Code: ExitConfig, Msg: rosetta.Error(), Hint: lima.RosettaHint}
	case errors.As(err, &sock):
		return &Error{Code: ExitConfig, Msg: sock.Error(),
			Hint: fmt.Sprintf("use a shorter instance name ([tool.pixi-lima] name = \"...\", %d bytes too long), or move the project to a shorter path", sock.Length-sock.Limit+1)}
	case errors.As(err, &tool):
		return &Error{Code: ExitNotFound, Msg: tool.Error(), Hint: tool.Install}
	case errors.As(err, &stage) && mentions(stage.Tail, "no space left on device"):
		return &Error{Code: ExitFailed, Msg: stage.Error() + ": the disk is full", Tail: stage.Tail, Logs: stage.Logs,
			Hint: "free some disk space (df -h shows where), then run the command again"}
	case errors.As(err, &damaged):
		return &Error{Code: ExitFailed, Msg: damaged.Error(),
			Hint: fmt.Sprintf("to keep it, put back %s/lima.yaml (from a backup); to delete it and its disk on purpose: pixi-lima delete", damaged.Dir)}
	case errors.As(err, &stage):
		hint := stage.Hint
		if hint == "" {
			hint = "pixi-lima doctor shows what is wrong; pixi-lima stop, then the command again, retries from a clean state"
		}
		return &Error{Code: ExitFailed, Msg: stage.Error(), Tail: stage.Tail, Logs: stage.Logs, Hint: hint}
	case errors.Is(err, env.ErrNoProject):
		return &Error{Code: ExitConfig, Msg: err.Error(), Hint: "run inside a pixi workspace (a directory with pixi.toml, or a pyproject.toml with [tool.pixi.workspace]), or set PIXI_PROJECT_ROOT"}
	}
	return &Error{Code: ExitFailed, Msg: err.Error()}
}

func mentions(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
