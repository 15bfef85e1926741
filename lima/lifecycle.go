package lima

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Request is why the host starts the VM: who asked and, for a client's
// request that waited on the wake socket, when it arrived.
type Request struct {
	By string // "a docker call", "pixi-lima init", "a request on the wake socket"
	// At is when a client's request arrived: a stop or delete since then
	// wins over it. Zero for a command the user waits on at a terminal.
	At time.Time
	// Background: no user's command asked (the wake server's start), so
	// its environment says nothing of the user's proxy: the VM keeps its own.
	Background bool
}

// hold takes the instance lock that every change to the VM takes, waiting
// at most as long as a holder's boot and stop take.
func (m *Manager) hold(doing string) (*Lock, error) {
	if err := os.MkdirAll(m.Paths.LimaHome, 0o755); err != nil {
		return nil, err
	}
	within := m.startTimeout() + guestShutdownWait
	l, err := Acquire(m.Paths.LockFile(), doing, within, func(holder string) {
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is busy: %s; waiting up to %s …\n", m.Config.Name, holder, within)
	})
	var busy *BusyError
	if errors.As(err, &busy) {
		return nil, &HintError{Msg: fmt.Sprintf("VM %q stayed busy: %v", m.Config.Name, err),
			Hint: "if that process hangs, end it; then run the command again"}
	}
	return l, err
}

// Ensure makes the engine answer: it creates the instance if missing, starts
// it if stopped, and repairs what Lima left half-done, under the lock. An
// answering engine is trusted only while no change holds the lock: a stop
// may be about to take it down.
func (m *Manager) Ensure(ctx context.Context, req Request) error {
	if ping.Engine(m.Socket(), 2*time.Second) && Free(m.Paths.LockFile()) {
		return nil
	}
	lock, err := m.hold("starting it for " + req.By)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	return m.ensure(ctx, req)
}

// ensure is Ensure with the lock held.
func (m *Manager) ensure(ctx context.Context, req Request) error {
	if ping.Engine(m.Socket(), 2*time.Second) {
		return nil
	}
	if err := m.stoppedSince(req); err != nil {
		return err
	}
	inst, err := m.Inspect()
	if err != nil {
		return err
	}
	if inst != nil && inst.Status == store.StatusRunning {
		var answers bool
		if inst, answers, err = m.whenSilent(ctx); err != nil || answers {
			return err
		}
	}
	if err := m.prepareTrust(req, inst); err != nil {
		return err
	}
	switch {
	case inst == nil:
		if err := m.create(ctx); err != nil {
			return err
		}
	case inst.Status == store.StatusBroken:
		if err := m.recoverBroken(ctx, inst); err != nil {
			return err
		}
	case inst.Status == store.StatusStopped:
		if err := m.shutDownOrphans(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("VM %q is in state %q: %s", m.Config.Name, inst.Status, joinErrors(inst.Errors))
	}
	return m.start(ctx, inst)
}

// whenSilent waits for a running VM whose docker does not answer: a boot
// under way, or an idle-stop power-off. It never restarts a running VM,
// which would cost every container of the project.
func (m *Manager) whenSilent(ctx context.Context) (inst *store.Instance, answers bool, err error) {
	if m.booting() {
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is still booting; waiting for it …\n", m.Config.Name)
		m.waitBooted(ctx, bootWait)
	}
	said := false
	for deadline := time.Now().Add(socketGrace / 2); ; time.Sleep(time.Second) {
		if ping.Engine(m.Socket(), 2*time.Second) {
			return nil, true, nil
		}
		if inst, err = m.Inspect(); err != nil || inst == nil || inst.Status != store.StatusRunning {
			return inst, false, err
		}
		if _, idle := IdleStopped(m.dir()); idle && !said {
			fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is powering itself off (idle-stop); waiting to start it again …\n", m.Config.Name)
			deadline, said = time.Now().Add(guestShutdownWait), true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, false, &HintError{
				Msg:  fmt.Sprintf("VM %q is running, but docker has not answered on %s for %s", m.Config.Name, m.Socket(), socketGrace/2),
				Hint: "pixi-lima restart (it stops the VM's containers; pixi-lima doctor first shows what is wrong)",
			}
		}
	}
}

// Stop shuts the guest down cleanly, under the lock; kill is the user's
// `stop --force`, which kills QEMU without a shutdown of the guest. A start
// under way is waited for, then stopped: never "already stopped" mid-boot.
func (m *Manager) Stop(ctx context.Context, kill bool, by string) error {
	lock, err := m.hold("stopping it for " + by)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	m.markStopped(by)
	return m.stop(ctx, kill)
}

// stop is Stop with the lock held.
func (m *Manager) stop(ctx context.Context, kill bool) error {
	inst, err := m.Inspect()
	if err != nil {
		return err
	}
	switch {
	case inst == nil:
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q does not exist; nothing to stop\n", m.Config.Name)
		return nil
	case kill:
		forgetForeignPIDs(m.dir(), m.Stderr)
		killOrphans(m.dir())
		return m.Limactl.Run(ctx, fmt.Sprintf("killing VM %q (stop --force)", m.Config.Name), "--tty=false", "stop", "--force", m.Config.Name)
	case inst.Status == store.StatusStopped && Orphaned(m.dir()):
		return m.shutDownOrphans(ctx)
	case inst.Status == store.StatusStopped:
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q is already stopped\n", m.Config.Name)
		return nil
	case inst.Status == store.StatusBroken:
		return m.recoverBroken(ctx, inst)
	case inst.Status == store.StatusRunning:
		if err := m.trim(ctx); err != nil {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: could not trim the VM's disk (%v); stopping it all the same\n", err)
		}
	}
	return m.Limactl.Run(ctx, fmt.Sprintf("stopping VM %q", m.Config.Name), "--tty=false", "stop", m.Config.Name)
}

// Restart stops the VM if it runs and starts it under one hold of the
// lock, so that no other call starts it in between with the old settings.
func (m *Manager) Restart(ctx context.Context) error {
	lock, err := m.hold("restarting it")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if inst, err := m.Inspect(); err != nil {
		return err
	} else if inst != nil && inst.Status != store.StatusStopped {
		if err := m.stop(ctx, false); err != nil {
			return err
		}
	}
	return m.ensure(ctx, Request{By: "pixi-lima restart"})
}

// recoverBroken clears what a dead host agent left with `limactl stop
// --force`. A QEMU still running first gets a clean shutdown, since a kill
// loses what the guest had not written.
func (m *Manager) recoverBroken(ctx context.Context, inst *store.Instance) error {
	name, dir := m.Config.Name, m.dir()
	fmt.Fprintf(m.Stderr, "pixi-lima: VM %q was left half-running (%s)\n", name, joinErrors(inst.Errors))
	forgetForeignPIDs(dir, m.Stderr)
	if pid, ours := limaPID(dir, "qemu.pid"); ours && alive(pid) {
		begin := time.Now()
		fmt.Fprintf(m.Stderr, "pixi-lima: its guest still runs (QEMU pid %d) without Lima's host agent; shutting it down cleanly (ACPI power button) …\n", pid)
		if err := powerdown(ctx, dir, pid, guestShutdownWait); err != nil {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: %v; killing it (writes the guest had not flushed are lost)\n", err)
		} else {
			fmt.Fprintf(m.Stderr, "pixi-lima: the guest shut down cleanly in %s\n", round(time.Since(begin)))
		}
	}
	return m.Limactl.Run(ctx, fmt.Sprintf("clearing Lima's stale state of VM %q", name), "--tty=false", "stop", "--force", name)
}

// shutDownOrphans ends the QEMU processes Lima lost track of (orphanQEMU)
// as recoverBroken ends a known one, then has Lima clear their sockets.
func (m *Manager) shutDownOrphans(ctx context.Context) error {
	orphans := orphanQEMU(m.dir())
	if len(orphans) == 0 {
		return nil
	}
	for _, pid := range orphans {
		begin := time.Now()
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q has a QEMU (pid %d) that Lima lost track of; shutting its guest down cleanly (ACPI power button) before the start …\n", m.Config.Name, pid)
		if err := powerdown(ctx, m.dir(), pid, guestShutdownWait); err != nil {
			fmt.Fprintf(m.Stderr, "pixi-lima: warning: %v; killing it (writes the guest had not flushed are lost)\n", err)
			if runsFor(pid, m.dir()) {
				kill(pid, syscall.SIGKILL)
			}
			for deadline := time.Now().Add(10 * time.Second); runsFor(pid, m.dir()) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
			}
		} else {
			fmt.Fprintf(m.Stderr, "pixi-lima: the guest shut down cleanly in %s\n", round(time.Since(begin)))
		}
	}
	return m.Limactl.Run(ctx, fmt.Sprintf("clearing Lima's stale state of VM %q", m.Config.Name), "--tty=false", "stop", "--force", m.Config.Name)
}

