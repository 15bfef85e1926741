package shim

import (
	"fmt"
	"io"
	"os"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// hostEngine is engine = "host": the host's own engine, as the user's
// DOCKER_HOST or docker's default socket finds it. Only the client config
// stays in .pixi.
type hostEngine struct{ noVM }

func newHost(s *session, p *project) engine { return hostEngine{noVM{s, p}} }

func (e hostEngine) docker() env.Overrides { return env.HostEngineOverrides(e.p.paths) }

func (e hostEngine) clients() (map[string]string, string) { return env.ClientVars("", false), "" }

func (e hostEngine) start() error {
	e.s.printf("engine = \"host\": using the host's Docker engine, no VM to start")
	return nil
}

func (e hostEngine) status(st *status) { st.State = "Host" }

func (e hostEngine) describe(w io.Writer, st status) {
	fmt.Fprintf(w, "engine:    host (the host's own Docker engine; no VM)\n")
}

func (e hostEngine) checks() (before, after []check) { return nil, nil }

// noVM is what engines without a VM share: docker reaches them by
// itself, and the commands that manage a VM have nothing to act on.
type noVM struct {
	s *session
	p *project
}

func (e noVM) ready(bool, *fastpath.Record) error { return nil }

func (e noVM) stop(bool) error {
	e.s.printf("engine = %q: there is no VM to manage", e.p.config.Engine)
	return nil
}

func (e noVM) restart() error { return e.stop(false) }

func (e noVM) remove(bool) error { return e.stop(false) }

func (e noVM) prune(bool, bool) error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf("engine = %q: there is no VM disk to reclaim", e.p.config.Engine),
		Hint: "docker system prune (it frees space on that engine)"}
}

// user: only limactl refuses root, so without a VM root is fine.
func (e noVM) user() check {
	if os.Geteuid() == 0 {
		return check{Name: "user", OK: true, Detail: "running as root, which engine " + e.p.config.Engine + " allows (no VM)"}
	}
	return checkUser()
}
