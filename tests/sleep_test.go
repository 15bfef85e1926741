package tests

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/shim/wake"
)

// A sleeping engine's wake socket answers the real docker CLI and the
// Python SDK from the snapshot of a real dockerd, and starts the engine
// for anything else.
func TestSleepingWakeSocket(t *testing.T) {
	p, sock := dockerdProject(t, "sl")
	docker := func(host string, args ...string) *exec.Cmd {
		cmd := exec.Command("/usr/bin/docker", args...)
		cmd.Env = []string{"DOCKER_HOST=unix://" + host, "DOCKER_CONFIG=" + t.TempDir(), "PATH=/usr/bin:/bin", "HOME=" + p.Home}
		cmd.Dir = p.Root
		return cmd
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed (tests/setup.sh installs busybox-static)")
	}
	img := filepath.Join(p.Root, "img")
	must(t, os.MkdirAll(img, 0o755))
	run(t, exec.Command("cp", bb, filepath.Join(img, "busybox")))
	must(t, os.WriteFile(filepath.Join(img, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\n"), 0o644))
	run(t, docker(sock, "build", "-q", "-t", "pltest/sleep:1", img))
	run(t, docker(sock, "volume", "create", "sleepdata"))
	run(t, docker(sock, "create", "--name", "sleeper", "--network=none", "-v", "sleepdata:/data", "pltest/sleep:1", "/bin/busybox", "true"))

	snap := filepath.Join(p.Root, ".pixi", "pixi-lima", "snapshot.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(t, wake.TakeSnapshot(ctx, sock, snap))

	// The wake socket of an engine that is gone: nothing listens there.
	wakeSock := filepath.Join(p.Root, "w.sock")
	l, err := wake.Listen(wakeSock)
	must(t, err)
	var starts atomic.Int32
	srv := &wake.Server{Engine: filepath.Join(p.Root, "gone.sock"), Snapshot: snap, Log: io.Discard,
		Start: func(context.Context, time.Time) error { starts.Add(1); return errors.New("not in this test") }}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(sctx, l) }()
	defer func() { stop(); <-done }()

	out := func(cmd *exec.Cmd) string {
		t.Helper()
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", cmd.Args, err, b)
		}
		return string(b)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "-a", "--format", "{{.Names}} {{.Image}}"}, "sleeper pltest/sleep:1"},
		{[]string{"info"}, "asleep: answered by pixi-lima from the state of "},
		{[]string{"inspect", "--format", "{{.Name}} {{.State.Status}}", "sleeper"}, "/sleeper created"},
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}}"}, "pltest/sleep:1"},
		{[]string{"image", "inspect", "--format", "{{.RepoTags}}", "pltest/sleep:1"}, "[pltest/sleep:1]"},
		{[]string{"volume", "ls", "--format", "{{.Name}}"}, "sleepdata"},
		{[]string{"network", "ls", "--format", "{{.Name}}"}, "none"},
		{[]string{"version", "--format", "{{.Server.Version}}"}, "."},
	} {
		if got := out(docker(wakeSock, c.args...)); !strings.Contains(got, c.want) {
			t.Errorf("docker %s: %q, want %q in it", strings.Join(c.args, " "), got, c.want)
		}
	}
	py := exec.Command("/usr/bin/python3", "-c", `import docker
c = docker.DockerClient(base_url="unix://`+wakeSock+`")
print(c.version()["ApiVersion"], [x.name for x in c.containers.list(all=True)], [n.name for n in c.networks.list()])`)
	if got := out(py); !strings.Contains(got, "['sleeper']") || !strings.Contains(got, "'none'") {
		t.Errorf("the Python SDK: %q", got)
	}
	if n := starts.Load(); n != 0 {
		t.Errorf("read-only calls started the engine %d times", n)
	}

	// docker run needs the engine: it starts it (which fails here).
	if b, err := docker(wakeSock, "run", "--rm", "--network=none", "pltest/sleep:1", "/bin/busybox", "true").CombinedOutput(); err == nil {
		t.Errorf("docker run on a sleeping engine succeeded: %s", b)
	}
	if n := starts.Load(); n == 0 {
		t.Error("docker run did not start the engine")
	}
}
