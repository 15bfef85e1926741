package lima

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limactl runs the real limactl with the project's environment, showing
// its progress on stderr and recording everything it says in a log file.
type Limactl struct {
	Path   string    // the limactl binary
	Env    []string  // its whole environment (LIMA_HOME etc. already set)
	Stderr io.Writer // where progress goes; stdout belongs to the wrapped tool
	TTY    bool      // Stderr is a terminal: show one grey, rewritten tail line
	Log    string    // file that keeps every line limactl printed
}

// StageError says which stage failed and carries limactl's last lines.
type StageError struct {
	Stage string
	Err   error
	Tail  []string // limactl's last lines
	Logs  []string // files with the whole story
	Hint  string   // the next step, where the stage knows it better than a generic one
}

// Error quotes the stage in single quotes: stages name VMs in double ones.
func (e *StageError) Error() string { return fmt.Sprintf("error at '%s': %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

const tailLines = 15

// outputGrace is how long limactl's output may outlive it.
const outputGrace = 2 * time.Second

// Run runs `limactl args...` as the named stage, saying so and how long it took.
func (l Limactl) Run(ctx context.Context, stage string, args ...string) error {
	begin := time.Now()
	fmt.Fprintf(l.Stderr, "pixi-lima: %s …\n", stage)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := l.command(ctx, args)
	out, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = w, w // one stream, in the order limactl wrote it
	logFile := l.openLog(args)
	if logFile != nil {
		defer logFile.Close()
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return &StageError{Stage: stage, Err: err}
	}
	followed := make(chan []string, 1)
	go func() { followed <- l.follow(out, logFile, begin) }()
	err = cmd.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	// ssh's ControlMaster may hold the pipe after limactl has ended.
	var tail []string
	select {
	case tail = <-followed:
	case <-time.After(outputGrace):
		out.Close()
		tail = <-followed
	}
	if l.TTY {
		fmt.Fprint(l.Stderr, "\r\033[K")
	}
	if err != nil {
		return &StageError{Stage: stage, Err: fmt.Errorf("limactl %s: %w", subcommand(args), err), Tail: tail, Logs: []string{l.Log}}
	}
	fmt.Fprintf(l.Stderr, "pixi-lima: %s: done in %s\n", stage, round(time.Since(begin)))
	return nil
}

// Output runs limactl quietly and returns its stdout (for `--version`, `list`).
func (l Limactl) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := l.command(ctx, args)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("limactl %s: %w: %s", MaskCredentials(strings.Join(args, " ")), err, MaskCredentials(strings.TrimSpace(stderr.String())))
	}
	return out, nil
}

// command is limactl in a process group of its own, which an ended ctx
// kills whole: a killed limactl alone would leave its ssh child running.
func (l Limactl) command(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.Path, args...)
	cmd.Env = l.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = outputGrace
	return cmd
}

// follow copies limactl's lines to stderr (on a terminal, one grey line
// redrawn) and to the log, and returns the last few.
func (l Limactl) follow(r io.Reader, log io.Writer, begin time.Time) []string {
	var (
		mu   sync.Mutex
		last string
		ring []string
	)
	done := make(chan struct{})
	if l.TTY {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					mu.Lock()
					l.redraw(last, begin)
					mu.Unlock()
				}
			}
		}()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	inMessage := false
	for sc.Scan() {
		line := MaskCredentials(sc.Text()) // Lima logs proxy URLs at info level
		if log != nil {
			fmt.Fprintln(log, line)
		}
		if inMessage = templateMessage(line, inMessage); inMessage {
			continue
		}
		mu.Lock()
		ring = append(ring, line)
		if len(ring) > tailLines {
			ring = ring[1:]
		}
		last = line
		if l.TTY {
			l.redraw(last, begin)
		} else {
			fmt.Fprintln(l.Stderr, line)
		}
		mu.Unlock()
	}
	close(done)
	return ring
}

// messageStart is how limactl start introduces the template's message
// (pkg/instance ShowMessage); the message's own lines follow without
// logrus' prefix. template://docker's tells the user to create a docker
// context, which pixi-lima makes unnecessary.
const messageStart = `msg="Message from the instance `

// templateMessage says whether line belongs to the template's message,
// given whether the line before did: from its heading to limactl's next
// logrus line.
func templateMessage(line string, inMessage bool) bool {
	if strings.Contains(line, messageStart) {
		return true
	}
	return inMessage && !strings.HasPrefix(line, `time="`)
}

func (l Limactl) redraw(line string, begin time.Time) {
	const width = 100
	if len(line) > width {
		line = line[:width] + "…"
	}
	fmt.Fprintf(l.Stderr, "\r\033[K\033[90m[%s] %s\033[0m", round(time.Since(begin)), line)
}

func (l Limactl) openLog(args []string) *os.File {
	if l.Log == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.Log), 0o755); err != nil {
		return nil
	}
	f, err := os.OpenFile(l.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	fmt.Fprintf(f, "\n=== %s limactl %s\n", time.Now().Format(time.RFC3339), MaskCredentials(strings.Join(args, " ")))
	return f
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// subcommand is the first argument that is not a flag.
func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return strings.Join(args, " ")
}
