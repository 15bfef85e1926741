package lima

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fakePID is past any pid the kernel hands out (Linux's pid_max is at most
// 2^22), so a fake process can never be a real one.
const fakePID = 1 << 22

// fakeProcesses runs the package on a process table of its own, argv by
// pid, each process alive; it returns the pids sent SIGKILL.
func fakeProcesses(t *testing.T, table map[int][]string) *[]int {
	t.Helper()
	killed := new([]int)
	saved := []any{allPIDs, commandLine, processName, kill}
	t.Cleanup(func() {
		allPIDs = saved[0].(func() []int)
		commandLine = saved[1].(func(int) ([]string, bool))
		processName = saved[2].(func(int) string)
		kill = saved[3].(func(int, syscall.Signal) error)
	})
	allPIDs = func() []int { return slices.Sorted(maps.Keys(table)) }
	commandLine = func(pid int) ([]string, bool) {
		argv, ok := table[pid]
		return argv, ok
	}
	processName = func(pid int) string {
		if argv, ok := table[pid]; ok {
			return filepath.Base(argv[0])
		}
		return ""
	}
	kill = func(pid int, sig syscall.Signal) error {
		if _, ok := table[pid]; !ok {
			return syscall.ESRCH
		}
		if sig == syscall.SIGKILL {
			*killed = append(*killed, pid)
		}
		return nil
	}
	return killed
}

// fakeSameDir replaces the file identity for one test.
func fakeSameDir(t *testing.T, same func(a, b string) bool) {
	saved := sameDir
	t.Cleanup(func() { sameDir = saved })
	sameDir = same
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writePID(t *testing.T, instDir, file string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(instDir, file), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The argv Lima v1.2.2 starts an instance's processes with, in instDir.
func hostAgentArgv(instDir string) []string {
	return []string{"/opt/lima/bin/limactl", "hostagent", "--pidfile", instDir + "/ha.pid", "--socket", instDir + "/ha.sock", "app-docker"}
}

func qemuArgv(instDir string) []string {
	return []string{"/opt/homebrew/bin/qemu-system-aarch64", "-m", "4096",
		"-chardev", "socket,id=char-qmp,path=" + instDir + "/qmp.sock,server=on,wait=off", "-qmp", "chardev:char-qmp",
		"-name", "lima-app-docker", "-pidfile", instDir + "/qemu.pid"}
}

func sshArgv(instDir string) []string {
	return []string{"ssh", "-F", "/dev/null", "-o", `IdentityFile="/Users/ana/.lima/_config/user"`,
		"-o", "ControlMaster=auto", "-o", `ControlPath="` + instDir + `/ssh.sock"`, "-o", "ControlPersist=yes",
		"-p", "60022", "127.0.0.1", "--", "true"}
}

// sshMuxArgv is the ssh master once it has retitled itself, as OpenSSH
// does where it can (Linux): one string, padded with NULs.
func sshMuxArgv(instDir string) []string {
	return []string{"ssh: " + instDir + "/ssh.sock [mux]"}
}

// TestAnotherProjectAtALongerPath: a copy of the project whose path ends
// as this one's (a backup volume's) runs its own VM of the same name;
// neither its QEMU nor its host agent nor its ssh master is this VM's, so
// a forced stop does not kill its QEMU.
func TestAnotherProjectAtALongerPath(t *testing.T) {
	root := t.TempDir()
	instDir := filepath.Join(root, "Users/ana/app/.pixi/lima/app-docker")
	other := filepath.Join(root, "Volumes/Backup", instDir)
	mkdirs(t, instDir, other)
	ownOrphan := fakePID + 1
	killed := fakeProcesses(t, map[int][]string{
		fakePID + 2: qemuArgv(other),
		fakePID + 3: hostAgentArgv(other),
		fakePID + 4: sshArgv(other),
		fakePID + 5: sshMuxArgv(other),
		ownOrphan:   qemuArgv(instDir),
	})
	for pid := fakePID + 2; pid <= fakePID+5; pid++ {
		if argv, _ := commandLine(pid); isLimaProcess(argv, instDir) {
			t.Errorf("isLimaProcess(%q) = true for another project's process", argv)
		}
	}
	if got := orphanQEMU(instDir); !slices.Equal(got, []int{ownOrphan}) {
		t.Errorf("orphanQEMU = %v, want only this VM's [%d]", got, ownOrphan)
	}
	killOrphans(instDir)
	if !slices.Equal(*killed, []int{ownOrphan}) {
		t.Errorf("killOrphans killed %v, want only this VM's [%d]", *killed, ownOrphan)
	}
}

// TestSymlinkedPixi: .pixi is a symlink, which Lima resolves in LIMA_HOME,
// so the instance's processes name the real directory; their pid files
// are the instance's and stay, and nothing is taken for an orphan.
func TestSymlinkedPixi(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "store/pixi-envs/app")
	mkdirs(t, filepath.Join(real, "lima/app-docker"), filepath.Join(root, "app"))
	if err := os.Symlink(real, filepath.Join(root, "app/.pixi")); err != nil {
		t.Fatal(err)
	}
	instDir := filepath.Join(root, "app/.pixi/lima/app-docker")
	resolved := filepath.Join(real, "lima/app-docker")
	ha, qemu, ssh, sleep := fakePID+1, fakePID+2, fakePID+3, fakePID+4
	fakeProcesses(t, map[int][]string{
		ha:    hostAgentArgv(resolved),
		qemu:  qemuArgv(resolved),
		ssh:   sshMuxArgv(resolved),
		sleep: {"sleep", "60"},
	})
	writePID(t, instDir, "ha.pid", ha)
	writePID(t, instDir, "qemu.pid", qemu)
	writePID(t, instDir, "other.pid", sleep)

	var stderr bytes.Buffer
	forgetForeignPIDs(instDir, &stderr)
	for file, want := range map[string]bool{"ha.pid": true, "qemu.pid": true, "other.pid": false} {
		if _, err := os.Stat(filepath.Join(instDir, file)); (err == nil) != want {
			t.Errorf("%s: kept = %v, want %v (stderr %q)", file, err == nil, want, stderr.String())
		}
	}
	if got := livePIDs(instDir); !slices.Equal(slices.Sorted(slices.Values(got)), []int{ha, qemu}) {
		t.Errorf("livePIDs = %v, want [%d %d]", got, ha, qemu)
	}
	if _, ours := limaPID(instDir, "qemu.pid"); !ours {
		t.Errorf("limaPID(qemu.pid): not ours")
	}
	if got := orphanQEMU(instDir); len(got) != 0 {
		t.Errorf("orphanQEMU = %v, want none: qemu.pid names it", got)
	}
	if argv, _ := commandLine(ssh); !isLimaProcess(argv, instDir) {
		t.Errorf("isLimaProcess(%q) = false for the instance's ssh master", argv)
	}
}

// TestCaseOnlyDifferentPath: on a case-insensitive volume (APFS's
// default) a process may spell the instance directory in another case;
// the file identity, not the string, says it is the same directory.
func TestCaseOnlyDifferentPath(t *testing.T) {
	fakeSameDir(t, func(a, b string) bool { return strings.EqualFold(filepath.Clean(a), filepath.Clean(b)) })
	const instDir = "/Users/ana/app/.pixi/lima/app-docker"
	const spelled = "/Users/Ana/app/.pixi/lima/app-docker"
	orphan := fakePID + 1
	fakeProcesses(t, map[int][]string{
		orphan:      qemuArgv(spelled),
		fakePID + 2: hostAgentArgv(spelled),
		fakePID + 3: qemuArgv("/Volumes/Backup" + spelled),
	})
	if argv, _ := commandLine(fakePID + 2); !isLimaProcess(argv, instDir) {
		t.Errorf("isLimaProcess(%q) = false", argv)
	}
	if got := orphanQEMU(instDir); !slices.Equal(got, []int{orphan}) {
		t.Errorf("orphanQEMU = %v, want [%d]", got, orphan)
	}
}

// TestLimaArgv: each Lima process of the instance is known by the file
// Lima has it use in the instance directory, whichever way the flag is
// written; a QEMU that names no pid file there is not the instance's.
func TestLimaArgv(t *testing.T) {
	instDir := filepath.Join(t.TempDir(), "x-docker")
	mkdirs(t, instDir, instDir+"2")
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{hostAgentArgv(instDir), true},
		{[]string{"limactl", "--debug", "hostagent", "--pidfile=" + instDir + "/ha.pid", "--socket=" + instDir + "/ha.sock", "x-docker"}, true},
		{qemuArgv(instDir), true},
		{sshArgv(instDir), true},
		{[]string{"ssh", "-oControlPath='" + instDir + "/ssh.sock'", "127.0.0.1"}, true},
		{[]string{"ssh", "-o", "controlpath=" + instDir + "/ssh.sock", "127.0.0.1"}, true},
		{sshMuxArgv(instDir), true},
		{hostAgentArgv(instDir + "2"), false},
		{sshMuxArgv(instDir + "2"), false},
		{[]string{"qemu-system-x86_64", "-chardev", "socket,id=char-qmp,path=" + instDir + "/qmp.sock,server=on,wait=off"}, false},
		{[]string{"limactl", "hostagent", "--pidfile", "ha.pid", "x-docker"}, false}, // relative: to whose directory?
		{[]string{"scp", "-o", "ControlPath=" + instDir + "/ssh.sock"}, false},
		{[]string{"ssh", "127.0.0.1", "echo", "ControlPath=" + instDir + "/ssh.sock"}, false}, // a remote command's word
	} {
		if got := isLimaProcess(c.argv, instDir); got != c.want {
			t.Errorf("isLimaProcess(%q) = %v, want %v", c.argv, got, c.want)
		}
	}
}
