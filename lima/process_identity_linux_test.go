package lima

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPortClashesAnotherProjectsSSH: a forwarded port that the ssh master
// of another project at a longer path holds is a clash, not this VM's own
// forward. The listener is this test's, under the fake ssh master's argv.
func TestPortClashesAnotherProjectsSSH(t *testing.T) {
	root := t.TempDir()
	instDir := filepath.Join(root, "Users/ana/app/.pixi/lima/app-docker")
	other := filepath.Join(root, "Volumes/Backup", instDir)
	mkdirs(t, instDir, other)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	ha := fakePID + 1
	table := map[int][]string{ha: hostAgentArgv(instDir), os.Getpid(): sshMuxArgv(other)}
	fakeProcesses(t, table)
	writePID(t, instDir, "ha.pid", ha)
	log := fmt.Sprintf(`{"level":"info","msg":"Forwarding TCP from %s to %s","time":"2026-12-04T04:10:01Z"}
{"level":"error","msg":"failed to listen to TCP connection: listen tcp %s: bind: address already in use","time":"2026-12-04T04:10:01Z"}
`, addr, addr, addr)
	if err := os.WriteFile(filepath.Join(instDir, "ha.stderr.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := PortClashes(instDir)
	if !slices.ContainsFunc(got, func(c PortClash) bool { return c.Addr == addr && c.PID == os.Getpid() }) {
		t.Errorf("PortClashes = %+v, want %s held by pid %d", got, addr, os.Getpid())
	}
	// The VM's own ssh master, naming the directory another way, is no clash.
	table[os.Getpid()] = sshMuxArgv(instDir + "/.")
	if got := PortClashes(instDir); len(got) != 0 {
		t.Errorf("with this VM's own ssh master: PortClashes = %+v, want none", got)
	}
}
