package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// TestFastPath: once a call has taken the full path, the next ones whose
// engine answers become the real docker from package fastpath's init,
// before Lima's packages initialize (the whole point: see bench/). Proved
// with the Go runtime's own trace of package inits (GODEBUG=inittrace=1),
// which the shim and the real docker both print: what the shim initialized
// is everything before docker's own "init runtime". Against a real dockerd
// with the real docker CLI and Compose v2.
func TestFastPath(t *testing.T) {
	p, sock := dockerdProject(t, "fp")

	// call runs the shim's docker with the init trace on and returns its
	// stdout and the packages the first process (the shim) initialized.
	call := func(t *testing.T, extraEnv []string, args ...string) (string, []string) {
		t.Helper()
		cmd := p.Command(p.Bin("docker"), args...)
		cmd.Env = append(append(cmd.Env, "GODEBUG=inittrace=1"), extraEnv...)
		stdout, stderr, code := p.Run(t, cmd)
		if code != 0 {
			t.Fatalf("docker %v: exit %d\n%s", args, code, tailLines(stderr, 20))
		}
		shim := shimInits(stderr)
		if shim == nil {
			t.Fatalf("docker %v: the trace shows one process, not the shim and then docker:\n%s", args, tailLines(stderr, 20))
		}
		return stdout, shim
	}
	has := func(pkgs []string, prefix string) bool {
		for _, p := range pkgs {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	}
	fast := func(t *testing.T, pkgs []string) {
		t.Helper()
		if has(pkgs, "github.com/lima-vm/") || has(pkgs, "github.com/pixi-lima/pixi-lima/shim/fastpath") {
			t.Errorf("the full path ran; the shim initialized:\n%s", strings.Join(pkgs, " "))
		}
	}
	full := func(t *testing.T, pkgs []string) {
		t.Helper()
		// fastpath's own line is printed only when its init returned.
		if !has(pkgs, "github.com/lima-vm/lima/pkg/store") || !has(pkgs, "github.com/pixi-lima/pixi-lima/shim/fastpath") {
			t.Errorf("the fast path ran where it must not; the shim initialized:\n%s", strings.Join(pkgs, " "))
		}
	}
	endpoint := []string{"context", "inspect", "--format", "{{.Endpoints.docker.Host}}"}

	t.Run("first call takes the full path and records", func(t *testing.T) {
		if _, err := os.Stat(fastpath.File(p.Root)); err == nil {
			t.Fatal("a record before any call")
		}
		out, pkgs := call(t, nil, endpoint...)
		full(t, pkgs)
		if out != "unix://"+sock+"\n" {
			t.Errorf("endpoint %q, want the project's socket", out)
		}
		rec, err := os.ReadFile(fastpath.File(p.Root))
		if err != nil || !strings.Contains(string(rec), "socket "+sock+"\n") {
			t.Errorf("record: %v\n%s", err, rec)
		}
	})

	t.Run("then the fast path", func(t *testing.T) {
		out, pkgs := call(t, []string{"DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_CONTEXT=mine"}, endpoint...)
		fast(t, pkgs)
		if out != "unix://"+sock+"\n" {
			t.Errorf("endpoint %q: the user's DOCKER_HOST won", out)
		}
		if len(pkgs) > 40 {
			t.Errorf("the shim initialized %d packages before it became docker, want the ~20 the runtime needs first", len(pkgs))
		}
		out, _ = call(t, nil, "version", "--format", "{{.Server.Version}}")
		if strings.TrimSpace(out) == "" {
			t.Error("docker version printed no server version")
		}
	})

	t.Run("docker compose passes the shim twice, fast both times", func(t *testing.T) {
		cmd := p.Command(p.Bin("docker"), "compose", "version")
		cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1")
		stdout, stderr, code := p.Run(t, cmd)
		if code != 0 || !strings.Contains(stdout, "Docker Compose version") {
			t.Fatalf("docker compose version: exit %d\n%s\n%s", code, stdout, tailLines(stderr, 10))
		}
		if runtimes := strings.Count(stderr, "init runtime @"); runtimes != 4 || strings.Contains(stderr, "github.com/lima-vm/") {
			t.Errorf("want 4 processes (shim, docker, shim, compose) and no Lima package initialized; %d processes:\n%s", runtimes, stderr)
		}
	})

	t.Run("an edited pixi.toml takes the full path once", func(t *testing.T) {
		later := time.Now().Add(2 * time.Second)
		must(t, os.Chtimes(p.Root+"/pixi.toml", later, later))
		_, pkgs := call(t, nil, endpoint...)
		full(t, pkgs)
		_, pkgs = call(t, nil, endpoint...)
		fast(t, pkgs)
	})

	t.Run("a call from another workspace's directory warns once, then is fast", func(t *testing.T) {
		// From A's shell, `cd ../B && docker …` runs in A's engine: B's
		// volumes land on A's disk, B's bind mounts may be empty.
		other := filepath.Join(p.Home, "B")
		must(t, os.MkdirAll(filepath.Join(other, "src"), 0o755))
		must(t, os.WriteFile(filepath.Join(other, "pyproject.toml"), []byte("[project]\nname = \"b\"\n\n[tool.pixi.workspace]\nchannels = []\n"), 0o644))
		inB := func(t *testing.T) (string, []string) {
			t.Helper()
			cmd := p.Command(p.Bin("docker"), endpoint...)
			cmd.Dir = filepath.Join(other, "src")
			cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1", "PWD="+cmd.Dir)
			stdout, stderr, code := p.Run(t, cmd)
			if code != 0 || stdout != "unix://"+sock+"\n" {
				t.Fatalf("docker from B: exit %d, endpoint %q\n%s", code, stdout, tailLines(stderr, 20))
			}
			return stderr, shimInits(stderr)
		}
		const said = "is a pixi workspace of its own"
		stderr, pkgs := inB(t)
		full(t, pkgs)
		if strings.Count(stderr, said) != 1 || !strings.Contains(stderr, "pixi run --manifest-path "+other+" docker") {
			t.Errorf("the first call from B did not say once where it runs:\n%s", tailLines(stderr, 20))
		}
		stderr, pkgs = inB(t)
		fast(t, pkgs)
		if strings.Contains(stderr, said) {
			t.Errorf("the second call from B said it again:\n%s", tailLines(stderr, 20))
		}
		// The project's own directories are not elsewhere, and stay fast.
		_, pkgs = call(t, nil, endpoint...)
		fast(t, pkgs)
	})

	t.Run("a setting in the environment is never served a stale record", func(t *testing.T) {
		// The host's engine, reached through the user's DOCKER_HOST (here
		// the same dockerd, by another address).
		host := []string{"PIXI_LIMA_ENGINE=host", "DOCKER_HOST=unix://" + sock}
		out, pkgs := call(t, host, endpoint...)
		full(t, pkgs)
		if out != "unix://"+sock+"\n" {
			t.Errorf("host engine: endpoint %q", out)
		}
		_, pkgs = call(t, host, endpoint...)
		fast(t, pkgs)
		// And back: the lima engine's record is made again, not the host's used.
		out, pkgs = call(t, []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, endpoint...)
		full(t, pkgs)
		if out != "unix://"+sock+"\n" {
			t.Errorf("back to the VM's engine: endpoint %q", out)
		}
	})
}

// shimInits reads a GODEBUG=inittrace=1 trace of the shim, then docker:
// the packages the shim initialized before docker's runtime; nil when the
// trace shows only one process.
func shimInits(stderr string) []string {
	var shim []string
	runtimes := 0
	for _, line := range strings.Split(stderr, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		if f[1] == "runtime" {
			if runtimes++; runtimes == 2 {
				return shim
			}
		}
		shim = append(shim, f[1])
	}
	return nil
}
