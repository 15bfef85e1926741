package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneAsksForStoppedContainers: a stopped container keeps its
// writable layer through `pixi-lima prune` unless the user says so, as
// `docker system prune` asks before it removes one. A real dockerd stands
// in for the VM's engine on the instance socket, so the trim that ends a
// prune finds no VM; what this test checks happens before it.
func TestPruneAsksForStoppedContainers(t *testing.T) {
	p, _ := dockerdProject(t, "pr")
	docker := func(args ...string) *exec.Cmd { return p.Command(p.Bin("docker"), args...) }
	importBusybox(t, p, "pltest/bb")
	p.MustRun(t, docker("create", "--name", "db", "--network", "none", "pltest/bb", "/bin/busybox", "true"))
	p.MustRun(t, docker("run", "--name", "ran", "--network", "none", "pltest/bb", "/bin/busybox", "true"))
	names := func() string {
		return strings.Join(strings.Fields(p.MustRun(t, docker("ps", "-a", "--format", "{{.Names}}"))), " ")
	}

	stdout, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "prune"))
	t.Logf("prune without a terminal: exit %d\n%s%s", code, stdout, stderr)
	if got := names(); !strings.Contains(got, "db") || !strings.Contains(got, "ran") {
		t.Errorf("prune without --force removed stopped containers: left %q", got)
	}
	for _, want := range []string{"kept 2 stopped containers (", "db", "ran", "pixi-lima prune --force removes them", "docker image prune -f", "docker builder prune -f"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("prune's stderr lacks %q", want)
		}
	}
	if strings.Contains(stderr, "docker container prune") {
		t.Errorf("prune ran docker container prune without --force:\n%s", stderr)
	}

	stdout, stderr, code = p.Run(t, p.Command(p.Bin("pixi-lima"), "prune", "--force"))
	t.Logf("prune --force: exit %d\n%s%s", code, stdout, stderr)
	if got := names(); got != "" {
		t.Errorf("prune --force left containers %q", got)
	}
	if !strings.Contains(stderr, "docker container prune -f") {
		t.Errorf("prune --force did not say it prunes containers:\n%s", stderr)
	}
}

// importBusybox makes an image of Debian's busybox-static alone, without
// a build: docker import of a one-file tar.
func importBusybox(t *testing.T, p *Project, tag string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed (tests/setup.sh installs busybox-static)")
	}
	dir := filepath.Join(p.Root, "bbroot")
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	run(t, exec.Command("cp", bb, filepath.Join(dir, "bin", "busybox")))
	run(t, exec.Command("chown", "-R", p.s.User, dir))
	p.MustRun(t, p.Command("sh", "-c", "tar -C bbroot -cf - . | "+p.Bin("docker")+" import - "+tag))
}
