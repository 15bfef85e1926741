package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/lima/ping"
	"github.com/pixi-lima/pixi-lima/shim/wake"
)

// wakeCommand serves the project's wake socket (package wake): the
// DOCKER_HOST of clients that never call the shim. It is not in help:
// the shim and env/activate.sh start it, `stop` and `delete` end it.
const wakeCommand = "_wake-socket"

// wakeCheck is how often the server checks that its socket is still in
// .pixi: deleting .pixi, or another server taking the path, ends it.
const wakeCheck = 5 * time.Second

// wakeServer is the pid of the process serving the wake socket, 0 if none.
// The server holds a lock on its pid file, so a pid left by a server that
// died, and since reused by another process, is never taken for it.
func wakeServer(p *project) int {
	l, free, err := lima.TryLock(p.paths.WakePID())
	if err != nil {
		return 0
	}
	if free {
		l.Unlock()
		return 0
	}
	return lima.HolderPID(p.paths.WakePID())
}

// ensureWakeSocket starts the wake socket's server if none serves. It goes
// through `_wake-socket --detach`, which returns once the server listens,
// so that the server's parent is gone and the server outlives the call
// (docker replaces the shim's process and would never reap it).
func (s *session) ensureWakeSocket(p *project) {
	if wakeServer(p) != 0 {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(exe, wakeCommand, "--detach")
	cmd.Dir, cmd.Env, cmd.Stderr = p.paths.Root, s.environ, s.stderr
	if err := cmd.Run(); err != nil {
		s.printf("warning: the wake socket %s could not be started (%v); clients other than docker reach the engine only while it runs", p.paths.WakeSocket(), err)
	}
}

// wakeStartLines are shell lines that start the wake socket's server
// unless the pid it left lives: builtins only, so that sourcing them where
// it serves (every pixi run) forks nothing. A pid reused by another
// process only delays the start to the next docker call.
func wakeStartLines(p *project) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return startLines(exe, p.paths.WakePID(), p.paths.WakeSocket())
}

// startLines are wakeStartLines for a given pixi-lima. They are sourced by
// activations and by `eval "$(pixi-lima env)"` in scripts under set -eu, in
// sh, bash and zsh: no line may fail or say anything. A missing pid file is
// the first activation's, an empty one (read fails at EOF) is stop's; the
// group's 2>/dev/null comes first so that it also takes the message of the
// read's own redirection.
func startLines(exe, pidFile, sock string) string {
	return "__pixi_lima_pid=\n" +
		fmt.Sprintf("{ read -r __pixi_lima_pid __pixi_lima_rest <%s; } 2>/dev/null || :\n", shellQuote(pidFile)) +
		fmt.Sprintf("[ -S %s ] && [ -n \"$__pixi_lima_pid\" ] && kill -0 \"$__pixi_lima_pid\" 2>/dev/null || %s %s --detach </dev/null >/dev/null 2>&1 || :\n",
			shellQuote(sock), shellQuote(exe), wakeCommand) +
		"unset __pixi_lima_pid __pixi_lima_rest\n"
}

// checkWakeSocket is doctor's look at the wake socket. It connects and
// sends nothing: only a request starts the VM.
func checkWakeSocket(p *project) check {
	sock := p.paths.WakeSocket()
	pid := wakeServer(p)
	if pid == 0 {
		return check{Name: "wake socket", OK: true, Warning: true,
			Detail: sock + " is not served: clients other than docker (SDKs, Testcontainers) reach the engine only while the VM runs",
			Fix:    "any docker call or pixi run starts it (pixi-lima init)"}
	}
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return check{Name: "wake socket", Detail: fmt.Sprintf("pid %d serves %s, but it does not accept: %v", pid, sock, err),
			Fix: "pixi-lima stop, then any docker call starts it again"}
	}
	c.Close()
	detail := fmt.Sprintf("%s, served by pid %d: a client there starts the VM when it is down", sock, pid)
	if line, ok := asleepLine(p); ok {
		detail += "; " + line
	}
	return check{Name: "wake socket", OK: true, Detail: detail}
}

// asleepLine says, while the engine does not answer, that the wake socket
// answers read-only calls from a snapshot (package wake), and of when.
func asleepLine(p *project) (string, bool) {
	taken, ok := wake.Asleep(p.paths.Snapshot())
	if !ok || ping.Engine(p.paths.DockerSocket(p.config.Name), time.Second) {
		return "", false
	}
	return "asleep: answering read-only calls from the snapshot of " + taken.Local().Format(time.DateTime), true
}

