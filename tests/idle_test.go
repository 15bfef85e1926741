package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
)

// TestIdleWatcherSeesShortCalls runs the guest's idle watcher, as
// pixi-lima writes it into the VM's lima.yaml, on this host against a real
// dockerd: a container that is created, runs and is removed between two
// looks keeps the VM up, and the next look with nothing new powers it
// off. (Not `docker run`: dockerd 20.10 keeps the server's end of its
// attach connection for about two minutes after the client left, which
// any look would count as a connected client.) It
// runs in namespaces of its own: a /run for the watcher's state and the
// engine's socket at /run/docker.sock, /dev/kmsg a file, and systemctl a
// stand-in that only records the poweroff (the real one would power off
// this machine); its own network and pid namespaces hide the other
// tests' engines, clients and processes, which the watcher would count.
// The VM test proves the same in the guest.
func TestIdleWatcherSeesShortCalls(t *testing.T) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		t.Fatal("starting dockerd needs root")
	}
	p := newProject(t, s, "[workspace]\nname = \"iw\"\n")
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), noQEMUPath(t, p),
		"PIXI_LIMA_IMAGE="+qcowImage(t, p)))
	if code != 127 {
		t.Fatalf("init without QEMU: exit %d, want 127 after the create\n%s", code, stderr)
	}
	instDir := filepath.Join(p.Root, ".pixi", "lima", "iw-docker")
	watcher := idleWatcher(t, filepath.Join(instDir, "lima.yaml"))
	sock := filepath.Join(instDir, "sock", "docker.sock")
	startDockerd(t, p, sock)
	importBusybox(t, p, "pltest/bb")

	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "watcher"), []byte(watcher), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "systemctl"), []byte("#!/bin/sh\necho \"$*\" >>"+dir+"/systemctl.log\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "kmsg"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "systemctl.log"), nil, 0o644))
	script := fmt.Sprintf(`set -eu
mount -t tmpfs none /run
mount --bind %[1]s/kmsg /dev/kmsg
ln -s %[2]s /run/docker.sock
echo 1 >/run/pixi-lima-idle-limit
look() { PATH=%[1]s/bin:$PATH sh %[1]s/watcher; echo "$1: $(grep -c poweroff %[1]s/systemctl.log)"; }
look first
sleep 2
docker -H unix://%[2]s create --name short --network none pltest/bb /bin/busybox true >/dev/null
docker -H unix://%[2]s start short >/dev/null
docker -H unix://%[2]s rm short >/dev/null
sleep 2
look after-a-short-run
sleep 2
look idle
`, dir, sock)
	b, err := exec.Command("unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", script).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("the watcher's namespace: %v\n%s", err, out)
	}
	t.Logf("poweroffs after each look:\n%s", out)
	for _, want := range []string{"first: 0", "after-a-short-run: 0", "idle: 1"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %q in the looks' record", want)
		}
	}
	if kmsg, _ := os.ReadFile(filepath.Join(dir, "kmsg")); !strings.Contains(string(kmsg), "pixi-lima: idle-stop at ") {
		t.Errorf("the console line that status reads: %q", kmsg)
	}
}

// idleWatcher is the watcher script that the idle-stop provision script of
// lima.yaml installs in the guest.
func idleWatcher(t *testing.T, limaYAML string) string {
	t.Helper()
	b, err := os.ReadFile(limaYAML)
	must(t, err)
	y, err := limayaml.Load(b, limaYAML)
	must(t, err)
	for _, p := range y.Provision {
		if _, rest, ok := strings.Cut(p.Script, "<<'WATCHER'\n"); ok {
			body, _, _ := strings.Cut(rest, "\nWATCHER\n")
			return body + "\n"
		}
	}
	t.Fatalf("no idle watcher in %s", limaYAML)
	return ""
}
