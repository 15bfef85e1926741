package shim

import (
	"context"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/lima/ping"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// runTool is docker and docker-compose: make sure the engine answers, then
// become the real tool with the project's environment. Its exit code is
// the process's exit code; nothing of ours is printed on the way.
func (s *session) runTool(tool string, args []string) error {
	depth, err := checkDepth(tool, s.getenv)
	if err != nil {
		return err
	}
	real, err := s.findTool(tool)
	if err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		if isCheap(tool, args) {
			// `docker --version` outside a workspace, or with a setting to
			// fix: nothing here needs the project, so do not stand in the way.
			return s.exec(real, append([]string{tool}, args...), s.environ)
		}
		return err
	}
	overrides := env.DockerOverrides(p.paths, p.config.Name)
	socket := p.paths.DockerSocket(p.config.Name)
	if p.config.Engine == lima.EngineHost {
		overrides, socket = env.HostEngineOverrides(p.paths), ""
	}
	// What the next calls need to skip all this (see package fastpath).
	fastpath.Save(p.paths.Root, fastpath.Record{Socket: socket, Set: overrides.Pairs(), Unset: overrides.Unset}, s.environ)
	if socket != "" && !isCheap(tool, args) && !ping.Engine(socket, 2*time.Second) {
		// Slow path only: the engine did not answer.
		m, err := s.manager(p)
		if err != nil {
			return err
		}
		if err := m.Ensure(context.Background()); err != nil {
			return err
		}
	}
	overrides.Set[depthVar] = strconv.Itoa(depth)
	return s.exec(real, append([]string{tool}, args...), env.Build(s.environ, overrides))
}

// runLimactl is limactl with the environment pixi-lima gives it (the
// project's LIMA_HOME and cache, TCG where KVM is not usable). It never
// boots anything by itself.
func (s *session) runLimactl(args []string) error {
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	path, err := s.limactlPath(p)
	if err != nil {
		return err
	}
	environ, _ := s.limaEnv(p)
	return s.exec(path, append([]string{"limactl"}, args...), environ)
}

// findTool finds the real docker or docker-compose behind the shim.
func (s *session) findTool(tool string) (string, error) {
	var self os.FileInfo
	if exe, err := os.Executable(); err == nil {
		self, _ = os.Stat(exe)
	}
	if real, ok := fastpath.FindReal(tool, s.getenv("PATH"), self); ok {
		return real, nil
	}
	pkg := map[string]string{nameDocker: "docker-cli", nameCompose: "docker-compose"}[tool]
	return "", &Error{Code: ExitNotFound, Msg: "the real " + tool + " is not on PATH (only pixi-lima's shim is)",
		Hint: "pixi add " + pkg + " (or install " + tool + " and put it on PATH)"}
}

// exec replaces this process: no child to wait for, no signals to forward.
func (s *session) exec(path string, argv, environ []string) error {
	err := unix.Exec(path, argv, environ)
	return &Error{Code: ExitNotFound, Msg: "cannot run " + path + ": " + err.Error()}
}
