package tests

// The faults that need no VM boot (those that do are steps of TestVM in
// vm_test.go, which share its VM). Each test names the fault, checks what
// the user sees (message and exit code), and checks that nothing is lost.
//
// Instances are made with the real limactl (`limactl-local create`) from a
// small local disk image, never started. Where a test runs `pixi-lima init`
// or the docker shim on a stopped instance, its PATH has no
// qemu-system-x86_64, so pixi-lima's pre-check stops before `limactl start`,
// and even if it did not, Lima's host agent could not start QEMU.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// replaceEnv replaces (never appends) variables in cmd's environment.
func replaceEnv(cmd *exec.Cmd, kv ...string) *exec.Cmd {
	for _, pair := range kv {
		k, _, _ := strings.Cut(pair, "=")
		out := cmd.Env[:0:0]
		for _, e := range cmd.Env {
			if !strings.HasPrefix(e, k+"=") {
				out = append(out, e)
			}
		}
		cmd.Env = append(out, pair)
	}
	return cmd
}

// noQEMUPath is a PATH with the project's shims, the real docker and
// Compose, and of QEMU only qemu-img: limactl can create an instance but
// cannot start one.
func noQEMUPath(t *testing.T, p *Project) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "plq")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, tool := range []string{"qemu-img", "ssh", "ssh-keygen", "docker"} {
		must(t, os.Symlink(filepath.Join("/usr/bin", tool), filepath.Join(dir, tool)))
	}
	must(t, os.Chmod(dir, 0o755))
	return "PATH=" + strings.Join([]string{filepath.Join(p.Root, ".pixi", "bin"), p.s.Tools, dir}, ":")
}

// faultInstance creates the project's instance with the real limactl,
// without booting it, and returns its directory.
func faultInstance(t *testing.T, p *Project, name string) string {
	t.Helper()
	expr := `.cpus = 1 | .memory = "1GiB" | .disk = "4GiB" | .mounts = [] | ` + localImage(qcowImage(t, p))
	p.MustRun(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+name, "template://docker", "--set", expr))
	return filepath.Join(p.Root, ".pixi", "lima", name)
}

// inodeOf identifies a file, to prove a disk was kept and not recreated.
func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	must(t, err)
	return info.Sys().(*syscall.Stat_t).Ino
}

// wantFail checks an exit code and that stderr says every one of want.
func wantFail(t *testing.T, what string, code int, stderr string, wantCode int, want ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d\nstderr:\n%s", what, code, wantCode, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr does not say %q:\n%s", what, w, stderr)
		}
	}
}

