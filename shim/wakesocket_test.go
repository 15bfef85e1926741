package shim

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
)

// The activation's start lines, sourced by each shell with set -eu: silent,
// the shell goes on, and the server starts unless the pid file names a
// live process and the socket is there.
func TestWakeStartLinesInShells(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "pixi-lima")
	// The fake pixi-lima notes each start, and fails when told to.
	must(t, os.WriteFile(exe, []byte("#!/bin/sh\necho \"$@\" >>\"$0.calls\"\nexit \"${FAKE_EXIT:-0}\"\n"), 0o755))
	sock, pidFile := filepath.Join(dir, "docker.sock"), filepath.Join(dir, "wake-socket.pid")
	lines := filepath.Join(dir, "lines.sh")
	must(t, os.WriteFile(lines, []byte(startLines(exe, pidFile, sock)), 0o644))

	dead := exec.Command("true")
	must(t, dead.Run())
	cases := []struct {
		name      string
		pid       *string // nil: no pid file
		socket    bool
		fail      bool
		wantStart bool
	}{
		{name: "no pid file", wantStart: true},
		{name: "empty pid file", pid: ptr(""), socket: true, wantStart: true},
		{name: "dead pid", pid: ptr(strconv.Itoa(dead.Process.Pid) + " 1\n"), socket: true, wantStart: true},
		{name: "live server", pid: ptr(strconv.Itoa(os.Getpid()) + " 1\n"), socket: true},
		{name: "live pid, no socket", pid: ptr(strconv.Itoa(os.Getpid()) + "\n"), wantStart: true},
		{name: "start fails", pid: ptr(""), fail: true, wantStart: true},
	}
	for _, shell := range []string{"bash", "dash", "zsh"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			if os.Getenv("PIXI_LIMA_TEST_REQUIRE") == "1" {
				t.Errorf("%s is not installed (tests/setup.sh installs it)", shell)
			} else {
				t.Logf("skipping %s: not installed", shell)
			}
			continue
		}
		for _, c := range cases {
			t.Run(shell+"/"+c.name, func(t *testing.T) {
				os.Remove(exe + ".calls")
				os.Remove(pidFile)
				if c.pid != nil {
					must(t, os.WriteFile(pidFile, []byte(*c.pid), 0o644))
				}
				if c.socket {
					l, err := net.Listen("unix", sock)
					must(t, err)
					defer l.Close()
				}
				cmd := exec.Command(path, "-c", `set -eu; . "$1"; echo "after ${__pixi_lima_pid-unset}"`, shell, lines)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FAKE_EXIT=0"}
				if c.fail {
					cmd.Env[1] = "FAKE_EXIT=1"
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				if err != nil || stdout.String() != "after unset\n" || stderr.Len() > 0 {
					t.Errorf("%v\nstdout: %q\nstderr: %q", err, stdout.String(), stderr.String())
				}
				calls, _ := os.ReadFile(exe + ".calls")
				if started := string(calls) == wakeCommand+" --detach\n"; started != c.wantStart {
					t.Errorf("the server was started: %v (calls %q), want %v", started, calls, c.wantStart)
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fakeInit is a pixi-lima whose init notes its arguments, process group and
// kind of stderr, says it starts the VM, and fails as init does.
func fakeInit(t *testing.T, dir string) string {
	exe := filepath.Join(dir, "pixi-lima")
	script := `#!/bin/sh
echo "$@" >"$0.args"
ps -o pgid= -p $$ | tr -d ' ' >"$0.pgid"
if [ -f /dev/stderr ]; then echo file; else echo other; fi >"$0.stderr"
sleep 0.3
echo 'pixi-lima: starting VM'
echo "pixi-lima: error at 'starting': the request came before the last stop" >&2
exit 1
`
	must(t, os.WriteFile(exe, []byte(script), 0o755))
	return exe
}

// The wake server's init runs in a process group of its own, with the time
// the request arrived, and its error is the client's message.
func TestInitFromWake(t *testing.T) {
	dir := t.TempDir()
	exe := fakeInit(t, dir)
	p := &project{paths: env.NewPaths(dir)}
	var log bytes.Buffer
	s := &session{stderr: &log, environ: []string{"PATH=" + os.Getenv("PATH")}, getenv: func(string) string { return "" }}
	requested := time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC)
	err := s.initFromWake(exe, p, requested)
	if want := "error at 'starting': the request came before the last stop"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if args, _ := os.ReadFile(exe + ".args"); string(args) != "init --requested-at=2025-03-04T05:06:07.890123456Z\n" {
		t.Errorf("init ran with %q", args)
	}
	if pgid, _ := os.ReadFile(exe + ".pgid"); strings.TrimSpace(string(pgid)) == strconv.Itoa(syscall.Getpgrp()) || len(pgid) == 0 {
		t.Errorf("init ran in the server's process group %q", pgid)
	}
	if !strings.Contains(log.String(), "pixi-lima: starting VM") {
		t.Errorf("init's output is not in the server's log:\n%s", log.String())
	}
}

// When the server's output is the project's log file, init writes there
// itself, as it goes: a pipe to the server would end init with SIGPIPE
// when the server ends.
func TestInitFromWakeWritesToTheLog(t *testing.T) {
	dir := t.TempDir()
	exe := fakeInit(t, dir)
	p := &project{paths: env.NewPaths(dir)}
	must(t, os.MkdirAll(p.paths.Logs, 0o755))
	logFile, err := os.OpenFile(p.paths.LogFile("wake-socket"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(t, err)
	defer logFile.Close()
	io.WriteString(logFile, "pixi-lima: error from an earlier start\n")
	s := &session{stderr: logFile, environ: []string{"PATH=" + os.Getenv("PATH")}, getenv: func(string) string { return "" }}
	err = s.initFromWake(exe, p, time.Now())
	if want := "error at 'starting': the request came before the last stop"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if kind, _ := os.ReadFile(exe + ".stderr"); string(kind) != "file\n" {
		t.Errorf("init's stderr is %q, want the log file", kind)
	}
	if log, _ := os.ReadFile(p.paths.LogFile("wake-socket")); !strings.Contains(string(log), "pixi-lima: starting VM") {
		t.Errorf("init's output is not in the log:\n%s", log)
	}
}

// --detach learns that the server listens from a byte on a pipe, that it
// exited from the pipe's end, and gives up after its timeout.
func TestStartNotified(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"ready", "printf x >&3; exec sleep 5", ""},
		{"exited", "exit 3", "the server exited (exit status 3)"},
		{"silent", "exec sleep 5", "the server did not listen within 300ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", c.script)
			begin := time.Now()
			err := startNotified(cmd, 300*time.Millisecond)
			if cmd.Process != nil {
				cmd.Process.Kill()
			}
			if got := fmt.Sprint(err); err == nil && c.want != "" || err != nil && got != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if took := time.Since(begin); took > time.Second {
				t.Errorf("it took %s", took)
			}
		})
	}
}
