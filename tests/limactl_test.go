package tests

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/limayaml"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
)

// These tests run the real limactl that install.sh built from the pinned
// module, as the unprivileged test user. Nothing boots: an instance that
// exists but is Stopped is all they need.

const limactlManifest = `[workspace]
name = "lt"

[tool.pixi-lima]
cpus = 1
memory = "1GiB"
disk = "3GiB"
`

// tinyImage writes a 1 MiB file to serve as the instance's disk image:
// limactl create copies it in and never looks inside; nothing boots it.
func tinyImage(t *testing.T, p *Project) string {
	t.Helper()
	img := filepath.Join(p.Root, "img.raw")
	must(t, os.WriteFile(img, make([]byte, 1<<20), 0o644))
	must(t, os.Chown(img, p.s.UID, p.s.GID))
	return img
}

// TestLimactlCreateStatusDelete: an instance the real limactl creates with
// pixi-lima's own create expression is the instance pixi-lima's status,
// limactl-local and delete see, all inside the project's .pixi.
func TestLimactlCreateStatusDelete(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	img := tinyImage(t, p)
	paths := env.NewPaths(p.Root)

	// The product's own settings and expression, handed to the real limactl.
	cfg, err := settings.Load(p.Root, func(k string) string {
		if k == "PIXI_LIMA_IMAGE" {
			return img
		}
		return ""
	})
	must(t, err)
	if cfg.Name != "lt-docker" {
		t.Fatalf("instance name %q, want lt-docker", cfg.Name)
	}
	_, stderr, code := p.Run(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+cfg.Name,
		cfg.Template, "--set", createExpression(t, cfg, p.Root)))
	if code != 0 {
		t.Fatalf("limactl create: exit %d\n%s", code, stderr)
	}

	// lima.yaml is what the expression asked for: the project mounted
	// writable at its own path and nothing else (the template's home mount
	// is gone), and the project's resources.
	data, err := os.ReadFile(filepath.Join(paths.InstanceDir(cfg.Name), "lima.yaml"))
	must(t, err)
	var y limayaml.LimaYAML
	must(t, limayaml.Unmarshal(data, &y, "lima.yaml"))
	if len(y.Mounts) != 1 || y.Mounts[0].Location != p.Root || y.Mounts[0].Writable == nil || !*y.Mounts[0].Writable {
		t.Errorf("mounts = %s, want exactly %s writable", asJSON(y.Mounts), p.Root)
	}
	if y.CPUs == nil || *y.CPUs != 1 || y.Memory == nil || *y.Memory != "1GiB" || y.Disk == nil || *y.Disk != "3GiB" {
		t.Errorf("cpus/memory/disk = %s/%s/%s, want 1/1GiB/3GiB", asJSON(y.CPUs), asJSON(y.Memory), asJSON(y.Disk))
	}
	if len(y.Images) != 1 || y.Images[0].Location != img {
		t.Errorf("images = %s, want only %s", asJSON(y.Images), img)
	}
	// Everything went into .pixi: HOME is as empty as the test made it.
	if entries, _ := os.ReadDir(p.Home); len(entries) != 0 {
		t.Errorf("limactl wrote into HOME: %v", dirNames(entries))
	}

	// limactl-local sees the project's LIMA_HOME.
	out := p.MustRun(t, p.Command(p.Bin("limactl-local"), "list", "--format", "{{.Name}} {{.Status}} {{.Dir}}"))
	if want := fmt.Sprintf("lt-docker Stopped %s\n", paths.InstanceDir("lt-docker")); out != want {
		t.Errorf("limactl-local list = %q, want %q", out, want)
	}

	// status, through Lima's pkg/store, without limactl.
	st := statusMap(t, p)
	for key, want := range map[string]any{
		"instance": "lt-docker", "state": "Stopped", "dir": paths.InstanceDir("lt-docker"),
		"cpus": 1.0, "memoryBytes": float64(1 << 30), "diskBytes": float64(3 << 30),
		"limaVersion": "v1.2.2", "dockerAnswers": false, "vmType": "qemu",
		"socket": "unix://" + paths.DockerSocket("lt-docker"),
	} {
		if st[key] != want {
			t.Errorf("status %s = %v, want %v", key, st[key], want)
		}
	}
	if used, _ := st["diskUsedBytes"].(float64); used < 1<<20 {
		t.Errorf("diskUsedBytes = %v, want at least the 1 MiB image", st["diskUsedBytes"])
	}
	out = p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status"))
	for _, line := range []string{"state:     Stopped\n", "resources: 1 CPUs, 1GiB memory, 3GiB disk (", "lima:      v1.2.2 (qemu)\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("status lacks %q:\n%s", line, out)
		}
	}
	out = p.MustRun(t, p.Command(p.Bin("pixi-lima"), "version"))
	if !strings.HasSuffix(out, " (Lima v1.2.2)\n") {
		t.Errorf("version = %q, want the pinned Lima v1.2.2", out)
	}

	// delete without a terminal and without --force: refused, nothing lost.
	stdout, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "delete"))
	if code != 4 || stdout != "" ||
		!strings.Contains(stderr, `pixi-lima: not deleting VM "lt-docker" without confirmation: its disk (`) ||
		!strings.Contains(stderr, "every container, image and volume in it will be lost") ||
		!strings.Contains(stderr, "  hint: pixi-lima delete --force\n") {
		t.Errorf("delete without --force: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(paths.InstanceDir("lt-docker"), "diffdisk")); err != nil {
		t.Fatalf("the refused delete lost the disk: %v", err)
	}

	// delete --force goes through the real limactl.
	stdout, stderr, code = p.Run(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, `pixi-lima: deleting VM "lt-docker" …`) {
		t.Errorf("delete --force: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(paths.InstanceDir("lt-docker")); !os.IsNotExist(err) {
		t.Errorf("instance dir still there after delete --force: %v", err)
	}
	if out := p.MustRun(t, p.Command(p.Bin("limactl-local"), "list", "--quiet")); out != "" {
		t.Errorf("limactl-local list after delete: %q", out)
	}
	if st := statusMap(t, p); st["state"] != "Missing" {
		t.Errorf("status after delete: %v, want Missing", st["state"])
	}
	log, _ := os.ReadFile(paths.LogFile("lt-docker"))
	if !strings.Contains(string(log), "limactl --tty=false delete --force lt-docker") {
		t.Errorf("the log %s does not record the delete:\n%s", paths.LogFile("lt-docker"), log)
	}

	// With no VM, delete and stop have nothing to do and say so.
	for _, cmd := range []string{"delete", "stop"} {
		stdout, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), cmd))
		if code != 0 || stdout != "" || !strings.Contains(stderr, `VM "lt-docker" does not exist; nothing to `+cmd) {
			t.Errorf("%s with no VM: exit %d\nstdout: %s\nstderr: %s", cmd, code, stdout, stderr)
		}
	}
}

