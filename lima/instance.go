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

	"github.com/lima-vm/lima/pkg/hostagent/events"
	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/version"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Manager creates, starts, stops and inspects the project's instance.
type Manager struct {
	Paths   env.Paths
	Config  settings.Config
	Limactl Limactl
	Stderr  io.Writer // Limactl's: where every message of the Lima side goes
	// OnStart, if set, is told the guest's proxy after every start, for
	// the clients' side of it (the project's docker config).
	OnStart func(proxy settings.Proxy) error
	// softwareEmulation: QEMU emulates the CPU (TCGFallback), so starts are slow.
	softwareEmulation bool
}

// NewManager builds the Manager; tcg says QEMU will emulate the CPU.
func NewManager(paths env.Paths, cfg settings.Config, limactl Limactl, tcg bool) *Manager {
	UseHome(paths.LimaHome)
	setLimaVersion()
	return &Manager{Paths: paths, Config: cfg, Limactl: limactl, Stderr: limactl.Stderr, softwareEmulation: tcg}
}

// setLimaVersion tells Lima's packages their version where -ldflags did not:
// pkg/store rejects a lima.yaml with minimumLimaVersion otherwise.
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

func (m *Manager) dir() string { return m.Paths.InstanceDir(m.Config.Name) }

// Inspect is Inspect of this Manager's instance.
func (m *Manager) Inspect() (*store.Instance, error) { return Inspect(m.Paths, m.Config.Name) }

// socketGrace is how long docker gets to answer once Lima says the VM runs.
const socketGrace = 60 * time.Second

// startTimeout is what limactl start is given: Lima's 10 minutes, too few
// for an emulated boot on a busy host, or bootWait under emulation.
func (m *Manager) startTimeout() time.Duration {
	if m.softwareEmulation {
		return bootWait
	}
	return 10 * time.Minute
}

// HintError is a failure whose next step this package knows best.
type HintError struct{ Msg, Hint string }

func (e *HintError) Error() string { return e.Msg }

// create runs `limactl create` with the project's settings. On a failure
// it removes the instance directory only if this call made it, so that no
// disk of the user's is ever removed.
func (m *Manager) create(ctx context.Context) error {
	if err := env.CheckSocketBudget(m.Paths.LimaHome, m.Config.Name, runtime.GOOS); err != nil {
		return err
	}
	h, g := ThisHost(), GuestOf(m.Config, m.Paths.LimaHome)
	if err := CheckGuest(m.Config, h, g); err != nil {
		return err
	}
	c := WithRosetta(m.Config, h, g)
	vmType, _ := ResolveVMType(g)
	if c.Rosetta && c.VMType == "" {
		vmType = VZ // CreateExpression makes a Rosetta VM vz
	}
	if err := CheckQEMUImg(vmType); err != nil {
		return err
	}
	_, statErr := os.Lstat(m.dir())
	ours := errors.Is(statErr, fs.ErrNotExist)
	m.sayMissingMounts()
	stage := fmt.Sprintf("creating VM %q from %s (%d CPUs, %s memory, %s disk)", c.Name, c.Template, c.CPUs, c.Memory, c.Disk)
	err := m.Limactl.Run(ctx, stage, "--tty=false", "create", "--name="+c.Name, c.Template, "--set", CreateExpression(c, m.Paths.Root))
	if err != nil {
		if ours {
			os.RemoveAll(m.dir())
		}
		var se *StageError
		if errors.As(err, &se) {
			se.Hint = "pixi-lima doctor shows what is wrong; fix it, then run the command again (nothing of the failed VM was kept)"
		}
		return err
	}
	excludeFromBackup(m.dir())
	privateConfig(m.dir())
	return writeOrigin(m.dir(), c)
}

// CreateExpression is the yq expression that turns Lima's template into the
// project's instance; its .mounts replaces the template's home mount.
func CreateExpression(c settings.Config, root string) string {
	mounts := projectMounts(c, root, c.RootAliases)
	expr := []string{
		fmt.Sprintf(".cpus = %d", c.CPUs),
		fmt.Sprintf(".memory = %s", quote(c.Memory)),
		fmt.Sprintf(".disk = %s", quote(c.Disk)),
		".mounts = " + mustJSON(mounts),
	}
	if c.VMType != "" {
		expr = append(expr, ".vmType = "+quote(c.VMType))
	} else if c.Rosetta {
		expr = append(expr, ".vmType = "+quote(VZ))
	}
	if c.Rosetta {
		expr = append(expr, rosettaExpression)
	}
	if c.MountType != "" {
		expr = append(expr, ".mountType = "+quote(c.MountType))
	}
	if c.Image != "" {
		image := map[string]string{"location": c.Image, "arch": string(limayaml.NewArch(runtime.GOARCH))}
		expr = append(expr, ".images = ["+mustJSON(image)+"]")
	}
	if c.IdleStop > 0 {
		expr = append(expr, idleExpression(c.IdleStop, root))
	}
	if !c.Rootful {
		expr = append(expr, socketExpression())
	}
	if len(c.CACertPEMs) > 0 {
		expr = append(expr, caExpression(normalCerts(c.CACertPEMs)))
	}
	if proxy := GuestProxy(c.Proxy); proxy.IsZero() {
		expr = append(expr, noProxyEnv) // the VM has no proxy, whatever limactl's environment says
	} else {
		expr = append(expr, proxyExpression(proxy))
	}
	expr = append(expr, portsExpression())
	return strings.Join(expr, " | ")
}

