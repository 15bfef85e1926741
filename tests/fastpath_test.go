package tests

import (
	"os"
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
		var shim []string
		runtimes := 0
		for _, line := range strings.Split(stderr, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "init" {
				continue
			}
			if f[1] == "runtime" {
				if runtimes++; runtimes == 2 {
					break
				}
			}
			shim = append(shim, f[1])
		}
		if runtimes < 2 {
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
