package shim

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
)

// command is one pixi-lima subcommand.
type command struct {
	name    string
	summary string
	run     func(s *session, args []string) error
}

// commandList is every subcommand, in the order `help` prints them. A
// function, not a variable: help refers back to it.
func commandList() []command {
	return []command{
		{"init", "create the project's VM if missing and start it (idempotent)", (*session).cmdInit},
		{"stop", "stop the VM (--force clears a half-running one)", (*session).cmdStop},
		{"restart", "stop and start the VM", (*session).cmdRestart},
		{"delete", "delete the VM and its disk (asks first; --force skips asking)", (*session).cmdDelete},
		{"status", "show the VM's state (--json for machines)", (*session).cmdStatus},
		{"prune", "remove what docker no longer needs and give the disk space back to the host (--volumes: volumes too)", (*session).cmdPrune},
		{"clean-global", "list (--yes: delete) Lima VMs and images in ~/.lima and Lima's cache", (*session).cmdCleanGlobal},
		{"env", "print shell lines that point docker at the project's engine", (*session).cmdEnv},
		{"adopt", "add pixi-lima's dependencies, activation and tasks to this workspace's manifest (--dry-run)", (*session).cmdAdopt},
		{"doctor", "check the host, the project and the VM; say what to fix (--json)", (*session).cmdDoctor},
		{"version", "print pixi-lima's and the pinned Lima's versions", (*session).cmdVersion},
		{"help", "show this help (help settings: the [tool.pixi-lima] keys)", (*session).cmdHelp},
	}
}

// command runs `pixi-lima <subcommand> …`.
func (s *session) command(args []string) error {
	if len(args) == 0 {
		return s.cmdHelp(nil)
	}
	name := args[0]
	switch name {
	case "-h", "--help":
		name = "help"
	case "-v", "--version":
		name = "version"
	}
	if name == wakeCommand {
		return s.cmdWakeSocket(args[1:])
	}
	var names []string
	for _, c := range commandList() {
		if c.name == name {
			return c.run(s, args[1:])
		}
		names = append(names, c.name)
	}
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf("unknown command %q%s", name, settings.Suggest(name, names)),
		Hint: "pixi-lima help lists the commands"}
}

// errHelpShown ends a subcommand after its --help: Main exits 0, printing nothing more.
var errHelpShown = errors.New("help shown")

// flags parses a subcommand's flags; a bad flag is a usage error (exit 2).
func (s *session) flags(name string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintf(s.stdout, "usage: pixi-lima %s [flags]\n", name)
			fs.SetOutput(s.stdout)
			fs.PrintDefaults()
			return errHelpShown // the command must not run: `init --help` would boot
		}
		var known []string
		fs.VisitAll(func(f *flag.Flag) { known = append(known, "--"+f.Name) })
		// Go's flag package reports "-froce" for --froce: compare with the
		// same two dashes, or a swapped letter would be too far to suggest.
		bad := "--" + strings.TrimLeft(strings.TrimPrefix(err.Error(), "flag provided but not defined: "), "-")
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: %s%s", name, err, settings.Suggest(bad, known)),
			Hint: "pixi-lima " + name + " --help"}
	}
	if fs.NArg() > 0 {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0)),
			Hint: "pixi-lima " + name + " --help"}
	}
	return nil
}

// requestedAt is init's flag, for the wake server only (not in --help):
// the time its client's request arrived, which a later stop wins over.
const requestedAt = "--requested-at="

func (s *session) cmdInit(args []string) error {
	if len(args) > 0 && strings.HasPrefix(args[0], requestedAt) {
		at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(args[0], requestedAt))
		if err != nil {
			return &Error{Code: ExitUsage, Msg: fmt.Sprintf("init: %s: %v", args[0], err)}
		}
		s.request, args = lima.Request{By: "a request on the wake socket", At: at, Background: true}, args[1:]
	}
	if err := s.flags("init", args, nil); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	s.syncDockerConfig(p)
	return p.engine.start()
}

func (s *session) cmdStop(args []string) error {
	var force bool
	if err := s.flags("stop", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "kill the VM at once, without a clean shutdown of its guest, even a healthy one "+
			"(not needed for a half-running VM: stop shuts its guest down cleanly first)")
	}); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	return p.engine.stop(force)
}

func (s *session) cmdRestart(args []string) error {
	if err := s.flags("restart", args, nil); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	return p.engine.restart()
}

func (s *session) cmdVersion(args []string) error {
	if err := s.flags("version", args, nil); err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "pixi-lima %s (Lima %s)\n", version(), pinnedLima())
	return nil
}

func (s *session) cmdHelp(args []string) error {
	if len(args) > 0 && args[0] == "settings" {
		fmt.Fprintln(s.stdout, "[tool.pixi-lima] keys in pixi.toml (or pyproject.toml), each overridable by its variable:")
		for _, k := range settings.Keys() {
			fmt.Fprintf(s.stdout, "  %-11s %s\n", k, settings.EnvName(k))
			if n := settings.Note(k); n != "" {
				fmt.Fprintf(s.stdout, "      %s\n", n)
			}
		}
		return nil
	}
	fmt.Fprint(s.stdout, `pixi-lima: a per-repository Docker engine in a Lima VM, kept in .pixi/

As docker, docker-compose or limactl-local (links in .pixi/bin), it starts
the project's VM when needed and runs the real tool against it.

Commands:
`)
	for _, c := range commandList() {
		fmt.Fprintf(s.stdout, "  %-13s %s\n", c.name, c.summary)
	}
	return nil
}

// version is pixi-lima's own version as Go recorded it at build time: the
// module's tag, or (Go 1.24 and later, building in a Git checkout) a
// pseudo-version of the commit; "dev" when Go recorded none.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