// A host crash leaves ha.pid and sockets behind.
func TestFaultStaleHostAgentState(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f3\"\n")
	dir := faultInstance(t, p, "f3-docker")
	diffdisk := inodeOf(t, filepath.Join(dir, "diffdisk"))

	// ha.pid names a process that no longer exists. Lima itself
	// treats the instance as Stopped and removes the stale pid file.
	must(t, os.WriteFile(filepath.Join(dir, "ha.pid"), []byte("999999\n"), 0o644))
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("dead ha.pid: state %v, want Stopped", st["state"])
	}
	if _, err := os.Stat(filepath.Join(dir, "ha.pid")); !os.IsNotExist(err) {
		t.Errorf("dead ha.pid was not cleared by Lima: %v", err)
	}

	// After a reboot the pid is reused by another process (pid 1 here,
	// alive and not Lima's) and ha.sock has no listener: Lima says Broken.
	must(t, os.WriteFile(filepath.Join(dir, "ha.pid"), []byte("1\n"), 0o644))
	l, err := net.Listen("unix", filepath.Join(dir, "ha.sock"))
	must(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	must(t, os.Lchown(filepath.Join(dir, "ha.sock"), s.UID, s.GID)) // as the host agent left it
	st := statusMap(t, p)
	if st["state"] != "Broken" {
		t.Fatalf("stale ha.pid and ha.sock: state %v, want Broken", st["state"])
	}
	t.Logf("status problems: %v", st["problems"])
	if !strings.Contains(fmt.Sprint(st["problems"]), "ha.sock") {
		t.Errorf("status does not name the stale socket: %v", st["problems"])
	}
	stdout, _, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor"))
	if code != 1 || !strings.Contains(stdout, "problem  instance: VM \"f3-docker\" is Broken") || !strings.Contains(stdout, "fix: pixi-lima stop --force") {
		t.Errorf("doctor on a Broken VM: exit %d\n%s", code, stdout)
	}

	// The pid now belongs to the user's own process whose
	// command line merely mentions lima (as `vim lima/x.go` would). It is
	// not the instance's limactl or QEMU: stop must forget it, not kill it.
	bystander := filepath.Join(p.Root, "lima", "editor")
	must(t, os.MkdirAll(filepath.Dir(bystander), 0o755))
	run(t, exec.Command("cp", "/bin/sleep", bystander))
	victim := p.Command(bystander, "600")
	must(t, victim.Start())
	victimExited := make(chan error, 1)
	go func() { victimExited <- victim.Wait() }()
	t.Cleanup(func() { victim.Process.Kill() })
	// setpriv execs in place: the pid is the bystander's own.
	must(t, os.WriteFile(filepath.Join(dir, "ha.pid"), []byte(fmt.Sprintf("%d\n", victim.Process.Pid)), 0o644))
	if st := statusMap(t, p); st["state"] != "Broken" {
		t.Fatalf("ha.pid of a live bystander: state %v, want Broken", st["state"])
	}

	// The one-command fix: `pixi-lima stop` runs `limactl stop --force`
	// for a Broken instance. The disk and settings stay.
	_, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "stop"))
	t.Logf("stop:\n%s", stderr)
	if code != 0 {
		t.Fatalf("pixi-lima stop on a Broken VM: exit %d\n%s", code, stderr)
	}
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("after stop: state %v, want Stopped", st["state"])
	}
	for _, f := range []string{"ha.pid", "ha.sock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after stop --force", f)
		}
	}
	select {
	case err := <-victimExited: // a kill is delivered before limactl returns; allow for the reaping
		t.Errorf("stop killed the bystander whose pid was in ha.pid: %v", err)
	case <-time.After(2 * time.Second):
	}
	if !strings.Contains(stderr, "which is not this VM's") {
		t.Errorf("stop did not say it forgot the foreign pid:\n%s", stderr)
	}
	for _, f := range []string{"lima.yaml", "basedisk", "diffdisk"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("stop --force lost %s: %v", f, err)
		}
	}
	if inodeOf(t, filepath.Join(dir, "diffdisk")) != diffdisk {
		t.Error("the VM's disk was replaced")
	}
}

