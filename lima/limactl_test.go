package lima

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunCutsChildrenAtBound: limactl stands in here for `limactl shell`
// to a guest that accepts ssh and never answers, a fault no real limactl
// gives without a VM: its child (ssh's place) keeps the output pipe open
// and never ends, and so does a process of another session (the place of
// ssh's ControlMaster, which holds a session's descriptors while the
// command runs on in the guest). The bound must end limactl and its
// child, and Run must return.
func TestRunCutsChildrenAtBound(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	fake := filepath.Join(dir, "limactl")
	escaped := filepath.Join(dir, "escaped.pid")
	script := "#!/bin/sh\nsetsid sh -c 'echo $$ >" + escaped + "; exec sleep 300' &\nsleep 300 &\necho $! >" + pidFile + "\necho started\nwait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l := Limactl{Path: fake, Env: os.Environ(), Stderr: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	begin := time.Now()
	go func() { done <- l.Run(ctx, "trimming", "shell", "vm", "fstrim") }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("Run after its bound: %v, want an error that says the deadline passed", err)
		}
		t.Logf("Run returned after %s: %v", time.Since(begin).Round(time.Millisecond), err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return 15 s after its 1 s bound: the child held its output open")
	}
	if b, err := os.ReadFile(escaped); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			defer syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for deadline := time.Now().Add(2 * time.Second); running(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("limactl's child %d still runs after the bound", pid)
			break
		}
	}
}

// running: the process exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// TestRunHidesTemplateMessage: the template's message, which tells the
// user to create a docker context that pixi-lima makes unnecessary, is not
// passed on (only logged); what limactl says after it is.
func TestRunHidesTemplateMessage(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "limactl")
	script := `#!/bin/sh
echo 'time="2026-01-02T03:04:05Z" level=info msg="READY. Run ` + "`limactl shell x`" + ` to open the shell."' >&2
echo 'time="2026-01-02T03:04:05Z" level=info msg="Message from the instance \"x\":"' >&2
echo 'To run ` + "`docker`" + ` on the host (assumes docker-cli is installed), run the following commands:' >&2
echo '------' >&2
echo 'docker context create lima-x --docker "host=unix:///p/.pixi/lima/x/sock/docker.sock"' >&2
echo 'docker context use lima-x' >&2
echo 'docker run hello-world' >&2
echo '------' >&2
echo 'time="2026-01-02T03:04:06Z" level=info msg="after the message"' >&2
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	logFile := filepath.Join(dir, "x.log")
	l := Limactl{Path: fake, Env: os.Environ(), Stderr: &stderr, Log: logFile}
	if err := l.Run(context.Background(), "starting VM", "start", "x"); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	for _, hidden := range []string{"Message from the instance", "docker context", "hello-world", "------"} {
		if strings.Contains(out, hidden) {
			t.Errorf("stderr shows %q:\n%s", hidden, out)
		}
	}
	if !strings.Contains(out, "READY") || !strings.Contains(out, "after the message") {
		t.Errorf("stderr lost limactl's own lines:\n%s", out)
	}
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "docker context use lima-x") {
		t.Errorf("the log lacks the message:\n%s", b)
	}
}
