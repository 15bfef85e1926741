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
// through `_wake-socket --detach`, which returns once the socket accepts,
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
	return fmt.Sprintf("__pixi_lima_pid=\nread -r __pixi_lima_pid __pixi_lima_rest <%s 2>/dev/null\n", shellQuote(p.paths.WakePID())) +
		fmt.Sprintf("[ -S %s ] && [ -n \"$__pixi_lima_pid\" ] && kill -0 \"$__pixi_lima_pid\" 2>/dev/null || %s %s --detach </dev/null >/dev/null 2>&1\n",
			shellQuote(p.paths.WakeSocket()), shellQuote(exe), wakeCommand) +
		"unset __pixi_lima_pid __pixi_lima_rest\n"
}

// checkWakeSocket is doctor's look at the wake socket.
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
	return check{Name: "wake socket", OK: true, Detail: fmt.Sprintf("%s, served by pid %d: a client there starts the VM when it is down", sock, pid)}
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

// cmdWakeSocket serves the wake socket until SIGTERM, or until the socket
// is no longer its own. With --detach it starts that server in a session
// of its own, waits until the socket accepts, and returns.
func (s *session) cmdWakeSocket(args []string) error {
	if len(args) > 1 || len(args) == 1 && args[0] != "--detach" {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: unexpected arguments %q", wakeCommand, args)}
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	if _, vm := p.engine.(vmEngine); !vm {
		return nil // an activation written for the VM, before the engine changed
	}
	if len(args) == 1 {
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
	os.Remove(sock) // a dead server's: the lock is ours
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // removed below, only while still ours
	os.Chmod(sock, 0o600)
	mine, err := os.Stat(sock)
	if err != nil {
		return err
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
		Start: func(ctx context.Context) error { return s.initFromWake(ctx, exe, p) }}
	err = srv.Serve(ctx, ln)
	if now, statErr := os.Stat(sock); statErr == nil && os.SameFile(now, mine) {
		os.Remove(sock)
	}
	return err
}

// initFromWake starts the VM as `pixi-lima init` does, in a process of its
// own: the same lock and checks as the shim's, and the settings as they
// are now, not as they were when the server started.
func (s *session) initFromWake(ctx context.Context, exe string, p *project) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "init")
	cmd.Dir, cmd.Env = p.paths.Root, s.environ
	cmd.Stdout, cmd.Stderr = s.stderr, io.MultiWriter(s.stderr, &out)
	if err := cmd.Run(); err != nil {
		// The client gets the error pixi-lima printed, not only an exit code.
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "pixi-lima: error") {
				return errors.New(strings.TrimPrefix(line, "pixi-lima: "))
			}
		}
		return err
	}
	return nil
}

// detachWakeSocket starts the server with its output in the log directory
// and waits until its socket accepts.
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
	cmd := exec.Command(exe, wakeCommand)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.paths.Root, s.environ, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal's hangup or ^C reaches it
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", p.paths.WakeSocket()); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			if wakeServer(p) != 0 {
				return nil // another server won the lock
			}
			return fmt.Errorf("the server exited (%v); see %s", err, p.paths.LogFile("wake-socket"))
		default:
		}
	}
	return fmt.Errorf("its socket did not accept within 3s; see %s", p.paths.LogFile("wake-socket"))
}