// The project's path leaves no room for Lima's sockets.
func TestFaultSocketPathTooLong(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f4\"\n")
	// Move the whole project (install.sh's links are relative) to a path
	// whose sockets would be over 108 bytes, even with the short name
	// "docker" that the default name falls back to.
	long := filepath.Join(p.Home, strings.Repeat("d", 60))
	must(t, os.Rename(p.Root, long))
	p.Root = long
	sock := filepath.Join(long, ".pixi", "lima", "docker", "ssh.sock.1234567890123456")
	want := fmt.Sprintf("socket path would be %d bytes, it must be shorter than 108", len(sock))
	for _, argv := range [][]string{{p.Bin("pixi-lima"), "init"}, {p.Bin("docker"), "ps"}} {
		_, stderr, code := p.Run(t, p.Command(argv[0], argv[1:]...))
		t.Logf("%s:\n%s", filepath.Base(argv[0]), stderr)
		wantFail(t, filepath.Base(argv[0]), code, stderr, 3, `the VM is named "docker", not "f4-docker"`,
			want, sock, "a project path of at most 63 characters fits", "hint: use a shorter instance name", "move the project to a shorter path")
	}
	for _, name := range []string{"f4-docker", "docker"} {
		if _, err := os.Stat(filepath.Join(long, ".pixi", "lima", name)); !os.IsNotExist(err) {
			t.Errorf("an instance directory was created: %v", err)
		}
	}
	stdout, _, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor"))
	if code != 1 || !strings.Contains(stdout, fmt.Sprintf("problem  socket-path: Lima's longest socket path is %d bytes, it must be shorter than 108", len(sock))) {
		t.Errorf("doctor: exit %d\n%s", code, stdout)
	}

	// 62 characters: too long for f4-docker's sockets, not for docker's.
	mid := filepath.Join(p.Home, strings.Repeat("m", 62-len(p.Home)-1))
	must(t, os.Rename(long, mid))
	p.Root = mid
	stdout, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "status", "--json"))
	if code != 0 || !strings.Contains(stdout, `"instance": "docker"`) || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, `the VM is named "docker", not "f4-docker"`) {
		t.Errorf("status at 62 characters: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// Bad settings are rejected before Lima runs, naming the key.
func TestFaultBadSettings(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f5\"\n")
	cases := []struct {
		settings, env string
		want          []string
	}{
		{"cpus = -1", "", []string{"pixi.toml [tool.pixi-lima] cpus: got -1; expected a whole number from 1 to 256"}},
		{"cpus = \"two\"", "", []string{"[tool.pixi-lima] cpus: got \"two\""}},
		{"memory = \"lots\"", "", []string{"[tool.pixi-lima] memory: got \"lots\" (at least 512MiB)"}},
		{"memroy = \"4GiB\"", "", []string{"[tool.pixi-lima] memroy: unknown setting; did you mean \"memory\"?"}},
		{"mounts = \"/tmp\"", "", []string{"[tool.pixi-lima] mounts: got \"/tmp\""}},
		{"image = \"missing.qcow2\"", "", []string{"[tool.pixi-lima] image: image file", "missing.qcow2 does not exist"}},
		{"", "PIXI_LIMA_CPUS=0", []string{"PIXI_LIMA_CPUS: got 0"}},
		{"", "PIXI_LIMA_MEMORY=lots", []string{"PIXI_LIMA_MEMORY: got \"lots\""}},
		{"", "PIXI_LIMA_VM_TYPE=kvm", []string{"PIXI_LIMA_VM_TYPE: got \"kvm\"; expected \"qemu\" or \"vz\""}},
	}
	for _, c := range cases {
		manifest := "[workspace]\nname = \"f5\"\n\n[tool.pixi-lima]\n" + c.settings + "\n"
		must(t, os.WriteFile(filepath.Join(p.Root, "pixi.toml"), []byte(manifest), 0o644))
		for _, name := range []string{"pixi-lima", "docker"} {
			args := map[string][]string{"pixi-lima": {"init"}, "docker": {"ps"}}[name]
			cmd := p.Command(p.Bin(name), args...)
			if c.env != "" {
				replaceEnv(cmd, c.env)
			}
			_, stderr, code := p.Run(t, cmd)
			wantFail(t, c.settings+c.env, code, stderr, 3, append(c.want, "hint: fix the setting")...)
		}
	}
	if _, err := os.Stat(filepath.Join(p.Root, ".pixi", "lima")); !os.IsNotExist(err) {
		t.Errorf("a bad setting still created .pixi/lima: %v", err)
	}
}

// docker, docker-compose, limactl or QEMU is not installed.
func TestFaultMissingTools(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f6\"\n\n[tool.pixi-lima]\nimage = \"img.qcow2\"\n")
	qcowImage(t, p)
	onlyShims := "PATH=" + filepath.Join(p.Root, ".pixi", "bin") + ":/nonexistent"

	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "ps"), onlyShims))
	wantFail(t, "docker", code, stderr, 127, "the real docker is not on PATH", "hint: pixi add docker-cli")
	_, stderr, code = p.Run(t, replaceEnv(p.Command(p.Bin("docker-compose"), "ps"), onlyShims))
	wantFail(t, "docker-compose", code, stderr, 127, "the real docker-compose is not on PATH", "hint: pixi add docker-compose")

	// QEMU: limactl creates the instance (qemu-img is there), then
	// pixi-lima stops before `limactl start`, naming the package.
	_, stderr, code = p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), noQEMUPath(t, p)))
	t.Logf("init without qemu-system-x86_64:\n%s", stderr)
	wantFail(t, "qemu", code, stderr, 127, "qemu-system-x86_64 is not on PATH: Lima needs it to run the VM",
		"hint: sudo apt-get install qemu-system-x86 (Debian, Ubuntu)", "brew install qemu")
	if strings.Contains(stderr, "starting VM") {
		t.Error("limactl start ran although QEMU is missing")
	}
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("after the failed init: state %v, want the created instance Stopped", st["state"])
	}
	stdout, _, _ := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "doctor"), noQEMUPath(t, p)))
	if !strings.Contains(stdout, "problem  hypervisor: qemu-system-x86_64 is not on PATH") {
		t.Errorf("doctor does not report the missing QEMU:\n%s", stdout)
	}

	// limactl: not built into .pixi and not on PATH.
	must(t, os.Remove(filepath.Join(p.Root, ".pixi", "pixi-lima", "bin", "limactl")))
	_, stderr, code = p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), noQEMUPath(t, p)))
	wantFail(t, "limactl", code, stderr, 127, "limactl not found", "hint: ./install.sh")
	if _, err := os.Stat(filepath.Join(p.Root, ".pixi", "lima", "f6-docker", "diffdisk")); err != nil {
		t.Errorf("the instance's disk is gone: %v", err)
	}
}

