package shim

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/term"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/shim/dockerconfig"
)

// project is the workspace a call acts on, with its settings.
type project struct {
	paths  env.Paths
	config settings.Config
	engine engine
}

// loadProject finds the workspace (see env.FindRoot) and reads its settings.
func (s *session) loadProject() (*project, error) {
	exe, _ := os.Executable()
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := env.FindRoot(exe, s.getenv, cwd)
	if err != nil {
		return nil, err
	}
	cfg, err := settings.Load(root, s.getenv)
	if err != nil {
		return nil, err
	}
	if cfg.NameNote != "" {
		s.printf("%s", cfg.NameNote)
	}
	cfg.RootAliases = env.Aliases(root, s.getenv, runtime.GOOS)
	p := &project{paths: env.NewPaths(root), config: cfg}
	p.engine = engines[cfg.EngineKind()](s, p)
	saveClientEnv(p)
	return p, nil
}

// limactlPath picks limactl: $LIMACTL, else the copy install.sh built into
// .pixi, else the first on PATH.
func (s *session) limactlPath(p *project) (string, error) {
	if path := s.getenv("LIMACTL"); path != "" {
		return path, nil
	}
	if _, err := os.Stat(p.paths.Limactl()); err == nil {
		return p.paths.Limactl(), nil
	}
	if path, err := exec.LookPath("limactl"); err == nil {
		return path, nil
	}
	return "", &Error{Code: ExitNotFound, Msg: "limactl not found: it was not built into " + p.paths.Limactl() + " and is not on PATH",
		Hint: "./install.sh (or: pixi run install)"}
}

// manager prepares the Lima side of a call: limactl with the project's
// environment, and the checks that must pass before Lima runs.
func (s *session) manager(p *project) (*lima.Manager, error) {
	// The socket budget is about the project's path, whoever runs the call:
	// say it before anything else, root included, and before Lima creates.
	if _, err := os.Stat(p.paths.InstanceDir(p.config.Name)); errors.Is(err, fs.ErrNotExist) {
		if err := env.CheckSocketBudget(p.paths.LimaHome, p.config.Name, runtime.GOOS); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() == 0 {
		return nil, &Error{Code: ExitConfig, Msg: "limactl refuses to run as root, so pixi-lima cannot manage a VM as root",
			Hint: "run it as your normal user; on a Linux host you may use the host's engine instead: PIXI_LIMA_ENGINE=host"}
	}
	path, err := s.limactlPath(p)
	if err != nil {
		return nil, err
	}
	limaEnv, tcg := s.limaEnv(p)
	l := s.limactl(path, limaEnv, p.paths.LogFile(p.config.Name))
	if s.getenv("LIMACTL") != "" {
		s.warnVersion(l)
	}
	m := lima.NewManager(p.paths, p.config, l, tcg)
	m.OnStart = func(proxy settings.Proxy) error { return dockerconfig.SetProxies(p.paths.DockerConfig, proxy) }
	return m, nil
}

// limactl is how every limactl run of a session reports: progress on our
// stderr (a grey tail on a terminal), the whole output in log.
func (s *session) limactl(path string, environ []string, log string) lima.Limactl {
	return lima.Limactl{Path: path, Env: environ, Stderr: s.stderr, TTY: isTerminal(s.stderr), Log: log}
}

// warnVersion says when a limactl chosen by LIMACTL is not the pinned one:
// templates and the guest agent are matched to the pinned version.
func (s *session) warnVersion(l lima.Limactl) {
	out, err := l.Output(context.Background(), "--version")
	if err != nil {
		s.printf("warning: LIMACTL=%s does not run: %v", l.Path, err)
		return
	}
	got := strings.TrimPrefix(strings.TrimSpace(string(out)), "limactl version ")
	if want := strings.TrimPrefix(pinnedLima(), "v"); got != want {
		s.printf("warning: LIMACTL=%s is Lima %s; pixi-lima is built and tested with Lima %s", l.Path, got, want)
	}
}

// pinnedLima is the Lima version go.mod pins, as compiled in.
func pinnedLima() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/lima-vm/lima" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// limaEnv is limactl's whole environment: the project's LIMA_HOME and cache
// and, on Linux without a usable KVM, QEMU's software emulation (tcg). It
// points the cache at the shared image-cache first; not as root, whose
// directories the user could not write (limactl refuses root anyway).
func (s *session) limaEnv(p *project) (environ []string, tcg bool) {
	if os.Geteuid() != 0 {
		if err := lima.LinkImageCache(p.paths.LimaCache(runtime.GOOS), p.config.ImageCache); err != nil {
			s.printf("warning: image-cache: %v; Lima's download cache stays where it was", err)
		}
	}
	overrides := env.LimaOverrides(p.paths, runtime.GOOS)
	key, value, tcg := lima.TCGFallback(p.config.VMType, s.getenv)
	if tcg {
		overrides.Set[key] = value
	}
	return env.Build(s.environ, overrides), tcg
}
