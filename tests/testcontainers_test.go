package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Testcontainers for Go (tests/e2e/testcontainers, a module of its own)
// finds the engine only through the variables the activation exports, and
// needs more of it than a docker call: a published port, read on the host
// that TESTCONTAINERS_HOST_OVERRIDE names, and the socket Ryuk mounts.

// TestTestcontainers runs the program in `pixi run` (the stand-in) of a
// workspace that has pixi-lima's activation, against a real dockerd behind
// the instance socket. That dockerd has no bridge and leaves the host's
// networking alone (startDockerd), but Testcontainers creates a bridge
// network on an engine without one, and publishes ports. So the engine and
// the program share a network namespace of their own, where a published
// port is on 127.0.0.1 as Lima forwards it from the VM.
func TestTestcontainers(t *testing.T) {
	requireSetup(t)
	// The module proxy is reachable from the host's network only.
	cmd := exec.Command("go", "mod", "download")
	cmd.Dir = filepath.Join(repoRoot(t), "tests", "e2e", "testcontainers")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("downloading Testcontainers for Go: %v\n%s", err, out)
	}
	ownNetwork(t)
	p, _ := dockerdProject(t, "tc")
	withActivation(t, p)

	must(t, os.MkdirAll(filepath.Join(p.Root, "img"), 0o755))
	run(t, exec.Command("cp", "/bin/busybox", filepath.Join(p.Root, "img", "busybox")))
	writeFile(t, p, "img/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n")
	// BuildKit runs RUN in the default network, which this engine lacks.
	p.MustRun(t, p.Command(p.Bin("docker"), "build", "-q", "--network=none", "-t", "pl-tc-busybox", filepath.Join(p.Root, "img")))

	runTestcontainers(t, p, pixiEnv(t, p, p.Env()), "pl-tc-busybox")
	if out := p.MustRun(t, p.Command(p.Bin("docker"), "ps", "-aq")); out != "" {
		t.Errorf("containers left after the program ended: %q", out)
	}
}

// runTestcontainers builds tests/e2e/testcontainers and runs it with a
// local image through `pixi run`, with environ (pixiEnv's) in a workspace
// that has the activation (withActivation). It fails the test unless the
// program found the engine at the wake socket, read its page from a
// published port on 127.0.0.1 and found the socket Ryuk mounts in
// TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE; it returns what the program printed.
func runTestcontainers(t *testing.T, p *Project, environ []string, image string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pltc")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	prog := filepath.Join(dir, "testcontainers")
	cmd := exec.Command("go", "build", "-o", prog, ".")
	cmd.Dir = filepath.Join(repoRoot(t), "tests", "e2e", "testcontainers")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Testcontainers program: %v\n%s", err, out)
	}
	// Ryuk's image is on Docker Hub, which this machine cannot reach; the
	// program removes its container itself. That Ryuk's socket reaches the
	// engine is socketInContainer's check (the VM test).
	environ = append(withoutKey(environ, "TESTCONTAINERS_RYUK_DISABLED"), "TESTCONTAINERS_RYUK_DISABLED=true")
	out, errOut, code := newPixiRunner(p, environ)(t, prog, image)
	if code != 0 {
		t.Fatalf("Testcontainers in pixi run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	wake := "unix://" + filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")
	if !strings.HasPrefix(out, "engine "+wake+"\nread http://127.0.0.1:") || !strings.HasSuffix(out, ": hello from testcontainers\nryuk would mount /var/run/docker.sock\n") {
		t.Errorf("Testcontainers in pixi run printed:\n%s\nwant the engine %s, its page read from 127.0.0.1, and Ryuk mounting /var/run/docker.sock", out, wake)
	}
	t.Logf("Testcontainers in pixi run:\n%s", out)
	return out
}

// withActivation lists pixi-lima's activation script in p's manifest, as
// in a workspace with pixi-lima checked out in pixi-lima/ (a copy of this
// checkout's env/activate.sh).
func withActivation(t *testing.T, p *Project) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "env", "activate.sh"))
	must(t, err)
	writeFile(t, p, "pixi-lima/env/activate.sh", string(script))
	manifest, err := os.ReadFile(filepath.Join(p.Root, "pixi.toml"))
	must(t, err)
	writeFile(t, p, "pixi.toml", string(manifest)+"\n[activation]\nscripts = [\"pixi-lima/env/activate.sh\"]\n")
}

// ownNetwork moves the test's goroutine, and every process it starts from
// now on, into a new network namespace with loopback up. The goroutine
// keeps its thread, which Go discards when the test ends.
func ownNetwork(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
		skipUnlessRequired(t, "a network namespace of its own needs root: %v", err)
	}
	run(t, exec.Command("ip", "link", "set", "lo", "up"))
}