// A wrapper named docker, found behind the shim, calls the shim back.
func TestFaultWrapperLoop(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f7\"\n")
	wrap := filepath.Join(p.Root, "wrap")
	must(t, os.MkdirAll(wrap, 0o755))
	script := "#!/bin/sh\nexec " + p.Bin("pixi-lima") + " docker \"$@\"\n"
	must(t, os.WriteFile(filepath.Join(wrap, "docker"), []byte(script), 0o755))
	path := "PATH=" + strings.Join([]string{filepath.Join(p.Root, ".pixi", "bin"), wrap, "/usr/local/bin", "/usr/bin", "/bin"}, ":")
	// A hang guard, not a timing assertion: a loop would never end.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Also with a setting to fix: a cheap call then execs the real tool
	// without the project, and that exec must count as well.
	for _, bad := range []string{"", "PIXI_LIMA_CPUS=banana"} {
		cmd := replaceEnv(p.Command(p.Bin("docker"), "--version"), path)
		if bad != "" {
			replaceEnv(cmd, bad)
		}
		guarded := exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
		guarded.Env, guarded.Dir = cmd.Env, cmd.Dir
		_, stderr, code := p.Run(t, guarded)
		if ctx.Err() != nil {
			t.Fatalf("%s: the shim and the wrapper looped until the guard killed them", bad)
		}
		wantFail(t, "wrapper loop "+bad, code, stderr, 5, "docker was wrapped 8 times in a row: a wrapper on PATH calls pixi-lima back",
			"hint: put the real docker on PATH after .pixi/bin, or remove the other wrapper")
	}
}

// An instance directory without lima.yaml (an interrupted copy, a hand
// edit) is the user's disk, not a missing VM. A docker call must not
// "create" over it, and the cleanup of that failed create must not take
// the directory with it. A lima.yaml Lima cannot parse is named, with the
// parse error.
func TestFaultDamagedInstanceKept(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f1\"\n")
	dir := faultInstance(t, p, "f1-docker")
	disk := filepath.Join(dir, "diffdisk")
	inode := inodeOf(t, disk)
	path := noQEMUPath(t, p)
	yaml, err := os.ReadFile(filepath.Join(dir, "lima.yaml"))
	must(t, err)

	must(t, os.Remove(filepath.Join(dir, "lima.yaml")))
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "ps"), path))
	wantFail(t, "docker ps, lima.yaml missing", code, stderr, 1, `VM "f1-docker" is damaged`,
		filepath.Join(dir, "lima.yaml")+" is missing", "disks: diffdisk", "hint: to keep it, put back", "pixi-lima delete")
	if strings.Contains(stderr, "creating VM") {
		t.Errorf("docker ps tried to create a VM over the damaged one:\n%s", stderr)
	}
	if inodeOf(t, disk) != inode {
		t.Fatal("the damaged instance's disk was replaced")
	}
	if st := statusMap(t, p); st["state"] != "Damaged" || !strings.Contains(fmt.Sprint(st["problems"]), "lima.yaml is missing") {
		t.Errorf("status of the damaged VM: %v %v", st["state"], st["problems"])
	}
	cmd := p.Command(p.Bin("pixi-lima"), "delete")
	cmd.Stdin = strings.NewReader("yes\n") // not a terminal: never taken as an answer
	_, stderr, code = p.Run(t, cmd)
	wantFail(t, "delete of the damaged VM without confirmation", code, stderr, 4, "it is damaged", "hint: pixi-lima delete --force")
	if inodeOf(t, disk) != inode {
		t.Fatal("a refused delete removed the disk")
	}

	// A lima.yaml Lima cannot read: its path and Lima's words, not `state ""`.
	must(t, os.WriteFile(filepath.Join(dir, "lima.yaml"), []byte("cpus: [1\n"), 0o644))
	_, stderr, code = p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "ps"), path))
	wantFail(t, "docker ps, lima.yaml unparseable", code, stderr, 1, filepath.Join(dir, "lima.yaml")+" cannot be read:")
	if strings.Contains(stderr, `state ""`) || inodeOf(t, disk) != inode {
		t.Errorf("unparseable lima.yaml: disk kept %v, stderr:\n%s", inodeOf(t, disk) == inode, stderr)
	}

	// Put back, it is the same VM again; deleted on purpose, it is gone.
	must(t, os.WriteFile(filepath.Join(dir, "lima.yaml"), yaml, 0o644))
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("with lima.yaml back: state %v", st["state"])
	}
	must(t, os.Remove(filepath.Join(dir, "lima.yaml")))
	_, stderr, code = p.Run(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
	if _, err := os.Stat(dir); code != 0 || !os.IsNotExist(err) {
		t.Errorf("delete --force of the damaged VM: exit %d, dir: %v\n%s", code, err, stderr)
	}
}