// Delete removes the instance and its disk, under the lock. The caller
// has had the user confirm.
func (m *Manager) Delete(ctx context.Context) error {
	lock, err := m.hold("deleting it")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	m.markStopped("pixi-lima delete")
	if inst, err := m.Inspect(); err != nil {
		return err
	} else if inst == nil {
		fmt.Fprintf(m.Stderr, "pixi-lima: VM %q does not exist (any more); nothing to delete\n", m.Config.Name)
		return nil
	}
	// Lima stops only the QEMU it knows of.
	killOrphans(m.dir())
	return m.Limactl.Run(ctx, fmt.Sprintf("deleting VM %q", m.Config.Name), "--tty=false", "delete", "--force", m.Config.Name)
}

// stopMark is the last stop or delete: when, and by what.
type stopMark struct {
	at time.Time
	by string
}

// markStopped records a stop or delete, with the lock held, so that a
// client's request that waited through it does not start the VM again.
func (m *Manager) markStopped(by string) {
	line := time.Now().UTC().Format(time.RFC3339Nano) + " " + by + "\n"
	if err := os.WriteFile(m.Paths.StopMark(), []byte(line), 0o644); err != nil {
		fmt.Fprintf(m.Stderr, "pixi-lima: warning: could not record the stop (%v): a client's request that waited through it may start the VM again\n", err)
	}
}

// stoppedSince refuses a client's request that a stop or delete came after:
// the user's stop wins over a request that waited through it.
func (m *Manager) stoppedSince(req Request) error {
	mark, ok := m.stopMark()
	if !ok || req.At.IsZero() || !mark.at.After(req.At) {
		return nil
	}
	return &HintError{
		Msg: fmt.Sprintf("VM %q was stopped (%s, at %s) after %s arrived; it stays stopped",
			m.Config.Name, mark.by, mark.at.Local().Format(time.TimeOnly), req.By),
		Hint: "send the request again to start the VM, or run pixi-lima init",
	}
}

func (m *Manager) stopMark() (stopMark, bool) {
	b, err := os.ReadFile(m.Paths.StopMark())
	if err != nil {
		return stopMark{}, false
	}
	at, by, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	return stopMark{t, by}, err == nil
}
