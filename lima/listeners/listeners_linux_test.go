package listeners

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// childVar makes TestListenChild listen on a port and print it.
const childVar = "PIXI_LIMA_LISTENERS_CHILD"

func port(t *testing.T, l net.Listener) uint16 {
	t.Helper()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestTCPThisProcess: a socket of this process is found, with its pid,
// whether the pid is named first or found among all.
func TestTCPThisProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := []Listener{{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port(t, l)), os.Getpid()}}
	if got := TCP([]uint16{port(t, l)}, os.Getpid()); !slices.Equal(got, want) {
		t.Errorf("TCP(port, own pid) = %v, want %v", got, want)
	}
	if got := TCP([]uint16{port(t, l)}); !slices.Equal(got, want) {
		t.Errorf("TCP(port) = %v, want %v", got, want)
	}
	l.Close()
	if got := TCP([]uint16{port(t, l)}); len(got) != 0 {
		t.Errorf("after Close: %v", got)
	}
}

// TestTCPChild: another process's socket is found among all processes.
func TestTCPChild(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestListenChild$")
	cmd.Env = append(os.Environ(), childVar+"=[::1]:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	p, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Skipf("the child did not listen on [::1] (no IPv6 here?): %q %v", line, err)
	}
	got := TCP([]uint16{uint16(p)}, os.Getpid())
	want := []Listener{{netip.MustParseAddrPort(fmt.Sprintf("[::1]:%d", p)), cmd.Process.Pid}}
	if !slices.Equal(got, want) {
		t.Errorf("TCP = %v, want %v (the child)", got, want)
	}
}

// TestTCPOtherUser: another user's socket is listed without its process,
// whose fds this user cannot read. Run as root, it looks as nobody.
func TestTCPOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to look as another user")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A copy of the binary that nobody may run: go test's is in a private directory.
	dir, err := os.MkdirTemp("", "listeners")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	self, _ := os.Executable()
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := dir + "/listeners.test"
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestLookChild$")
	cmd.Env = append(os.Environ(), lookVar+"="+strconv.Itoa(int(port(t, l))))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	want := fmt.Sprintf("127.0.0.1:%d 0\n", port(t, l))
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("nobody's view of root's socket: %v\n%s\nwant %q first", err, out, want)
	}
}

// lookVar makes TestLookChild print what TCP finds on a port.
const lookVar = "PIXI_LIMA_LISTENERS_LOOK"

// TestLookChild is TestTCPOtherUser's child process.
func TestLookChild(t *testing.T) {
	p, err := strconv.Atoi(os.Getenv(lookVar))
	if err != nil {
		t.Skip("run by TestTCPOtherUser")
	}
	for _, l := range TCP([]uint16{uint16(p)}) {
		fmt.Printf("%s %d\n", l.Addr, l.PID)
	}
}

// TestListenChild is TestTCPChild's child process.
func TestListenChild(t *testing.T) {
	addr := os.Getenv(childVar)
	if addr == "" {
		t.Skip("run by TestTCPChild")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(port(t, l))
	select {}
}
