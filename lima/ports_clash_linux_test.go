package lima

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pixi-lima/pixi-lima/lima/listeners"
)

// portChildVar makes TestPortClashChild listen ("plain <addr>", or
// "reuse <addr>" with SO_REUSEPORT as Lima's host agent does), print its
// port and wait to be killed.
const portChildVar = "PIXI_LIMA_PORT_CHILD"

// listenChild starts the test binary as a listening child, under the name
// exe (a link to the binary, which /proc shows as argv[0]) with args after
// its own flags, and returns its pid and port.
func listenChild(t *testing.T, exe, how string, args ...string) (pid, port int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if exe != self {
		if err := os.Symlink(self, exe); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(exe, append([]string{"-test.run=^TestPortClashChild$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), portChildVar+"="+how)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	port, err = strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("%s did not listen: %q", how, line)
	}
	return cmd.Process.Pid, port
}

// TestPortClashChild is listenChild's child process.
func TestPortClashChild(t *testing.T) {
	how, addr, ok := strings.Cut(os.Getenv(portChildVar), " ")
	if !ok {
		t.Skip("run by listenChild")
	}
	var lc net.ListenConfig
	if how == "reuse" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
			return err
		}
	}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	select {}
}

// TestPortClashes, with real processes: the instance's host agent (a
// child named limactl whose --pidfile is in the instance), a program that
// took a port first, and another project's host agent sharing one.
func TestPortClashes(t *testing.T) {
	dir := t.TempDir()
	instDir := filepath.Join(dir, "a", ".pixi", "lima", "a-docker")
	other := filepath.Join(dir, "b")
	for _, d := range []string{instDir, filepath.Join(other, ".pixi", "lima", "b-docker")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, _ := os.Executable()
	limactl := filepath.Join(dir, "limactl")
	ha, shared := listenChild(t, limactl, "reuse 127.0.0.1:0", "hostagent", "--pidfile", filepath.Join(instDir, "ha.pid"), "a-docker")
	otherHA, _ := listenChild(t, limactl, fmt.Sprintf("reuse 127.0.0.1:%d", shared),
		"hostagent", "--pidfile", filepath.Join(other, ".pixi", "lima", "b-docker", "ha.pid"), "b-docker")
	holder, taken := listenChild(t, self, "plain 127.0.0.1:0")
	hidden, unseen := listenChild(t, self, "plain 127.0.0.1:0")
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := free.Addr().(*net.TCPAddr).Port
	free.Close()
	if err := os.WriteFile(filepath.Join(instDir, "ha.pid"), []byte(strconv.Itoa(ha)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, p := range []int{shared, taken, gone, unseen} {
		log = append(log, fmt.Sprintf(`{"level":"info","msg":"Forwarding TCP from 127.0.0.1:%d to 127.0.0.1:%d","time":"2026-12-04T04:10:01Z"}`, p, p))
		if p != shared {
			log = append(log, fmt.Sprintf(`{"level":"error","msg":"failed to listen to TCP connection: listen tcp 127.0.0.1:%d: bind: address already in use","time":"2026-12-04T04:10:01Z"}`, p))
		}
	}
	if err := os.WriteFile(filepath.Join(instDir, "ha.stderr.log"), []byte(strings.Join(log, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []PortClash{
		{Addr: fmt.Sprintf("127.0.0.1:%d", shared), Holder: "the VM of " + other, PID: otherHA, Shared: true},
		{Addr: fmt.Sprintf("127.0.0.1:%d", taken), Holder: fmt.Sprintf("%s (pid %d)", filepath.Base(self), holder), PID: holder},
		{Addr: fmt.Sprintf("127.0.0.1:%d", gone)},
		{Addr: fmt.Sprintf("127.0.0.1:%d", unseen), Holder: "a process of another user", OtherUser: true},
	}
	// The hidden holder stands for another user's, which lsof without root
	// does not list on macOS: a bind tells it from a port that is free now.
	list := func(ports []uint16, first ...int) []listeners.Listener {
		return slices.DeleteFunc(listeners.TCP(ports, first...), func(l listeners.Listener) bool { return l.PID == hidden })
	}
	if got := portClashes(instDir, list); !slices.Equal(got, want) {
		t.Errorf("PortClashes:\n got %+v\nwant %+v", got, want)
	}
	// A host agent that is not the instance's own: no clash is its.
	if err := os.WriteFile(filepath.Join(instDir, "ha.pid"), []byte(strconv.Itoa(otherHA)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := PortClashes(instDir); got != nil {
		t.Errorf("with another instance's pid in ha.pid: %+v", got)
	}
}

// TestHolderName: another pixi-lima project's VM by its root, another
// Lima VM by its name, anything else by its program.
func TestHolderName(t *testing.T) {
	dir := t.TempDir()
	limactl := filepath.Join(dir, "limactl")
	plain, _ := listenChild(t, limactl, "plain 127.0.0.1:0", "hostagent", "--pidfile", "/home/u/.lima/default/ha.pid", "default")
	if got, want := holderName(plain), fmt.Sprintf(`Lima VM "default" (pid %d)`, plain); got != want {
		t.Errorf("holderName = %q, want %q", got, want)
	}
	if got := holderName(0); got != "another process" {
		t.Errorf("holderName(0) = %q", got)
	}
}
