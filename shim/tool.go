package shim

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/shim/dockerconfig"
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
	guard := env.Overrides{Set: map[string]string{depthVar: strconv.Itoa(depth)}}
	p, err := s.loadProject()
	if err != nil {
		if isCheap(tool, args) {
			// `docker --version` outside a workspace, or with a setting to
			// fix: nothing here needs the project, so do not stand in the
			// way. The depth still counts: a wrapper loop must end here too.
			return s.exec(real, append([]string{tool}, args...), env.Build(s.environ, guard))
		}
		return err
	}
	overrides := p.engine.docker()
	if dir := dockerconfig.UserDir(s.getenv); dir != "" {
		// For the calls docker makes back into the shim with our DOCKER_CONFIG.
		overrides.Set[dockerconfig.UserVar] = dir
	}
	// What the next calls need to skip all this (see package fastpath).
	rec := fastpath.Record{Set: overrides.Pairs(), Unset: overrides.Unset}
	if err := p.engine.ready(isCheap(tool, args), &rec); err != nil {
		return err
	}
	s.syncDockerConfig(p)
	fastpath.Save(p.paths.Root, rec, s.environ)
	overrides.Set[depthVar] = guard.Set[depthVar]
	return s.exec(real, append([]string{tool}, args...), env.Build(s.environ, overrides))
}

// syncDockerConfig gives the project's docker config the user's plugins
// and credential helpers (package dockerconfig). The fast path skips it
// until the user's config.json changes. A problem there never stops the
// call: docker still works, with fewer plugins.
func (s *session) syncDockerConfig(p *project) {
	if err := dockerconfig.Sync(p.paths, s.getenv, p.config.InheritDockerConfig); err != nil {
		s.printf("warning: %v", err)
	}
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
// Like a shell, it exits 127 when the tool is not there and 126 when it is
// there but cannot be run.
func (s *session) exec(path string, argv, environ []string) error {
	err := unix.Exec(path, argv, environ)
	code := ExitNoExec
	if errors.Is(err, unix.ENOENT) {
		code = ExitNotFound
	}
	return &Error{Code: code, Msg: "cannot run " + path + ": " + err.Error()}
}
