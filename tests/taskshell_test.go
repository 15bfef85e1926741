package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pixi runs a task's cmd with its own shell, deno_task_shell, not bash.
// These tests run the tasks through tests/pixistub, a stand-in for pixi
// (which cannot run here) that does what pixi does with a task: its
// dependencies first, the same cmd string with the extra arguments
// appended single-quoted, pixi's variables and the activation scripts'
// PATH, and the line run by deno's own task shell (`deno task --eval`),
// which tests/setup.sh installs from the npm registry. What the stand-in
// cannot show (pixi's environment solve, its task cache, its activation
// cache) docs/pixi.md lists (What is verified).

// pixiStub builds the stand-in into a directory the test user can read,
// removed when the test ends, and returns that directory: put it first on
// PATH and `pixi` is it.
func pixiStub(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "plpixi")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "pixi"), "./tests/pixistub")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the pixi stand-in: %v\n%s", err, out)
	}
	return dir
}

// deno is the deno binary tests/setup.sh installed.
func deno(t testing.TB) string {
	t.Helper()
	path := os.Getenv("PIXI_LIMA_TEST_DENO")
	if path == "" {
		skipUnlessRequired(t, "PIXI_LIMA_TEST_DENO not set: run the tests with tests/run.sh")
	}
	return path
}

// pixiEnv is environ with the stand-in first on PATH and its settings:
// deno, a cache of deno's own outside HOME, and the programs the packages
// docker-cli, docker-compose and docker-buildx would install.
func pixiEnv(t testing.TB, p *Project, environ []string) []string {
	t.Helper()
	denoDir, err := os.MkdirTemp("/tmp", "pldeno")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(denoDir) })
	must(t, os.Chown(denoDir, p.s.UID, p.s.GID))
	var path string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return append(withoutKey(environ, "PATH"),
		"PATH="+pixiStub(t)+":"+path,
		"PIXI_STUB_DENO="+deno(t),
		"PIXI_STUB_DENO_DIR="+denoDir,
		"PIXI_STUB_DOCKER="+realDocker(t),
		"PIXI_STUB_COMPOSE="+filepath.Join(p.s.Tools, "docker-compose"),
		"PIXI_STUB_BUILDX="+filepath.Join(p.s.Tools, "docker-buildx"))
}

// pixiRunner is `pixi run ARGS…` in the project, as the test user.
type pixiRunner func(t *testing.T, args ...string) (stdout, stderr string, code int)

func newPixiRunner(p *Project, environ []string) pixiRunner {
	return func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		cmd := p.Command("pixi", append([]string{"run"}, args...)...)
		cmd.Env = environ
		return p.Run(t, cmd)
	}
}

// startEngine is the project's instance, created by the real limactl
// (never booted), and a real dockerd answering on the socket Lima would
// forward from its VM.
func startEngine(t *testing.T, p *Project, instance string) (stop func()) {
	t.Helper()
	p.MustRun(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+instance, "template://docker",
		"--set", localImage(qcowImage(t, p))))
	return startDockerd(t, p, filepath.Join(p.Root, ".pixi", "lima", instance, "sock", "docker.sock"))
}

