// Package tests holds pixi-lima's tests across process boundaries: the
// testscript scripts of every user-visible behaviour, and the tests against
// the real limactl, a real dockerd, the real docker CLI and Compose v2, and
// a real Lima VM. tests/setup.sh prepares the machine; tests/run.sh runs it
// and then `go test`.
package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Setup is what tests/setup.sh prepared, passed in PIXI_LIMA_TEST_* variables.
type Setup struct {
	User     string // unprivileged user limactl runs as (it refuses root)
	UID, GID int
	Golden   string // a project install.sh was run in; its .pixi/pixi-lima is copied
	Src      string // a copy of the sources the test user can read
	UserGo   string // the test user's GOPATH, GOMODCACHE and GOCACHE live here
	Tools    string // directory with the real docker-compose (Compose v2)
	Template string // Lima template of the offline guest image ("" without one)
}

// skipUnlessRequired skips a test that lacks what it needs, or fails it
// under tests/run.sh (PIXI_LIMA_TEST_REQUIRE=1), where CI must run it.
func skipUnlessRequired(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("PIXI_LIMA_TEST_REQUIRE") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// requireSetup returns the setup, or skips the test when tests/setup.sh
// has not run. Under tests/run.sh (PIXI_LIMA_TEST_REQUIRE=1) a missing
// setup fails instead: CI must never skip these silently.
func requireSetup(t testing.TB) Setup {
	t.Helper()
	s := Setup{
		User:     os.Getenv("PIXI_LIMA_TEST_USER"),
		Golden:   os.Getenv("PIXI_LIMA_TEST_GOLDEN"),
		Src:      os.Getenv("PIXI_LIMA_TEST_SRC"),
		UserGo:   os.Getenv("PIXI_LIMA_TEST_USER_GO"),
		Tools:    os.Getenv("PIXI_LIMA_TEST_TOOLS"),
		Template: os.Getenv("PIXI_LIMA_E2E_TEMPLATE"),
	}
	if s.User == "" || s.Golden == "" || s.Tools == "" || s.Src == "" {
		skipUnlessRequired(t, "PIXI_LIMA_TEST_* not set: run the tests with tests/run.sh")
	}
	out, err := exec.Command("id", "-u", s.User).Output()
	if err != nil {
		t.Fatalf("test user %s: %v", s.User, err)
	}
	s.UID, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	out, _ = exec.Command("id", "-g", s.User).Output()
	s.GID, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return s
}

// Project is a throwaway pixi workspace with pixi-lima installed.
type Project struct {
	Root string
	Home string // an empty HOME for the user's processes
	s    Setup
}

// newProject makes a workspace under /tmp (short: Lima's sockets must fit
// in 108 bytes) with the given pixi.toml, installs pixi-lima into it with
// the real install.sh, and hands it to the test user. install.sh finds the
// golden build's stamps, so it only links.
func newProject(t testing.TB, s Setup, manifest string) *Project {
	t.Helper()
	root, err := os.MkdirTemp("/tmp", "pl")
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("/tmp", "plh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() || os.Getenv("PIXI_LIMA_TEST_KEEP") == "" {
			os.RemoveAll(root)
			os.RemoveAll(home)
		}
	})
	must(t, os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(manifest), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, ".pixi"), 0o755))
	run(t, exec.Command("cp", "-al", filepath.Join(s.Golden, ".pixi", "pixi-lima"), filepath.Join(root, ".pixi", "pixi-lima")))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), root, home))
	p := &Project{Root: root, Home: home, s: s}
	p.MustRun(t, p.Command(filepath.Join(s.Src, "install.sh"), root))
	return p
}

// Command runs name as the test user in the project, with a clean
// environment: the project's .pixi/bin first on PATH, then the real tools.
func (p *Project) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("setpriv", append([]string{
		"--reuid=" + strconv.Itoa(p.s.UID), "--regid=" + strconv.Itoa(p.s.GID), "--init-groups",
		"--", name}, args...)...)
	cmd.Dir = p.Root
	cmd.Env = p.Env()
	return cmd
}