// A real tool that is there but cannot be run exits 126, as a
// shell does; 127 stays for "not found".
func TestFaultToolNotExecutable(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f126\"\n")
	bad := filepath.Join(p.Root, "bad")
	must(t, os.MkdirAll(bad, 0o755))
	// Executable bits, but no format the kernel runs: exec gives ENOEXEC.
	must(t, os.WriteFile(filepath.Join(bad, "docker"), []byte("\x00\x01\x02 not a program\n"), 0o755))
	path := "PATH=" + strings.Join([]string{filepath.Join(p.Root, ".pixi", "bin"), bad, "/usr/bin", "/bin"}, ":")
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "--version"), path))
	wantFail(t, "docker that cannot run", code, stderr, 126, "cannot run "+filepath.Join(bad, "docker"), "exec format error")
}

// delete without confirmation, with a named volume holding data.
func TestFaultDeleteRefusesWithoutTerminal(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f8\"\n")
	dir := faultInstance(t, p, "f8-docker")
	socket := filepath.Join(dir, "sock", "docker.sock")
	startDockerd(t, p, socket, "repo=f8")
	p.MustRun(t, p.Command(p.Bin("docker"), "volume", "create", "pgdata"))
	mount := strings.TrimSpace(p.MustRun(t, p.Command(p.Bin("docker"), "volume", "inspect", "-f", "{{.Mountpoint}}", "pgdata")))
	must(t, os.WriteFile(filepath.Join(mount, "important"), []byte("data"), 0o644))

	cmd := p.Command(p.Bin("pixi-lima"), "delete")
	cmd.Stdin = strings.NewReader("yes\n") // not a terminal: never taken as an answer
	_, stderr, code := p.Run(t, cmd)
	t.Logf("delete:\n%s", stderr)
	wantFail(t, "delete", code, stderr, 4, `not deleting VM "f8-docker" without confirmation`,
		"will be lost, with 0 containers, 0 images and 1 volumes (pgdata)", "hint: pixi-lima delete --force")
	for _, f := range []string{"lima.yaml", "diffdisk"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("refused delete still removed %s: %v", f, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(mount, "important")); err != nil || string(data) != "data" {
		t.Errorf("the volume's data is gone: %q, %v", data, err)
	}
}

// The disk fills up while `init` creates the VM.
func TestFaultDiskFullDuringInit(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"f9\"\n\n[tool.pixi-lima]\nimage = \"big.img\"\n")
	// A 30 MiB image of incompressible data, for a 20 MiB file system.
	big := filepath.Join(p.Root, "big.img")
	run(t, exec.Command("dd", "if=/dev/urandom", "of="+big, "bs=1M", "count=30", "status=none"))
	run(t, exec.Command("chown", fmt.Sprintf("%d:%d", s.UID, s.GID), big))
	// The VMs live on a small tmpfs: the project's LIMA_HOME.
	limaHome := filepath.Join(p.Root, ".pixi", "lima")
	must(t, os.MkdirAll(limaHome, 0o755))
	run(t, exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=20m,mode=0755,uid=%d,gid=%d", s.UID, s.GID), "tmpfs", limaHome))
	t.Cleanup(func() { exec.Command("umount", limaHome).Run() })

	path := noQEMUPath(t, p)
	_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), path))
	t.Logf("init on a full disk:\n%s", stderr)
	wantFail(t, "init on a full disk", code, stderr, 1, "no space left on device", "full log:")
	// Nothing half-written that blocks the next try: no instance directory.
	if _, err := os.Stat(filepath.Join(limaHome, "f9-docker")); !os.IsNotExist(err) {
		t.Errorf("a half-created instance is left: %v", err)
	}
	if st := statusMap(t, p); st["state"] != "Missing" {
		t.Errorf("after the failed init: state %v, want Missing", st["state"])
	}

	// With room, the next init creates the instance; it then stops at the
	// missing QEMU instead of booting (this test must not boot a VM).
	run(t, exec.Command("mount", "-o", "remount,size=200m", limaHome))
	_, stderr, code = p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), path))
	wantFail(t, "init with room", code, stderr, 127, "creating VM \"f9-docker\"", "done in", "qemu-system-x86_64 is not on PATH")
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("after the second init: state %v, want Stopped", st["state"])
	}
}

