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
// dockerd: a `docker run --rm` that starts and ends between two looks
// keeps the VM up, and the next look with nothing new powers it off. It
// runs in a mount namespace whose /run is its own (the watcher's state,
// the engine's socket at /run/docker.sock) with /dev/kmsg a file and
// systemctl a stand-in that only records the poweroff: the real one would
// power off this machine. The VM test proves the same in the guest.
func TestIdleWatcherSeesShortCalls(t *testing.T) {
	p, sock := dockerdProject(t, "iw")
	importBusybox(t, p, "pltest/bb")
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), noQEMUPath(t, p),
		"PIXI_LIMA_IMAGE="+qcowImage(t, p)))
	if code != 127 {
		t.Fatalf("init without QEMU: exit %d, want 127 after the create\n%s", code, stderr)
	}
	watcher := idleWatcher(t, filepath.Join(p.Root, ".pixi", "lima", "iw-docker", "lima.yaml"))

	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "watcher"), []byte(watcher), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "systemctl"), []byte("#!/bin/sh\necho \"$*\" >>"+dir+"/systemctl.log\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "kmsg"), nil, 0o644))
	script := fmt.Sprintf(`set -eu
mount -t tmpfs none /run
mount --bind %[1]s/kmsg /dev/kmsg
ln -s %[2]s /run/docker.sock
echo 1 >/run/pixi-lima-idle-limit
look() { PATH=%[1]s/bin:$PATH sh %[1]s/watcher; echo "$1: $(grep -c poweroff %[1]s/systemctl.log || true)"; }
look first
sleep 2
docker -H unix://%[2]s run --rm --network none pltest/bb /bin/busybox true
sleep 2
look after-a-short-run
sleep 2
look idle
`, dir, sock)
	b, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script).CombinedOutput()
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
