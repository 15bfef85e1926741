package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/limayaml"
)

// TestIdleWatcherSeesShortCalls: a container that is created, runs and is
// removed between two looks keeps the VM up, and the next look with
// nothing new powers it off. (Not `docker run`: dockerd 20.10 keeps the
// server's end of its attach connection for about two minutes after the
// client left, which any look would count as a connected client.) The VM
// test proves the same in the guest.
func TestIdleWatcherSeesShortCalls(t *testing.T) {
	w := newWatcherBench(t, "iw")
	out := w.run(t, `look first
sleep 2
docker -H unix://$sock create --name short --network none pltest/bb /bin/busybox true >/dev/null
docker -H unix://$sock start short >/dev/null
docker -H unix://$sock rm short >/dev/null
sleep 2
look after-a-short-run
sleep 2
look idle
`)
	for _, want := range []string{"first: 0", "after-a-short-run: 0", "idle: 1"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %q in the looks' record", want)
		}
	}
	if kmsg, _ := os.ReadFile(filepath.Join(w.dir, "kmsg")); !strings.Contains(string(kmsg), "pixi-lima: idle-stop at ") {
		t.Errorf("the console line that status reads: %q", kmsg)
	}
}

// TestIdleWatcherSubtractsReaders: a connection to a docker socket is use,
// unless the wake server counts it as one of its read-only connections in
// the project's wake-readers file, and only while that file's sequence
// moves (a dead server's count hides nothing). Before the poweroff the
// watcher writes the snapshot the wake server answers from, here from the
// real dockerd, with a stopped container in it. The connection is a real
// one, to a listener named docker.sock in the watcher's namespace, where
// /proc/net/unix lists it as the guest's does.
func TestIdleWatcherSubtractsReaders(t *testing.T) {
	w := newWatcherBench(t, "ir")
	docker := func(args ...string) {
		t.Helper()
		must(t, exec.Command("docker", append([]string{"-H", "unix://" + w.sock}, args...)...).Run())
	}
	docker("create", "--name", "kept", "--network", "none", "pltest/bb", "/bin/busybox", "true")
	defer exec.Command("docker", "-H", "unix://"+w.sock, "rm", "-f", "kept").Run()
	readers := filepath.Join(w.p.Root, ".pixi", "pixi-lima", "wake-readers")
	snapshot := filepath.Join(w.p.Root, ".pixi", "pixi-lima", "snapshot.json")
	out := w.run(t, `echo 3 >/run/pixi-lima-idle-limit
look first
mkdir $dir/held
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); a, _ = s.accept()
time.sleep(60)' $dir/held/docker.sock &
sleep 2
look held
echo "1 1" >`+readers+`
look counted-but-too-soon
sleep 4
look stale
echo "1 2" >`+readers+`
sleep 4
look counted
`)
	for _, want := range []string{"first: 0", "held: 0", "counted-but-too-soon: 0", "stale: 0", "counted: 1"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %q in the looks' record", want)
		}
	}
	b, err := os.ReadFile(snapshot)
	if err != nil {
		t.Fatalf("no snapshot before the poweroff: %v", err)
	}
	var snap struct {
		Taken      time.Time
		Version    struct{ ApiVersion string }
		Containers []struct{ Names []string }
		Inspect    map[string]struct{ Name string } `json:"containerInspect"`
		Info       map[string]any
	}
	must(t, json.Unmarshal(b, &snap))
	if time.Since(snap.Taken) > time.Minute || snap.Version.ApiVersion == "" || snap.Info["ServerVersion"] == nil {
		t.Errorf("the snapshot's time, version or info: %.300s", b)
	}
	if len(snap.Containers) != 1 || snap.Containers[0].Names[0] != "/kept" || len(snap.Inspect) != 1 {
		t.Errorf("the snapshot's containers: %+v, inspections %+v", snap.Containers, snap.Inspect)
	}
}

// watcherBench runs the guest's idle watcher, as pixi-lima writes it into
// the VM's lima.yaml, on this host against a real dockerd. It runs in
// namespaces of its own: a /run for the watcher's state and the engine's
// socket at /run/docker.sock, /dev/kmsg a file, and systemctl a stand-in
// that only records the poweroff (the real one would power off this
// machine); its own network and pid namespaces hide the other tests'
// engines, clients and processes, which the watcher would count.
type watcherBench struct {
	p         *Project
	dir, sock string
	watcher   string
}

func newWatcherBench(t *testing.T, name string) *watcherBench {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		t.Fatal("starting dockerd needs root")
	}
	p := newProject(t, s, "[workspace]\nname = \""+name+"\"\n")
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), noQEMUPath(t, p),
		"PIXI_LIMA_IMAGE="+qcowImage(t, p)))
	if code != 127 {
		t.Fatalf("init without QEMU: exit %d, want 127 after the create\n%s", code, stderr)
	}
	instDir := filepath.Join(p.Root, ".pixi", "lima", name+"-docker")
	w := &watcherBench{p: p, dir: t.TempDir(), sock: filepath.Join(instDir, "sock", "docker.sock")}
	w.watcher = idleWatcher(t, filepath.Join(instDir, "lima.yaml"))
	startDockerd(t, p, w.sock)
	importBusybox(t, p, "pltest/bb")
	must(t, os.WriteFile(filepath.Join(w.dir, "watcher"), []byte(w.watcher), 0o755))
	must(t, os.MkdirAll(filepath.Join(w.dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(w.dir, "bin", "systemctl"), []byte("#!/bin/sh\necho \"$*\" >>"+w.dir+"/systemctl.log\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(w.dir, "kmsg"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(w.dir, "systemctl.log"), nil, 0o644))
	return w
}

// run runs the shell lines of looks, in which look NAME runs the watcher
// once and records how many poweroffs it asked for by then, and $dir and
// $sock are the bench's; it returns that record.
func (w *watcherBench) run(t *testing.T, looks string) string {
	script := fmt.Sprintf(`set -eu
dir=%[1]s sock=%[2]s
mount -t tmpfs none /run
mount --bind $dir/kmsg /dev/kmsg
ln -s $sock /run/docker.sock
echo 1 >/run/pixi-lima-idle-limit
look() { PATH=$dir/bin:$PATH sh $dir/watcher; echo "$1: $(grep -c poweroff $dir/systemctl.log)"; }
`, w.dir, w.sock) + looks
	b, err := exec.Command("unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", script).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("the watcher's namespace: %v\n%s", err, out)
	}
	t.Logf("poweroffs after each look:\n%s", out)
	return out
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