// stopWakeSocket ends the wake socket's server, if one serves, and waits
// a moment for it to go.
func (s *session) stopWakeSocket(p *project) {
	pid := wakeServer(p)
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(3 * time.Second); wakeServer(p) != 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// readyFD is the descriptor on which a detached server says it listens:
// its parent's first cmd.ExtraFiles.
const readyFD = 3

// cmdWakeSocket serves the wake socket until SIGTERM, or until the socket
// is no longer its own. With --detach it starts that server in a session
// of its own, waits until it listens, and returns.
func (s *session) cmdWakeSocket(args []string) error {
	var ready *os.File
	switch {
	case len(args) == 1 && args[0] == fmt.Sprintf("--ready-fd=%d", readyFD):
		ready = os.NewFile(readyFD, "ready")
		defer ready.Close()
	case len(args) > 1 || len(args) == 1 && args[0] != "--detach":
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: unexpected arguments %q", wakeCommand, args)}
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	if _, vm := p.engine.(vmEngine); !vm {
		return nil // an activation written for the VM, before the engine changed
	}
	if len(args) == 1 && ready == nil {
		return s.detachWakeSocket(p)
	}
	// A short wait: wakeServer's probe holds the lock for a moment.
	l, err := lima.Acquire(p.paths.WakePID(), "serving the wake socket", 200*time.Millisecond, nil)
	var busy *lima.BusyError
	if errors.As(err, &busy) {
		return nil // another server serves
	} else if err != nil {
		return err
	}
	defer l.Unlock()

	sock := p.paths.WakeSocket()
	ln, err := wake.Listen(sock) // replacing a dead server's: the lock is ours
	if err != nil {
		return err
	}
	mine, err := os.Stat(sock)
	if err != nil {
		return err
	}
	if ready != nil {
		ready.Write([]byte{1})
		ready.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(wakeCheck)
			if now, err := os.Stat(sock); err != nil || !os.SameFile(now, mine) {
				stop()
			}
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	srv := &wake.Server{Engine: p.paths.DockerSocket(p.config.Name), Log: s.stderr,
		Snapshot: p.paths.Snapshot(), Readers: p.paths.WakeReaders(),
		Start: func(_ context.Context, requested time.Time) error { return s.initFromWake(exe, p, requested) }}
	err = srv.Serve(ctx, ln)
	if now, statErr := os.Stat(sock); statErr == nil && os.SameFile(now, mine) {
		os.Remove(sock)
	}
	return err
}

// initFromWake starts the VM as `pixi-lima init` does, in a process of its
// own: the same lock and checks as the shim's, and the settings as they
// are now. init refuses a request that arrived before the last stop or
// delete. It outlives the server, which stop may end meanwhile: its own
// process group (a terminal's ^C to the server's is not for it), and its
// output into the server's log file itself, not through a pipe that would
// end it with SIGPIPE once the server is gone.
func (s *session) initFromWake(exe string, p *project, requested time.Time) error {
	cmd := exec.Command(exe, "init", "--requested-at="+requested.Format(time.RFC3339Nano))
	cmd.Dir, cmd.Env = p.paths.Root, s.environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := p.paths.LogFile("wake-socket")
	if log, ok := s.stderr.(*os.File); ok && sameFile(log, logPath) {
		fi, err := log.Stat()
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(logPath)
			return initError(string(out[min(fi.Size(), int64(len(out))):]), err)
		}
		return nil
	}
	var out bytes.Buffer
	w := io.MultiWriter(s.stderr, &out) // one writer: exec then writes from one goroutine
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return initError(out.String(), err)
	}
	return nil
}

// initError is the error init printed, which the client gets, else err.
func initError(out string, err error) error {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "pixi-lima: error") {
			return errors.New(strings.TrimPrefix(line, "pixi-lima: "))
		}
	}
	return err
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// detachWakeSocket starts the server with its output in the log directory
// and waits until it listens. It learns that from a pipe, not by
// connecting, which could look like a client.
func (s *session) detachWakeSocket(p *project) error {
	if wakeServer(p) != 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.paths.Logs, 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(p.paths.LogFile("wake-socket"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(exe, wakeCommand, fmt.Sprintf("--ready-fd=%d", readyFD))
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.paths.Root, s.environ, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal's hangup or ^C reaches it
	err = startNotified(cmd, 3*time.Second)
	var exited *exitedError
	if errors.As(err, &exited) && wakeServer(p) != 0 {
		return nil // another server won the lock
	}
	if err != nil {
		return fmt.Errorf("%w; see %s", err, p.paths.LogFile("wake-socket"))
	}
	return nil
}

// exitedError is a server that exited before it said it was ready.
type exitedError struct{ err error }

func (e *exitedError) Error() string { return fmt.Sprintf("the server exited (%v)", e.err) }

// startNotified starts cmd with a pipe as its descriptor readyFD and waits
// until cmd writes a byte there, exits, or timeout passes.
func startNotified(cmd *exec.Cmd, timeout time.Duration) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w} // the first is descriptor 3
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(timeout)
	r.SetReadDeadline(deadline)
	if n, _ := r.Read(make([]byte, 1)); n == 1 {
		return nil
	}
	// EOF: the descriptor closed, so the server ends, or the deadline passed.
	select {
	case err := <-exited:
		return &exitedError{err}
	case <-time.After(time.Until(deadline)):
		return fmt.Errorf("the server did not listen within %s", timeout)
	}
}
