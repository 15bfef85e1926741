package shim

import (
	"io"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// engine is where the project's Docker engine runs. The commands ask it
// and never look at its kind; adding an engine is one file and one line
// in engines.
type engine interface {
	// docker is the environment docker and Compose run with.
	docker() env.Overrides
	// clients is what clients other than the shim get (the activation,
	// pixi-lima env): variables, and shell lines to run after them.
	clients() (vars map[string]string, lines string)
	// ready makes the engine answer the docker call about to run, and notes
	// in rec what lets the fast path skip this next time. A cheap call
	// (--version, completion) must not start anything.
	ready(cheap bool, rec *fastpath.Record) error

	start() error // pixi-lima init
	stop(force bool) error
	restart() error
	remove(force bool) error // pixi-lima delete
	prune(volumes, force bool) error

	status(st *status)
	describe(w io.Writer, st status) // status's text after the instance and state lines
	// user is doctor's first check, which is about who may run the engine;
	// before come after the project's, after follow the client tools'.
	user() check
	checks() (before, after []check)
}

// engines makes each kind of engine for a project.
var engines = map[string]func(*session, *project) engine{
	settings.EngineLima: newVM,
	settings.EngineHost: newHost,
	settings.EngineSSH:  newSSH,
}