// TestInitCreateFailureCleansUp: the product's own create path with an
// image that cannot be fetched (an unreachable URL, so the result does not
// depend on the network) fails at the create stage with Lima's words, the
// log's place and exit 1, and leaves no half-made instance behind.
func TestInitCreateFailureCleansUp(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	cmd := p.Command(p.Bin("pixi-lima"), "init")
	cmd.Env = append(cmd.Env, "PIXI_LIMA_IMAGE=http://127.0.0.1:1/none.img")
	stdout, stderr, code := p.Run(t, cmd)
	paths := env.NewPaths(p.Root)
	for _, want := range []string{
		`pixi-lima: creating VM "lt-docker" from template://docker (1 CPUs, 1GiB memory, 3GiB disk) …`,
		`pixi-lima: error at 'creating VM "lt-docker" from template://docker`,
		"  last lines:\n",
		"127.0.0.1:1",
		"  full log: " + paths.LogFile("lt-docker"),
		"  hint: ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if code != 1 || stdout != "" {
		t.Errorf("init: exit %d (want 1), stdout %q\nstderr:\n%s", code, stdout, stderr)
	}
	// Nothing is left to stop after a failed create.
	if strings.Contains(stderr, "pixi-lima stop") || !strings.Contains(stderr, "hint: pixi-lima doctor shows what is wrong; fix it") {
		t.Errorf("the hint after a failed create:\n%s", stderr)
	}
	if _, err := os.Stat(paths.InstanceDir("lt-docker")); !os.IsNotExist(err) {
		t.Errorf("a half-made instance was left behind: %v", err)
	}
	if st := statusMap(t, p); st["state"] != "Missing" {
		t.Errorf("status after the failed create: %v, want Missing", st["state"])
	}
	// The lock was released when init ended.
	l, ok, err := lima.TryLock(paths.LockFile())
	if err != nil || !ok {
		t.Fatalf("lock still held after init ended: ok=%v err=%v", ok, err)
	}
	l.Unlock()
}

