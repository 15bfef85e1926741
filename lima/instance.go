package lima

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/lima-vm/lima/pkg/hostagent/events"
	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/version"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Manager creates, starts, stops and inspects the project's instance.
type Manager struct {
	Paths   env.Paths
	Config  Config
	Limactl Limactl
	Stderr  io.Writer
	// SoftwareEmulation: KVM is not usable, QEMU emulates the CPU (see
	// TCGFallback). Starts are said to be slow, with the fix.
	SoftwareEmulation bool
}

// NewManager prepares pkg/store, which reads LIMA_HOME from our own
// environment, to look at the project's instances only.
func NewManager(paths env.Paths, cfg Config, limactl Limactl, stderr io.Writer) *Manager {
	UseHome(paths.LimaHome)
	setLimaVersion()
	return &Manager{Paths: paths, Config: cfg, Limactl: limactl, Stderr: stderr}
}

// setLimaVersion tells Lima's packages which Lima they are. limactl and
// install.sh's pixi-lima get it by -ldflags -X; a plain `go build` (tests)
// does not, and without it pkg/store fails every lima.yaml that has minimumLimaVersion (Lima's own
// templates do) with "can't parse builtin Lima version", so Inspect never
// sees Stopped or Running.
func setLimaVersion() {
	if version.Version != "<unknown>" {
		return
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/lima-vm/lima" {
				version.Version = dep.Version
			}
		}
	}
}

// Socket is the forwarded docker socket of the instance.
func (m *Manager) Socket() string { return m.Paths.DockerSocket(m.Config.Name) }

// Inspect returns the instance as Lima's pkg/store sees it, or nil when it
// does not exist.
func (m *Manager) Inspect() (*store.Instance, error) {
	inst, err := store.Inspect(m.Config.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return inst, err
}

// How long docker gets to answer once Lima says the VM runs: the socket is
// forwarded by Lima's host agent a moment after the guest is up.
const socketGrace = 60 * time.Second

// Ensure makes the engine answer: it creates the instance if missing, starts
// it if stopped, and repairs what Lima leaves half-done. Lock, re-check, act:
// concurrent callers wait for one start instead of racing limactl.
func (m *Manager) Ensure(ctx context.Context) error {
	sock := m.Socket()
	if ping.Engine(sock, 2*time.Second) {
		return nil
	}
	if err := os.MkdirAll(m.Paths.LimaHome, 0o755); err != nil {
		return err
	}
	lock, ok, err := TryLock(m.Paths.LockFile())
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(m.Stderr, "pixi-lima: another pixi-lima is starting VM %q; waiting …\n", m.Config.Name)
		if lock, err = WaitLock(m.Paths.LockFile()); err != nil {
			return err
		}
	}
	defer lock.Unlock()
	if ping.Engine(sock, 2*time.Second) {
		return nil
	}
	inst, err := m.Inspect()
	if err != nil {
		return err
	}
	switch {
	case inst == nil:
		if err := m.create(ctx); err != nil {
			return err
		}
	case inst.Status == store.StatusRunning:
		// A boot whose starter died (a killed shim leaves limactl start
		// running) is still under way: wait for it rather than restart it.
		if m.booting() {
			fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is still booting; waiting for it …\n", m.Config.Name)
			m.waitBooted(ctx, bootWait)
		}
		// Lima says running but docker is silent: maybe dockerd is still
		// starting; otherwise the forward or the guest is wedged.
		if ping.Wait(sock, socketGrace/2) {
			return nil
		}
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is running but docker does not answer on %s; restarting it\n", m.Config.Name, sock)
		if err := m.Limactl.Run(ctx, "stopping VM", "--tty=false", "stop", m.Config.Name); err != nil {
			return err
		}
	case inst.Status == store.StatusBroken:
		// A host crash or a killed host agent leaves ha.pid and sockets behind.
		// `limactl stop --force` removes exactly those; the disk is untouched.
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q was left half-running (%s); clearing Lima's stale state\n",
			m.Config.Name, joinErrors(inst.Errors))
		if err := m.Stop(ctx, true); err != nil {
			return err
		}
	case inst.Status != store.StatusStopped:
		return fmt.Errorf("VM %q is in state %q: %s", m.Config.Name, inst.Status, joinErrors(inst.Errors))
	}
	return m.start(ctx, inst)
}