// runEveryTask runs each of pixi-lima's tasks through pixi (the stand-in;
// oldPixi passes a `--` on) in a workspace with pixi-lima installed and its
// engine started (startEngine; stopEngine stops it). install is the name
// of the install task there.
func runEveryTask(t *testing.T, p *Project, pixi, oldPixi pixiRunner, install, instance string, stopEngine func()) {
	mustTask := func(args ...string) string {
		t.Helper()
		out, errOut, code := pixi(t, args...)
		if code != 0 {
			t.Fatalf("pixi run %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
		return out
	}
	hello := filepath.Join(p.Root, "hello")
	must(t, os.MkdirAll(hello, 0o755))
	run(t, exec.Command("cp", "/bin/busybox", filepath.Join(hello, "busybox")))
	must(t, os.WriteFile(filepath.Join(hello, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(p.Root, "compose.yaml"), []byte(`name: pltasks
services:
  hello:
    image: pl-hello:test
    pull_policy: never
    network_mode: none
    command: ["sleep", "300"]
`), 0o644))
	run(t, exec.Command("chown", "-R", "-h", fmt.Sprintf("%d:%d", p.s.UID, p.s.GID), hello, filepath.Join(p.Root, "compose.yaml")))

	// install: with nothing to do it says nothing, changes nothing under
	// .pixi and leaves every output.
	pixiDir := filepath.Join(p.Root, ".pixi")
	// The stand-in's first run in an environment makes its prefix, as
	// pixi's install would have: the default one and the build one.
	mustTask("sh", "-c", "true")
	mustTask(install)
	before := snapshotTree(t, pixiDir)
	if out, errOut, code := pixi(t, install); code != 0 || out+errOut != "" {
		t.Errorf("pixi run %s with nothing to do: exit %d, want 0 and no output; it said:\n%s%s", install, code, out, errOut)
	}
	sameTree(t, before, snapshotTree(t, pixiDir))

	// In the activated environment plain docker is the shim.
	if out, want := mustTask("sh", "-c", "command -v docker; command -v docker-compose"), p.Bin("docker")+"\n"+p.Bin("docker-compose")+"\n"; out != want {
		t.Errorf("after activation docker is\n%s\nwant\n%s", out, want)
	}

	if out := mustTask("container-status"); !strings.Contains(out, "instance:  "+instance) || !strings.Contains(out, "state:     Stopped") {
		t.Errorf("container-status:\n%s", out)
	}
	var status map[string]any
	if out := mustTask("container-status", "--json"); json.Unmarshal([]byte(out), &status) != nil || status["instance"] != instance {
		t.Errorf("container-status --json is not JSON naming %s:\n%s", instance, out)
	}
	if _, errOut, code := pixi(t, "container-init"); code != 0 || !strings.Contains(errOut, "is running") {
		t.Errorf("container-init: exit %d\n%s", code, errOut)
	}

	// docker and compose: the same output whether pixi drops the `--`
	// (0.66 and later) or passes it on (older pixi: the task drops it).
	for _, tc := range []struct{ task, want string }{
		{"docker", "Server:"},
		{"compose", "Docker Compose version"},
	} {
		without := mustTask(tc.task, "version")
		if !strings.Contains(without, tc.want) {
			t.Errorf("pixi run %s version:\n%s", tc.task, without)
		}
		if withDash := mustTask(tc.task, "--", "version"); withDash != without {
			t.Errorf("pixi run %s -- version:\n%s\npixi run %s version:\n%s", tc.task, withDash, tc.task, without)
		}
		if out, errOut, code := oldPixi(t, tc.task, "--", "version"); code != 0 || out != without {
			t.Errorf("older pixi, pixi run %s -- version: exit %d\n%s%s\nwant\n%s", tc.task, code, out, errOut, without)
		}
	}
	mustTask("docker", "--", "build", "-q", "--network=none", "-t", "pl-hello:test", "hello") // the engine has no bridge (startDockerd)
	if out := mustTask("docker", "--", "run", "--rm", "--network=none", "pl-hello:test", "echo", "hi from busybox"); out != "hi from busybox\n" {
		t.Errorf("docker -- run: %q", out)
	}
	mustTask("compose-up")
	if out := mustTask("docker", "ps", "-a", "--format", "{{.Names}} {{.State}}"); !strings.Contains(out, "pltasks-hello-1 running") {
		t.Errorf("after compose-up, docker ps -a:\n%s", out)
	}
	if out := mustTask("compose", "--", "ps", "--services"); out != "hello\n" {
		t.Errorf("compose -- ps --services: %q", out)
	}
	mustTask("compose-down")
	if out := mustTask("docker", "ps", "-a", "-q"); out != "" {
		t.Errorf("after compose-down, docker ps -a -q: %q", out)
	}

	// A client that never calls the shim, in the environment pixi run
	// gives it: Debian's Python SDK finds the project's engine through
	// the activation's DOCKER_HOST, and runs a container there.
	sdk := `import docker
c = docker.from_env()
print(c.containers.run("pl-hello:test", ["echo", "hi from the SDK"], network_mode="none", remove=True).decode(), end="")`
	if out := mustTask("/usr/bin/python3", "-c", sdk); out != "hi from the SDK\n" {
		t.Errorf("the Python SDK in pixi run: %q", out)
	}
	vars := `echo "$DOCKER_HOST $TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE $TESTCONTAINERS_HOST_OVERRIDE"`
	if out, want := mustTask("sh", "-c", vars), "unix://"+filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")+" /var/run/docker.sock 127.0.0.1\n"; out != want {
		t.Errorf("the activation's client variables: %q, want %q", out, want)
	}
	// A value the user set before the activation wins.
	if out := mustTask("sh", "-c", `export TESTCONTAINERS_HOST_OVERRIDE=localhost; . "$PIXI_PROJECT_ROOT/.pixi/pixi-lima/client.env"; `+vars); !strings.HasSuffix(out, " localhost\n") {
		t.Errorf("with the user's TESTCONTAINERS_HOST_OVERRIDE=localhost: %q", out)
	}

	// container-clean-global: the sandbox HOME has no Lima state.
	if out := mustTask("container-clean-global"); !strings.Contains(out, "nothing to clean") {
		t.Errorf("container-clean-global:\n%s", out)
	}

	// container-stop, then container-delete: refused without a terminal,
	// done with --force appended as a pixi user would.
	stopEngine()
	if _, errOut, code := pixi(t, "container-stop"); code != 0 || !strings.Contains(errOut, "already stopped") {
		t.Errorf("container-stop: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := pixi(t, "container-delete"); code != 4 {
		t.Errorf("container-delete without a terminal: exit %d, want 4\n%s", code, errOut)
	}
	mustTask("container-delete", "--force")
	mustNotExist(t, filepath.Join(p.Root, ".pixi", "lima", instance))
}

// TestTaskShellQuoting pins down what the task shell makes of the
// arguments pixi appends, with the stand-in's deno: each word arrives
// whole, spaces and $ included, and one with a ' breaks the line, as it
// does in pixi (prefix-dev/pixi#3753).
func TestTaskShellQuoting(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"q\"\n\n[tasks]\nargs = \"sh -c 'printf \\\"<%s>\\\" \\\"$@\\\"' args\"\n")
	pixi := newPixiRunner(p, pixiEnv(t, p, p.Env()))
	if out, errOut, code := pixi(t, "args", "a b", "$HOME", "*"); code != 0 || out != "<a b><$HOME><*>" {
		t.Errorf("pixi run args 'a b' '$HOME' '*': exit %d, %q %s", code, out, errOut)
	}
	if _, errOut, code := pixi(t, "args", "it's"); code == 0 || !strings.Contains(errOut, "quote") {
		t.Errorf("an argument with a ': exit %d, want a parse error\n%s", code, errOut)
	}
}