// Two repos used alternately from one shell.
func TestFaultTwoReposOneShell(t *testing.T) {
	s := requireSetup(t)
	a := newProject(t, s, "[workspace]\nname = \"fa\"\n")
	b := newProject(t, s, "[workspace]\nname = \"fb\"\n")
	sockA := filepath.Join(a.Root, ".pixi", "lima", "fa-docker", "sock", "docker.sock")
	sockB := filepath.Join(b.Root, ".pixi", "lima", "fb-docker", "sock", "docker.sock")
	startDockerd(t, a, sockA, "repo=fa")
	startDockerd(t, b, sockB, "repo=fb")
	// One shell: A's environment and cwd, A's shims first on PATH, and the
	// user's own DOCKER_HOST pointing at A. Each repo's shim, called by its
	// path, must act on its own repo.
	for i, p := range []*Project{a, b, a, b} {
		cmd := replaceEnv(a.Command(p.Bin("docker"), "info", "--format", "{{json .Labels}}"), "DOCKER_HOST=unix://"+sockA)
		labels := a.MustRun(t, cmd)
		want := map[*Project]string{a: "repo=fa", b: "repo=fb"}[p]
		if !strings.Contains(labels, want) {
			t.Errorf("call %d: %s's docker reached the engine labelled %s, want %s", i, p.Root, labels, want)
		}
		env := a.MustRun(t, a.Command(p.Bin("pixi-lima"), "env"))
		if !strings.Contains(env, "export DOCKER_HOST='unix://"+filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")+"'") {
			t.Errorf("call %d: %s's pixi-lima env:\n%s", i, p.Root, env)
		}
	}
}

// A docker socket file that exists but answers nothing.
func TestFaultStaleDockerSocket(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"fs\"\n")
	dir := faultInstance(t, p, "fs-docker")
	socket := filepath.Join(dir, "sock", "docker.sock")
	must(t, os.MkdirAll(filepath.Dir(socket), 0o755))

	silent := func(t *testing.T) {
		// The shim must not take the socket for an engine and exec docker
		// (which would fail with "Cannot connect"); it goes to the slow
		// path, which here stops at the missing QEMU, before any boot.
		if ping.Engine(socket, time.Second) {
			t.Fatal("Ping says a silent socket answers")
		}
		st := statusMap(t, p)
		if st["dockerAnswers"] != false || st["state"] != "Stopped" {
			t.Errorf("status: dockerAnswers %v, state %v", st["dockerAnswers"], st["state"])
		}
		_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("docker"), "ps"), noQEMUPath(t, p)))
		wantFail(t, "docker ps", code, stderr, 127, "qemu-system-x86_64 is not on PATH")
		if strings.Contains(stderr, "Cannot connect to the Docker daemon") {
			t.Error("the shim exec'd docker against the stale socket")
		}
	}

	t.Run("no listener", func(t *testing.T) {
		l, err := net.Listen("unix", socket)
		must(t, err)
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		must(t, os.Chmod(socket, 0o777))
		silent(t)
		os.Remove(socket)
	})
	t.Run("accepts and never replies", func(t *testing.T) {
		l, err := net.Listen("unix", socket)
		must(t, err)
		defer l.Close()
		must(t, os.Chmod(socket, 0o777))
		go func() {
			var held []net.Conn // keep every connection open and silent
			for {
				c, err := l.Accept()
				if err != nil {
					for _, c := range held {
						c.Close()
					}
					return
				}
				held = append(held, c)
			}
		}()
		silent(t)
	})
}

// Unknown subcommands and flags.
func TestFaultUsageErrors(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"fu\"\n")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"stauts"}, []string{`unknown command "stauts"; did you mean "status"?`, "hint: pixi-lima help lists the commands"}},
		{[]string{"doctr"}, []string{`unknown command "doctr"; did you mean "doctor"?`}},
		{[]string{"status", "--jsn"}, []string{"status: flag provided but not defined: -jsn", `did you mean "--json"?`, "hint: pixi-lima status --help"}},
		{[]string{"delete", "--froce"}, []string{`did you mean "--force"?`}},
		{[]string{"doctor", "extra"}, []string{`doctor: unexpected argument "extra"`}},
	} {
		_, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), c.args...))
		wantFail(t, strings.Join(c.args, " "), code, stderr, 2, c.want...)
	}
}
