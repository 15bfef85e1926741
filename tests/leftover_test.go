package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// An engine without a VM, set after engine = "lima" made the project's VM,
// still stops and deletes that VM through the real limactl, and never
// reaches the engine it is set to. Nothing boots: the VM is created
// Stopped, as in TestLimactlCreateStatusDelete.

// createStopped has the real limactl create the project's VM, Stopped,
// as engine = "lima" would, and returns its directory.
func createStopped(t *testing.T, p *Project) string {
	t.Helper()
	img := tinyImage(t, p)
	cfg, err := settings.Load(p.Root, func(k string) string {
		return map[string]string{"PIXI_LIMA_IMAGE": img}[k]
	})
	must(t, err)
	_, stderr, code := p.Run(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+cfg.Name,
		cfg.Template, "--set", createExpression(t, cfg, p.Root)))
	if code != 0 {
		t.Fatalf("limactl create: exit %d\n%s", code, stderr)
	}
	return env.NewPaths(p.Root).InstanceDir(cfg.Name)
}

// withEngine is pixi-lima args run with PIXI_LIMA_ENGINE=engine, and a
// PATH whose first ssh only notes that it ran.
func withEngine(t *testing.T, p *Project, engine string, args ...string) *exec.Cmd {
	t.Helper()
	fake := filepath.Join(p.Root, "fakessh")
	must(t, os.MkdirAll(fake, 0o755))
	must(t, os.WriteFile(filepath.Join(fake, "ssh"), []byte("#!/bin/sh\necho \"$@\" >>"+filepath.Join(p.Root, "ssh.ran")+"\nexit 255\n"), 0o755))
	cmd := p.Command(p.Bin("pixi-lima"), args...)
	for i, kv := range cmd.Env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			cmd.Env[i] = "PATH=" + fake + ":" + path
		}
	}
	cmd.Env = append(cmd.Env, "PIXI_LIMA_ENGINE="+engine)
	return cmd
}

// TestLeftoverVMHost: with engine = "host", status names the VM the lima
// engine left, stop finds it stopped, delete asks as for the project's
// own VM, and delete --force removes it through limactl.
func TestLeftoverVMHost(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	dir := createStopped(t, p)
	paths := env.NewPaths(p.Root)

	out := p.MustRun(t, withEngine(t, p, "host", "status"))
	if !strings.Contains(out, `leftover:  VM "lt-docker" from engine "lima", Stopped, `) || !strings.Contains(out, "pixi-lima delete --force deletes it") {
		t.Errorf("status does not name the leftover VM:\n%s", out)
	}

	stdout, stderr, code := p.Run(t, withEngine(t, p, "host", "stop"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, `pixi-lima: VM "lt-docker" is already stopped`) {
		t.Errorf("stop: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	stdout, stderr, code = p.Run(t, withEngine(t, p, "host", "delete"))
	if code != 4 || stdout != "" || !strings.Contains(stderr, `not deleting VM "lt-docker" without confirmation`) {
		t.Errorf("delete without --force: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "diffdisk")); err != nil {
		t.Fatalf("the refused delete lost the disk: %v", err)
	}

	stdout, stderr, code = p.Run(t, withEngine(t, p, "host", "delete", "--force"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, `pixi-lima: deleting VM "lt-docker" …`) {
		t.Errorf("delete --force: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after delete --force: %v", dir, err)
	}
	if log, _ := os.ReadFile(paths.LogFile("lt-docker")); !strings.Contains(string(log), "limactl --tty=false delete --force lt-docker") {
		t.Errorf("the log %s does not record the delete:\n%s", paths.LogFile("lt-docker"), log)
	}

	stdout, stderr, code = p.Run(t, withEngine(t, p, "host", "delete", "--force"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, "there is no VM to manage") {
		t.Errorf("delete --force with nothing left: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestLeftoverVMSSH: with an ssh engine, delete stays refused while there
// is no local VM; with one, delete --force removes it and only it. ssh
// never runs: delete touches nothing on the remote engine.
func TestLeftoverVMSSH(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	const engine = "ssh://dev@127.0.0.1:1"

	stdout, stderr, code := p.Run(t, withEngine(t, p, engine, "delete", "--force"))
	if code != 4 || stdout != "" || !strings.Contains(stderr, "pixi-lima deletes nothing on a remote engine") {
		t.Errorf("delete --force without a local VM: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	dir := createStopped(t, p)
	stdout, stderr, code = p.Run(t, withEngine(t, p, engine, "delete", "--force"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, `pixi-lima: deleting VM "lt-docker" …`) ||
		!strings.Contains(stderr, "nothing on "+engine) {
		t.Errorf("delete --force with a local VM: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after delete --force: %v", dir, err)
	}
	if ran, err := os.ReadFile(filepath.Join(p.Root, "ssh.ran")); err == nil {
		t.Errorf("delete ran ssh: %s", ran)
	}

	stdout, stderr, code = p.Run(t, withEngine(t, p, engine, "delete", "--force"))
	if code != 4 || !strings.Contains(stderr, "pixi-lima deletes nothing on a remote engine") {
		t.Errorf("delete --force once the local VM is gone: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