// lockHelperVar makes the test binary a helper that takes a project's real
// instance lock with lima.Acquire (see pathKeeper.Run). No hook in the
// product: the helper uses the same function and file the shim uses.
const lockHelperVar = "PIXI_LIMA_TEST_LOCK_HELPER"

// lockHelper: "hold" takes the lock, prints "locked" and holds it until
// stdin closes; "check" holds it for lockCheckHold while owning an O_EXCL
// marker, so a second holder at the same time would fail, and prints when
// it held it, so the test can see that no two holds overlap.
func lockHelper(mode, path string) int {
	l, err := lima.Acquire(path, "holding it for a test", time.Hour, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Unlock()
	if mode == "hold" {
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	marker := path + ".holder"
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "two holders at once:", err)
		return 2
	}
	f.Close()
	begin := time.Now()
	time.Sleep(lockCheckHold) // long enough that holders of a broken lock would overlap
	end := time.Now()
	if os.Remove(marker) != nil {
		return 1
	}
	fmt.Printf("held %d %d\n", begin.UnixNano(), end.UnixNano())
	return 0
}

const lockCheckHold = 300 * time.Millisecond

// helperBinary copies the test binary where the test user can run it.
func helperBinary(t *testing.T, p *Project) string {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	dst := filepath.Join(p.Root, "lockhelper")
	run(t, exec.Command("cp", exe, dst))
	must(t, os.Chmod(dst, 0o755))
	return dst
}

// TestLockParallelProcesses: 8 processes of the test user take the
// project's real lock file at once; they hold it one at a time. Then the
// product's slow path meets a held lock: it says it waits, and does.
func TestLockParallelProcesses(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	paths := env.NewPaths(p.Root)
	p.MustRun(t, p.Command("mkdir", "-p", paths.LimaHome))
	helper := helperBinary(t, p)

	const n = 8
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = p.Command(helper, "-test.run=^$")
		cmds[i].Env = append(cmds[i].Env, lockHelperVar+"=check:"+paths.LockFile())
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		must(t, cmds[i].Start())
	}
	type interval struct{ begin, end int64 }
	var holds []interval
	for i, cmd := range cmds {
		var h interval
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v: %s", i, err, outs[i].String())
		} else if _, err := fmt.Sscanf(outs[i].String(), "held %d %d\n", &h.begin, &h.end); err != nil {
			t.Errorf("helper %d printed %q", i, outs[i].String())
		}
		holds = append(holds, h)
	}
	// The processes started together; held one at a time, their holds are
	// disjoint, one after another.
	slices.SortFunc(holds, func(a, b interval) int { return cmp.Compare(a.begin, b.begin) })
	for i := 1; i < len(holds); i++ {
		if holds[i].begin < holds[i-1].end {
			t.Errorf("two processes held the lock at once: %v and %v", holds[i-1], holds[i])
		}
	}

	// A helper holds the lock; `pixi-lima init` (whose create would fail
	// fast on an unreachable image) must wait for it before touching Lima.
	hold := p.Command(helper, "-test.run=^$")
	hold.Env = append(hold.Env, lockHelperVar+"=hold:"+paths.LockFile())
	release, err := hold.StdinPipe()
	must(t, err)
	holdOut, err := hold.StdoutPipe()
	must(t, err)
	must(t, hold.Start())
	defer hold.Process.Kill()
	if line, _ := bufio.NewReader(holdOut).ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper did not take the lock: %q", line)
	}
	initCmd := p.Command(p.Bin("pixi-lima"), "init")
	initCmd.Env = append(initCmd.Env, "PIXI_LIMA_IMAGE=http://127.0.0.1:1/none.img")
	stderrR, stderrW := io.Pipe()
	initCmd.Stderr = stderrW
	must(t, initCmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- initCmd.Wait(); stderrW.Close() }()
	lines := bufio.NewScanner(stderrR)
	if !lines.Scan() || !regexp.MustCompile(`^pixi-lima: VM "lt-docker" is busy: pid \d+ is holding it for a test; waiting up to \S+ …$`).MatchString(lines.Text()) {
		t.Fatalf("init's first line is %q, want that it waits for the lock", lines.Text())
	}
	select {
	case err := <-waited:
		t.Fatalf("init ended while another process held the lock: %v", err)
	default:
	}
	// While it waits, Lima has not been touched.
	if _, err := os.Stat(paths.InstanceDir("lt-docker")); !os.IsNotExist(err) {
		t.Errorf("init created the instance while waiting for the lock: %v", err)
	}
	release.Close()
	must(t, hold.Wait())
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	err = <-waited
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(rest.String(), `pixi-lima: creating VM "lt-docker"`) {
		t.Errorf("init after the lock was released: %v\n%s", err, rest.String())
	}
}