// create runs `limactl create` with the project's settings. If it fails,
// the half-made instance directory is removed: it was created by this very
// call, has never booted and holds nothing of the user's, and leaving it
// would make every next try fail on a broken lima.yaml.
func (m *Manager) create(ctx context.Context) error {
	if err := env.CheckSocketBudget(m.Paths.LimaHome, m.Config.Name, runtime.GOOS); err != nil {
		return err
	}
	if err := CheckQEMUImg(m.Config.VMType); err != nil {
		return err
	}
	c := m.Config
	stage := fmt.Sprintf("creating VM %q from %s (%d CPUs, %s memory, %s disk)", c.Name, c.Template, c.CPUs, c.Memory, c.Disk)
	err := m.Limactl.Run(ctx, stage, "--tty=false", "create", "--name="+c.Name, c.Template, "--set", CreateExpression(c, m.Paths.Root))
	if err != nil {
		if inst, _ := m.Inspect(); inst == nil || inst.Status != store.StatusRunning {
			os.RemoveAll(m.Paths.InstanceDir(c.Name))
		}
	}
	return err
}

// CreateExpression is the yq expression that turns Lima's template into the
// project's instance. limactl applies it after embedding the template's
// bases, so setting .mounts replaces the base's home mount: only the
// project (writable, same path) and the configured extras are shared.
func CreateExpression(c Config, root string) string {
	mounts := append([]Mount{{Location: root, Writable: true}}, c.Mounts...)
	expr := []string{
		fmt.Sprintf(".cpus = %d", c.CPUs),
		fmt.Sprintf(".memory = %s", quote(c.Memory)),
		fmt.Sprintf(".disk = %s", quote(c.Disk)),
		".mounts = " + mustJSON(mounts),
	}
	if c.VMType != "" {
		expr = append(expr, ".vmType = "+quote(c.VMType))
	}
	if c.MountType != "" {
		expr = append(expr, ".mountType = "+quote(c.MountType))
	}
	if c.Image != "" {
		image := map[string]string{"location": c.Image, "arch": string(limayaml.NewArch(runtime.GOARCH))}
		expr = append(expr, ".images = ["+mustJSON(image)+"]")
	}
	return strings.Join(expr, " | ")
}

// ResizeExpression applies changed cpus, memory and disk to an existing
// instance at its next start. Lima cannot shrink a disk, so a smaller disk
// setting is reported and ignored rather than failing the start.
func (m *Manager) ResizeExpression(inst *store.Instance) string {
	c := m.Config
	var expr []string
	if inst.CPUs != c.CPUs {
		expr = append(expr, fmt.Sprintf(".cpus = %d", c.CPUs))
	}
	if mem, err := units.RAMInBytes(c.Memory); err == nil && mem != inst.Memory {
		expr = append(expr, ".memory = "+quote(c.Memory))
	}
	if disk, err := units.RAMInBytes(c.Disk); err == nil && disk != inst.Disk {
		if disk < inst.Disk {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: disk = %s is smaller than the VM's %s disk; Lima cannot shrink a disk, keeping it (to start over: pixi-lima delete)\n",
				c.Disk, units.BytesSize(float64(inst.Disk)))
		} else {
			expr = append(expr, ".disk = "+quote(c.Disk))
		}
	}
	return strings.Join(expr, " | ")
}

// start boots the instance, recovers once from a degraded start (Lima v1.2.2
// often ends a slow cold boot with the guest agent not yet running; a stop and
// start clears it) and waits until docker answers.
func (m *Manager) start(ctx context.Context, inst *store.Instance) error {
	if err := CheckQEMUSystem(m.Config.VMType, os.Getenv); err != nil {
		return err
	}
	restart := []string{"--tty=false", "start", m.Config.Name}
	if m.SoftwareEmulation {
		// Lima's 10 minutes are too few for an emulated boot on a busy host.
		restart = append(restart, "--timeout="+bootWait.String())
	}
	args := restart
	if inst != nil {
		if expr := m.ResizeExpression(inst); expr != "" {
			args = append(slices.Clip(restart), "--set", expr)
		}
	}
	stage := fmt.Sprintf("starting VM %q", m.Config.Name)
	if m.SoftwareEmulation {
		fmt.Fprintln(m.Stderr, "pixi-lima: /dev/kvm is not usable, so QEMU emulates the CPU (TCG): a start takes minutes, not seconds (fix: give your user access to /dev/kvm, e.g. sudo usermod -aG kvm $USER)")
	}
	err := m.Limactl.Run(ctx, stage, args...)
	if ev, degraded := m.lastEvent(); err != nil && degraded {
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q started degraded (%s); restarting it once to recover\n",
			m.Config.Name, strings.Join(ev.Status.Errors, "; "))
		if err := m.Limactl.Run(ctx, "stopping VM", "--tty=false", "stop", m.Config.Name); err != nil {
			return err
		}
		err = m.Limactl.Run(ctx, stage, restart...)
		if ev, degraded := m.lastEvent(); err != nil && degraded && ping.Wait(m.Socket(), socketGrace) {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: VM %q is degraded (%s): docker works, but ports published by containers may not reach the host. To fix: pixi-lima restart\n",
				m.Config.Name, strings.Join(ev.Status.Errors, "; "))
			return nil
		}
	}
	if err != nil {
		return m.withLogs(err)
	}
	if !ping.Wait(m.Socket(), socketGrace) {
		return m.withLogs(&StageError{Stage: stage, Err: fmt.Errorf("the VM runs but docker does not answer on %s", m.Socket())})
	}
	return nil
}