// start boots the instance, recovers once from a degraded start (a stop
// and start clears it) and waits until docker answers.
func (m *Manager) start(ctx context.Context, inst *store.Instance) error {
	h, g := ThisHost(), GuestOf(m.Config, m.Paths.LimaHome)
	if inst != nil {
		g.Existing = string(inst.VMType) // what boots is the VM's, not the setting's
	}
	if err := CheckGuest(m.Config, h, g); err != nil {
		return err
	}
	if inst != nil { // a VM made by this call was told of at its creation
		m.sayMissingMounts()
		m.sayDrift(inst)
		excludeFromBackup(m.dir()) // a VM made before pixi-lima did so
	}
	vmType, _ := ResolveVMType(g)
	if err := CheckQEMUSystem(vmType, os.Getenv); err != nil {
		return err
	}
	privateConfig(m.dir())
	restart := []string{"--tty=false", "start", m.Config.Name, "--timeout=" + m.startTimeout().String()}
	args := restart
	if inst != nil {
		if expr := m.ApplyExpression(inst); expr != "" {
			args = append(slices.Clip(restart), "--set", expr)
		}
	}
	stage := fmt.Sprintf("starting VM %q", m.Config.Name)
	if m.softwareEmulation {
		_, err := os.Stat("/dev/kvm")
		fmt.Fprintln(m.Stderr, "pixi-lima: "+tcgWarning(err == nil))
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
			return m.started()
		}
	}
	if err != nil {
		return m.withLogs(err)
	}
	if !ping.Wait(m.Socket(), socketGrace) {
		return m.withLogs(&StageError{Stage: stage, Err: fmt.Errorf("the VM runs but docker does not answer on %s", m.Socket())})
	}
	return m.started()
}

// sayDrift says which settings this start applies and which need a new VM.
func (m *Manager) sayDrift(inst *store.Instance) {
	for _, d := range Drifts(m.Config, m.Paths.Root, inst) {
		if d.AtStart {
			fmt.Fprintf(m.Stderr, "pixi-lima: applying the changed %s to VM %q at this start: %s (was %s)\n", d.Key, m.Config.Name, d.Want, d.Have)
		} else {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: %s differs from VM %q and is not applied: %s\n", d.Key, m.Config.Name, d)
		}
	}
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

// lastEvent is the host agent's last event, and whether it says degraded.
func (m *Manager) lastEvent() (events.Event, bool) {
	ev := LastEvent(m.dir())
	return ev, ev.Status.Running && ev.Status.Degraded
}

// bootWait bounds a boot under emulation, or one another process started.
const bootWait = 30 * time.Minute

// booting says whether the host agent has not yet reported the VM running.
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

// trimWait bounds a trim, so that a stuck guest does not hold up a stop.
const trimWait = 2 * time.Minute

// Trim has a running guest discard its free blocks, under the lock.
func (m *Manager) Trim(ctx context.Context) error {
	lock, err := m.hold("trimming its disk")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if inst, err := m.Inspect(); err != nil {
		return err
	} else if inst == nil || inst.Status != store.StatusRunning {
		return &HintError{Msg: fmt.Sprintf("VM %q is not running, so its disk was not trimmed", m.Config.Name),
			Hint: "pixi-lima prune (it starts the VM and trims)"}
	}
	return m.trim(ctx)
}

// trim is Trim with the lock held. It syncs first: ext4 frees a deleted
// file's blocks only when its journal commits.
func (m *Manager) trim(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, trimWait)
	defer cancel()
	return m.Limactl.Run(ctx, fmt.Sprintf("trimming the disk of VM %q", m.Config.Name),
		"--tty=false", "shell", "--workdir", "/", m.Config.Name, "sudo", "sh", "-c", "sync && fstrim --all --verbose")
}

// DiskUsage is the blocks the instance directory takes on the host.
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
	if info, err := f.Stat(); err == nil && info.Size() > 64<<10 {
		f.Seek(info.Size()-64<<10, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, MaskCredentials(sc.Text()))
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func quote(s string) string { return mustJSON(s) }

func mustJSON(v any) string {
	// yq keeps json.Marshal's \u003c escapes as they are.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// sayMissingMounts warns of each configured mount the VM goes without.
func (m *Manager) sayMissingMounts() {
	for _, dir := range m.Config.MissingMounts {
		fmt.Fprintf(m.Stderr, "pixi-lima: warning: mount %s does not exist on this machine; VM %q starts without it (create it, then pixi-lima restart)\n",
			dir, m.Config.Name)
	}
}
