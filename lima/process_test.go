package lima

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIsLimaProcess(t *testing.T) {
	const dir = "/p/.pixi/lima/x-docker"
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/p/.pixi/pixi-lima/bin/limactl", "hostagent", "--pidfile", dir + "/ha.pid", "x-docker"}, true},
		{[]string{"qemu-system-x86_64", "-machine", "q35", "-pidfile", dir + "/qemu.pid"}, true},
		{[]string{"/usr/bin/qemu-system-aarch64", "-qmp", "chardev:char-qmp", "-name", "lima-x-docker", "-pidfile", dir + "/qemu.pid"}, true},
		{[]string{"/usr/bin/qemu-system-aarch64", "-qmp", "unix:" + dir + "/qmp.sock,server,nowait"}, false}, // no pid file: not Lima's
		// A reused pid: anything else, however much it mentions lima.
		{[]string{"vim", "lima/x.go"}, false},
		{[]string{"/usr/bin/vim", dir + "/lima.yaml"}, false},
		{[]string{"limactl", "shell", "other-docker"}, false},                                    // Lima, another instance
		{[]string{"limactl", "hostagent", "--pidfile", "/p/.pixi/lima/x-docker2/ha.pid"}, false}, // a longer name
		{nil, false},
	} {
		if got := isLimaProcess(c.argv, dir); got != c.want {
			t.Errorf("isLimaProcess(%q) = %v, want %v", c.argv, got, c.want)
		}
	}
}

// TestForgetForeignPIDs: a pid file is forgotten only when its process is
// shown to be another's. A live process whose arguments cannot be read
// (here a zombie: Linux shows it with an empty cmdline) may be the VM's
// own when its name is Lima's or QEMU's, so its pid file stays.
func TestForgetForeignPIDs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a zombie's empty cmdline is Linux's")
	}
	dir := t.TempDir()
	instDir := filepath.Join(dir, "x-docker")
	if err := os.Mkdir(instDir, 0o755); err != nil {
		t.Fatal(err)
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip(err)
	}
	exe, err := os.ReadFile(truePath)
	if err != nil {
		t.Fatal(err)
	}
	zombie := func(name string) int {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, exe, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := commandLine(cmd.Process.Pid); !ok {
				return cmd.Process.Pid
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not become a zombie", name)
			}
		}
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	pids := map[string]int{
		"ha.pid":    zombie("limactl"),
		"qemu.pid":  zombie("qemu-system-x86_64"),
		"other.pid": zombie("vim"),
		"sleep.pid": sleep.Process.Pid,
	}
	for file, pid := range pids {
		if err := os.WriteFile(filepath.Join(instDir, file), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	forgetForeignPIDs(instDir, &stderr)
	for file, want := range map[string]bool{"ha.pid": true, "qemu.pid": true, "other.pid": false, "sleep.pid": false} {
		if _, err := os.Stat(filepath.Join(instDir, file)); (err == nil) != want {
			t.Errorf("%s (pid %d): kept = %v, want %v", file, pids[file], err == nil, want)
		}
	}
	if !strings.Contains(stderr.String(), "sleep 60") {
		t.Errorf("stderr %q does not name the foreign process", stderr)
	}
	// And they count as running: a damaged instance is not removed under them.
	got, want := livePIDs(instDir), []int{pids["ha.pid"], pids["qemu.pid"]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("livePIDs = %v, want %v", got, want)
	}
}

// procArgs2 is a kern.procargs2 buffer as macOS returns it: argc, the
// executable's path, NULs up to the next word, the arguments, the
// environment, and Apple's own strings.
func procArgs2(exe string, argv, environ []string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, int32(len(argv)))
	b.WriteString(exe)
	b.WriteByte(0)
	for b.Len()%8 != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, 8)) // more padding, as the kernel leaves at times
	for _, s := range append(append(argv, environ...), "", "executable_path="+exe, "ptr_munge=") {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// TestParseProcArgs2: macOS's arguments are read whole, so the host agent
// of a project whose path has a space is recognized as the VM's own.
func TestParseProcArgs2(t *testing.T) {
	const root = "/Users/me/My Projects/app"
	instDir := root + "/.pixi/lima/app-docker"
	exe := root + "/.pixi/pixi-lima/bin/limactl"
	argv := []string{exe, "hostagent", "--pidfile", instDir + "/ha.pid", "--socket", instDir + "/ha.sock", "", "app-docker"}
	buf := procArgs2(exe, argv, []string{"HOME=/Users/me", "LIMA_HOME=" + root + "/.pixi/lima"})
	got, ok := parseProcArgs2(buf)
	if !ok || !slices.Equal(got, argv) {
		t.Fatalf("parseProcArgs2 = %q, %v; want %q", got, ok, argv)
	}
	if !isLimaProcess(got, instDir) {
		t.Errorf("isLimaProcess(%q) = false", got)
	}
	// Cut short anywhere before the last argument's end, it reads nothing.
	end := bytes.Index(buf, []byte("app-docker\x00HOME")) + len("app-docker")
	for n := range end + 1 {
		if got, ok := parseProcArgs2(buf[:n]); ok {
			t.Errorf("%d of %d bytes: %q, want nothing", n, len(buf), got)
		}
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff, 'x', 0, 'y', 0}, {0xff, 0xff, 0xff, 0x7f, 'x', 0, 'y', 0}} {
		if got, ok := parseProcArgs2(bad); ok {
			t.Errorf("parseProcArgs2(%q) = %q, want nothing", bad, got)
		}
	}
}

// TestOrphanQEMU: a process that runs as the instance's QEMU with no pid
// file naming it is an orphan; once qemu.pid names it, it is Lima's. The
// process is sh under QEMU's name: a real orphan needs a host agent killed
// at one instant, which the VM test's SIGKILL step produces.
func TestOrphanQEMU(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no process table to read here")
	}
	instDir := filepath.Join(t.TempDir(), "x-docker")
	if err := os.Mkdir(instDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// It waits in the shell's own read, never forking: a child between
	// fork and exec would run under the same name.
	stdin, hold, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"qemu-system-x86_64", "-c", "read x", "-pidfile", instDir + "/qemu.pid"}, Stdin: stdin}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid

	if got := orphanQEMU(instDir); !slices.Equal(got, []int{pid}) {
		t.Errorf("orphanQEMU = %v, want [%d]", got, pid)
	}
	if got := orphanQEMU(instDir + "2"); len(got) != 0 {
		t.Errorf("another instance's orphans = %v, want none", got)
	}
	if err := os.WriteFile(filepath.Join(instDir, "qemu.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := orphanQEMU(instDir); len(got) != 0 {
		t.Errorf("with qemu.pid naming it: orphanQEMU = %v, want none", got)
	}
}