// Env is the test user's environment in this project.
func (p *Project) Env() []string {
	return []string{
		"PATH=" + strings.Join([]string{filepath.Join(p.Root, ".pixi", "bin"), p.s.Tools,
			"/usr/local/go/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}, ":"),
		"HOME=" + p.Home,
		"USER=" + p.s.User,
		"LANG=C.UTF-8",
		// One Go module and build cache for every test's install.sh (a
		// GOMODCACHE or GOCACHE set wins over its default under .pixi), so
		// that only the golden install builds; TestAdoptReadme installs
		// without them, as a user does.
		"GOPATH=" + p.s.UserGo,
		"GOMODCACHE=" + filepath.Join(p.s.UserGo, "mod"),
		"GOCACHE=" + filepath.Join(p.s.UserGo, "cache"),
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"XDG_CONFIG_HOME=" + filepath.Join(p.s.UserGo, "config"), // Go's telemetry counters
	}
}

// Run runs cmd and returns stdout, stderr and the exit code.
func (p *Project) Run(t testing.TB, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		code = ee.ExitCode()
	}
	t.Logf("%s → exit %d in %s", strings.Join(cmd.Args[4:], " "), code, time.Since(begin).Round(time.Millisecond))
	return stdout.String(), stderr.String(), code
}

// MustRun is Run that fails the test on a non-zero exit.
func (p *Project) MustRun(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	stdout, stderr, code := p.Run(t, cmd)
	if code != 0 {
		t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", cmd.Args, code, stdout, stderr)
	}
	return stdout
}

// Bin is the path of one of the shim's names in the project.
func (p *Project) Bin(name string) string { return filepath.Join(p.Root, ".pixi", "bin", name) }

func run(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// statusMap runs `pixi-lima status --json` and decodes it.
func statusMap(t testing.TB, p *Project) map[string]any {
	t.Helper()
	out := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status", "--json"))
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	return st
}

// qcowImage writes a small qcow2 image in the project, owned by the test
// user, to stand in for the image Lima would download (no internet here).
func qcowImage(t testing.TB, p *Project) string {
	t.Helper()
	img := filepath.Join(p.Root, "img.qcow2")
	run(t, exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "64M"))
	run(t, exec.Command("chown", fmt.Sprintf("%d:%d", p.s.UID, p.s.GID), img))
	return img
}

// localImage is the --set expression that makes limactl create use a local
// disk image instead of downloading one.
func localImage(path string) string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	return fmt.Sprintf(`.images = [{"location": %q, "arch": %q}]`, path, arch)
}

// dockerdProject is a workspace named name whose instance socket has a
// real dockerd behind it (startDockerd): the project's docker reaches it
// as it would the VM's engine. It skips where dockerd cannot start (not root).
func dockerdProject(t *testing.T, name string) (*Project, string) {
	t.Helper()
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "starting dockerd needs root")
	}
	p := newProject(t, s, "[workspace]\nname = \""+name+"\"\n")
	sock := env.NewPaths(p.Root).DockerSocket(name + "-docker")
	startDockerd(t, p, sock)
	return p, sock
}

// startDockerd runs Debian's dockerd as root listening on socket, usable by
// the test user's group, with labels so a test can tell engines apart. Its
// state lives in a short directory of its own (containerd's sockets go
// under the exec root), and it never touches the host's networking, which
// other engines on this machine may use. It returns once the engine
// answers GET /_ping; it is stopped and its state removed when the test
// ends, or earlier by the returned stop, which may be called more than once.
func startDockerd(t testing.TB, p *Project, socket string, labels ...string) (stop func()) {
	t.Helper()
	const dockerd = "/usr/sbin/dockerd"
	if _, err := os.Stat(dockerd); err != nil {
		t.Fatal("dockerd is not installed (tests/setup.sh installs docker.io)")
	}
	dir, err := os.MkdirTemp("/tmp", "pld")
	must(t, err)
	// The socket's directory is the test user's, as Lima would make it.
	p.MustRun(t, p.Command("mkdir", "-p", filepath.Dir(socket)))
	args := []string{"-H", "unix://" + socket, "--group", p.s.User,
		"--data-root", filepath.Join(dir, "d"), "--exec-root", filepath.Join(dir, "x"), "--pidfile", filepath.Join(dir, "pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none"}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	logPath := filepath.Join(dir, "log")
	logf, err := os.Create(logPath)
	must(t, err)
	cmd := exec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
			logf.Close()
			if t.Failed() {
				if log, err := os.ReadFile(logPath); err == nil {
					t.Logf("dockerd on %s, its log:\n%s", socket, tailLines(string(log), 40))
				}
			}
			os.RemoveAll(dir)
		})
	}
	t.Cleanup(stop)
	// Readiness, not timing: the bound only keeps a hung engine from
	// hanging the test. On failure, stop logs the engine's log.
	for deadline := time.Now().Add(90 * time.Second); !ping.Engine(socket, 2*time.Second); {
		select {
		case <-exited:
			t.Fatalf("dockerd on %s exited before it answered", socket)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd on %s did not answer", socket)
		}
	}
	return stop
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