func dirNames(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// createExpression is lima.CreateExpression with the CAs read as
// pixi-lima reads them before it creates a VM.
func createExpression(t *testing.T, cfg settings.Config, root string) string {
	t.Helper()
	certs, err := lima.ReadCACerts(cfg.CACerts)
	must(t, err)
	cfg.CACertPEMs = certs
	return lima.CreateExpression(cfg, root)
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSettingsDrift: settings changed after the VM exists are said, not
// silently ignored. On an instance the real limactl made with
// pixi-lima's own expression, a new mount shows as applied at the next
// start, a new vm-type as needing a new VM; status, doctor and the start
// itself say so, once, on stderr.
func TestSettingsDrift(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, limactlManifest)
	img := tinyImage(t, p)
	cfg, err := settings.Load(p.Root, func(k string) string { return map[string]string{"PIXI_LIMA_IMAGE": img}[k] })
	must(t, err)
	p.MustRun(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+cfg.Name,
		cfg.Template, "--set", createExpression(t, cfg, p.Root)))
	if st := statusMap(t, p); st["drift"] != nil {
		t.Fatalf("a VM made from the settings has drift: %v", st["drift"])
	}

	extra := filepath.Join(p.Root, "extra")
	p.MustRun(t, p.Command("mkdir", extra))
	changed := []string{"PIXI_LIMA_MOUNTS=" + extra, "PIXI_LIMA_VM_TYPE=vz"}
	out := p.MustRun(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "status", "--json"), changed...))
	var st struct{ Drift []lima.Drift }
	must(t, json.Unmarshal([]byte(out), &st))
	want := []lima.Drift{
		{Key: "mounts", AtStart: true},
		{Key: "vm-type", Want: `"vz"`, Have: `"qemu"`},
	}
	if len(st.Drift) != len(want) {
		t.Fatalf("drift %+v, want %+v", st.Drift, want)
	}
	for i, d := range st.Drift {
		if d.Key != want[i].Key || d.AtStart != want[i].AtStart || (want[i].Want != "" && (d.Want != want[i].Want || d.Have != want[i].Have)) {
			t.Errorf("drift %d: %+v, want %+v", i, d, want[i])
		}
	}
	if !strings.Contains(st.Drift[0].Want, extra+" (read-only)") {
		t.Errorf("mounts drift does not name the new mount: %+v", st.Drift[0])
	}
	r, _ := runDoctor(t, p, replaceEnv(p.Command(p.Bin("pixi-lima"), "doctor", "--json"), changed...))
	if ok, detail, fix := r.check(t, "settings"); !ok || !strings.Contains(detail, "vm-type") || !strings.Contains(fix, "pixi-lima delete, then pixi-lima init") {
		t.Errorf("doctor settings: ok=%v %s / %s", ok, detail, fix)
	}
	// A start says it once: what it applies, and what only a new VM has. It
	// then stops at the missing QEMU (of the VM's own type: qemu), booting nothing.
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "ps"), append(changed, noQEMUPath(t, p))...))
	wantFail(t, "docker ps with changed settings", code, stderr, 127, "qemu-system-x86_64 is not on PATH")
	for _, w := range []string{"applying the changed mounts", "warning: vm-type differs"} {
		if strings.Count(stderr, w) != 1 {
			t.Errorf("the start says %q %d times, want once:\n%s", w, strings.Count(stderr, w), stderr)
		}
	}
}
