package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// portClash: host ports that other processes hold when the VM's
// containers publish them. Lima's host agent cannot listen beside a
// server that did not set SO_REUSEPORT, and listens beside one that did
// (another project's host agent, as this user); docker run succeeds
// either way. The next docker call says so, naming the holder where this
// user may read its process, and so do status and doctor; a holder gone
// and the container restarted, the port is the container's again. Needs
// the VM running, the e2e-busybox image, and ports 18140-18142 free.
func portClash(t *testing.T, p *Project, docker string) {
	t.Helper()
	const named, rootHeld, shared = 18140, 18141, 18142
	// A server of the test user's own, such as a dev server.
	namedPID, stopNamed := hostListener(t, p, named, false)
	defer stopNamed()
	// root's (this test's): the shim sees its socket, not its process.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", rootHeld))
	must(t, err)
	defer l.Close()
	sharedPID, stopShared := hostListener(t, p, shared, true)
	defer stopShared()

	for i, port := range []int{named, rootHeld, shared} {
		name := "clash" + strconv.Itoa(i)
		p.MustRun(t, p.Command(docker, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "e2e-busybox",
			"sh", "-c", "mkdir -p /www && echo hello-clash >/www/index.html && exec httpd -f -p 8080 -h /www"))
		defer p.Run(t, p.Command(docker, "rm", "-f", name))
	}
	want := []string{
		fmt.Sprintf("pixi-lima: warning: port 127.0.0.1:%d is not forwarded to this VM: python3 (pid %d) holds it on the host, so a client on the host reaches that, not this project's container (fix: publish another host port, or stop the other)", named, namedPID),
		fmt.Sprintf("pixi-lima: warning: port 127.0.0.1:%d is not forwarded to this VM: another process holds it on the host", rootHeld),
		fmt.Sprintf("pixi-lima: warning: port 127.0.0.1:%d is held on the host by python3 (pid %d) as well as by this VM", shared, sharedPID),
	}
	// Lima's guest agent sees the ports at its tick, then the host agent
	// tries to listen: the calls after that warn.
	var said strings.Builder
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		_, stderr, code := p.Run(t, p.Command(docker, "ps", "-q"))
		if code != 0 {
			t.Fatalf("docker ps: exit %d\n%s", code, stderr)
		}
		said.WriteString(stderr)
		if containsAll(said.String(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("docker ps never said, in 10 s:\n%s\nit said:\n%s", strings.Join(want, "\n"), said.String())
			break
		}
	}

	clashes := portClashes(t, p)
	wantJSON := map[int]portClashJSON{
		named:    {Holder: fmt.Sprintf("python3 (pid %d)", namedPID), PID: namedPID},
		rootHeld: {Holder: "another process"},
		shared:   {Holder: fmt.Sprintf("python3 (pid %d)", sharedPID), PID: sharedPID, Shared: true},
	}
	for port, w := range wantJSON {
		w.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		if got, ok := clashes[w.Addr]; !ok || got != w {
			t.Errorf("status --json portClashes[%s] = %+v, want %+v (all: %+v)", w.Addr, got, w, clashes)
		}
	}
	if out := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status")); !strings.Contains(out, fmt.Sprintf("clash:     port 127.0.0.1:%d is not forwarded", named)) {
		t.Errorf("status does not show the clash:\n%s", out)
	}
	r, _ := runDoctor(t, p, p.Command(p.Bin("pixi-lima"), "doctor", "--json"))
	if ok, detail, fix := r.check(t, "ports"); !ok || !strings.Contains(detail, fmt.Sprintf("port 127.0.0.1:%d is not forwarded", named)) ||
		!strings.Contains(detail, fmt.Sprintf("port 127.0.0.1:%d is held on the host by python3", shared)) || !strings.Contains(fix, "publish another host port") {
		t.Errorf("doctor's ports check: ok=%v %s / %s", ok, detail, fix)
	}

	// The holder gone, Lima does not try again by itself: status says to
	// restart the container, and once it is, the port is the container's.
	stopNamed()
	addr := fmt.Sprintf("127.0.0.1:%d", named)
	if got := portClashes(t, p)[addr]; got.Holder != "" || got.Addr != addr {
		t.Errorf("with the holder gone, status --json portClashes[%s] = %+v, want no holder", addr, got)
	}
	p.MustRun(t, p.Command(docker, "stop", "-t", "0", "clash0"))
	waitNoClash(t, p, addr)
	p.MustRun(t, p.Command(docker, "start", "clash0"))
	if !pageAnswers(t, addr, "hello-clash") {
		t.Errorf("the restarted container's port %s never answered from the host", addr)
	}
	if _, ok := portClashes(t, p)[addr]; ok {
		t.Errorf("status still lists %s once the container has it", addr)
	}
	// A container removed, its clash goes with it.
	p.MustRun(t, p.Command(docker, "rm", "-f", "clash2"))
	waitNoClash(t, p, fmt.Sprintf("127.0.0.1:%d", shared))
}

// hostListener runs a python3 of the test user's listening on
// 127.0.0.1:port, with SO_REUSEPORT when reuse (as Lima's host agent
// listens), and returns its pid and a stop that may be called twice.
func hostListener(t *testing.T, p *Project, port int, reuse bool) (int, func()) {
	t.Helper()
	script := `import socket, sys, time
s = socket.socket()
if sys.argv[2] == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(3600)
`
	reuseArg := map[bool]string{false: "0", true: "1"}[reuse]
	// setpriv execs python3: the pid is python3's.
	cmd := p.Command("/usr/bin/python3", "-c", script, strconv.Itoa(port), reuseArg)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "listening\n" {
		stop()
		t.Fatalf("python3 did not listen on 127.0.0.1:%d", port)
	}
	return cmd.Process.Pid, stop
}

// portClashJSON is one of `pixi-lima status --json`'s portClashes.
type portClashJSON struct {
	Addr   string `json:"addr"`
	Holder string `json:"holder"`
	PID    int    `json:"pid"`
	Shared bool   `json:"shared"`
}

// portClashes is status --json's portClashes by address.
func portClashes(t *testing.T, p *Project) map[string]portClashJSON {
	t.Helper()
	var st struct {
		PortClashes []portClashJSON `json:"portClashes"`
	}
	out := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status", "--json"))
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[string]portClashJSON{}
	for _, c := range st.PortClashes {
		m[c.Addr] = c
	}
	return m
}

// waitNoClash waits for status to stop listing addr: the guest agent
// reports the port gone at its tick.
func waitNoClash(t *testing.T, p *Project, addr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		c, ok := portClashes(t, p)[addr]
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("status still lists %+v 10 s after its container stopped", c)
			return
		}
	}
}

// containsAll says whether s contains every one of want.
func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