// withLogs adds the tail of Lima's host agent log to a failed stage.
func (m *Manager) withLogs(err error) error {
	var se *StageError
	if !errors.As(err, &se) {
		return err
	}
	haLog := filepath.Join(m.Paths.InstanceDir(m.Config.Name), "ha.stderr.log")
	if lines := tailFile(haLog, tailLines); len(lines) > 0 {
		se.Tail = lines
	}
	se.Logs = append([]string{haLog}, se.Logs...)
	return se
}

// lastEvent reads the host agent's last status event (Lima writes them as
// JSON lines to ha.stdout.log) and says whether it reports "degraded".
func (m *Manager) lastEvent() (events.Event, bool) {
	var last events.Event
	path := filepath.Join(m.Paths.InstanceDir(m.Config.Name), "ha.stdout.log")
	for _, line := range tailFile(path, 50) {
		var ev events.Event
		if json.Unmarshal([]byte(line), &ev) == nil && !ev.Time.IsZero() {
			last = ev
		}
	}
	return last, last.Status.Running && last.Status.Degraded
}

// bootWait is how long a boot may take: the timeout we give limactl start
// under software emulation, and how long we wait for a boot someone else
// started.
const bootWait = 30 * time.Minute

// booting says whether the host agent runs but has not yet reported the
// VM running (ha.stdout.log is recreated at every start).
func (m *Manager) booting() bool {
	ev, _ := m.lastEvent()
	return !ev.Status.Running && !ev.Status.Exiting
}

// waitBooted polls the host agent's events until the boot ends either way.
func (m *Manager) waitBooted(ctx context.Context, within time.Duration) {
	deadline := time.Now().Add(within)
	for m.booting() && time.Now().Before(deadline) && ctx.Err() == nil {
		if inst, err := m.Inspect(); err != nil || inst == nil || inst.Status != store.StatusRunning {
			return
		}
		time.Sleep(time.Second)
	}
}

// Degraded says whether the running instance's host agent last reported degraded.
func (m *Manager) Degraded() (bool, []string) {
	ev, degraded := m.lastEvent()
	return degraded, ev.Status.Errors
}

// Stop stops the instance; force also clears a Broken instance's stale state.
func (m *Manager) Stop(ctx context.Context, force bool) error {
	args := []string{"--tty=false", "stop", m.Config.Name}
	if force {
		forgetForeignPIDs(m.Paths.InstanceDir(m.Config.Name), m.Stderr)
		args = []string{"--tty=false", "stop", "--force", m.Config.Name}
	}
	return m.Limactl.Run(ctx, fmt.Sprintf("stopping VM %q", m.Config.Name), args...)
}

// Delete removes the instance and its disk. Callers confirm first.
func (m *Manager) Delete(ctx context.Context) error {
	return m.Limactl.Run(ctx, fmt.Sprintf("deleting VM %q", m.Config.Name), "--tty=false", "delete", "--force", m.Config.Name)
}

// DiskUsage is what the instance directory takes on the host (allocated
// blocks, so sparse disk images count for what they really use).
func DiskUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if info, err := d.Info(); err == nil {
			total += allocated(info)
		}
		return nil
	})
	return total
}

func tailFile(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	// Read at most the last 64 KiB: logs grow, the tail is what matters.
	if info, err := f.Stat(); err == nil && info.Size() > 64<<10 {
		f.Seek(info.Size()-64<<10, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func joinErrors(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	if len(s) == 0 {
		return "no details from Lima"
	}
	return strings.Join(s, "; ")
}

func quote(s string) string { return mustJSON(s) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
