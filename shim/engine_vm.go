package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/lima/ping"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
	"github.com/pixi-lima/pixi-lima/shim/wake"
)

// vmEngine is engine = "lima", the default: the project's own Lima VM,
// created and started on demand, with the wake socket for other clients.
type vmEngine struct {
	s *session
	p *project
}

func newVM(s *session, p *project) engine { return vmEngine{s, p} }

func (e vmEngine) docker() env.Overrides { return env.DockerOverrides(e.p.paths, e.p.config.Name) }

// clients get the wake socket, and what Testcontainers needs, as in pixi run.
func (e vmEngine) clients() (map[string]string, string) {
	return env.ClientVars("unix://"+e.p.paths.WakeSocket(), true), wakeStartLines(e.p)
}

func (e vmEngine) ready(cheap bool, rec *fastpath.Record) error {
	s, p := e.s, e.p
	rec.Socket = p.paths.DockerSocket(p.config.Name)
	if !cheap {
		m, err := s.manager(p)
		if err != nil {
			return err
		}
		if err := m.Ensure(context.Background(), lima.Request{By: "a docker call"}); err != nil {
			return err
		}
		s.ensureWakeSocket(p)
	}
	inst, _ := lima.Inspect(p.paths, p.config.Name)
	rec.Mounted = lima.MountedRoots(p.paths.Root, inst)
	for _, alias := range lima.MissingAliases(p.config, p.paths.Root, inst) {
		s.printf("warning: this shell reaches the project as %s, which VM %q does not mount yet: bind mounts from under it are empty in containers. pixi-lima restart mounts it (or cd %s)",
			alias, p.config.Name, p.paths.Root)
	}
	if !cheap {
		rec.Elsewhere = s.warnElsewhere(p)
		rec.PortLog, rec.PortLogSize = lima.PortLog(p.paths.InstanceDir(p.config.Name))
		s.warnPortClashes(p)
	}
	return nil
}

func (e vmEngine) start() error {
	m, err := e.s.manager(e.p)
	if err != nil {
		return err
	}
	if err := m.Ensure(context.Background(), e.s.request); err != nil {
		return err
	}
	e.s.ensureWakeSocket(e.p)
	e.s.printf("VM %q is running; docker: unix://%s", e.p.config.Name, m.Socket())
	return nil
}

// stop ends the wake socket's server first, so that no client starts the
// VM again, then has the lifecycle stop it: under the lock, after any start
// under way, which is why it never decides "already stopped" by itself.
func (e vmEngine) stop(force bool) error {
	if inst, err := lima.Inspect(e.p.paths, e.p.config.Name); err != nil {
		return err
	} else if inst == nil && lima.Free(e.p.paths.LockFile()) {
		e.s.stopWakeSocket(e.p)
		e.s.printf("VM %q does not exist; nothing to stop", e.p.config.Name)
		return nil
	}
	e.s.stopWakeSocket(e.p)
	e.snapshot()
	m, err := e.s.manager(e.p)
	if err != nil {
		return err
	}
	return m.Stop(context.Background(), force, "pixi-lima stop")
}

// snapshot keeps the engine's state, when it answers, for the wake socket
// to answer read-only calls from while the VM is stopped. Without it they
// start the VM, which is no reason to fail the stop.
func (e vmEngine) snapshot() {
	socket := e.p.paths.DockerSocket(e.p.config.Name)
	if !ping.Engine(socket, 2*time.Second) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := wake.TakeSnapshot(ctx, socket, e.p.paths.Snapshot()); err != nil {
		e.s.printf("warning: no snapshot of the engine's state (%v): read-only calls on the wake socket will start the VM", err)
	}
}

func (e vmEngine) restart() error {
	if _, err := lima.Inspect(e.p.paths, e.p.config.Name); err != nil {
		return err
	}
	m, err := e.s.manager(e.p)
	if err != nil {
		return err
	}
	return m.Restart(context.Background())
}

// status reads the instance through package lima, without limactl: it
// must stay fast enough to call from prompts and scripts.
func (e vmEngine) status(st *status) {
	p := e.p
	socket := p.paths.DockerSocket(p.config.Name)
	st.Socket = "unix://" + socket
	st.WakeSocket, st.WakeSocketPID = "unix://"+p.paths.WakeSocket(), wakeServer(p)
	// Ask the engine while Lima's files are read: the two round trips (to
	// the host agent, and through its forward to the guest's dockerd)
	// overlap. The answer counts only for a running VM.
	answers := make(chan bool, 1)
	go func() { answers <- ping.Engine(socket, 2*time.Second) }()
	inst, err := lima.Inspect(p.paths, p.config.Name)
	var damaged *lima.DamagedError
	if errors.As(err, &damaged) {
		st.State = stateDamaged
		st.DiskUsed = damaged.Bytes
		st.Problems = append(st.Problems, err.Error())
		return
	}
	if err != nil {
		st.State = "Unknown"
		st.Problems = append(st.Problems, err.Error())
		return
	}
	if inst == nil {
		st.State = stateMissing
		return
	}
	st.State = inst.Status
	if inst.Status == lima.Stopped { // the console log is read only then
		if taken, ok := wake.Asleep(p.paths.Snapshot()); ok {
			st.AsleepSnapshot = &taken
		}
		if at, ok := lima.IdleStopped(inst.Dir); ok {
			st.IdleStoppedAt = &at
		}
	}
	st.VMType = string(inst.VMType)
	st.CPUs, st.Memory, st.Disk = inst.CPUs, inst.Memory, inst.Disk
	if inst.LimaVersion != "" {
		st.LimaVersion = inst.LimaVersion
	}
	st.DiskUsed = lima.DiskUsage(inst.Dir)
	for _, e := range inst.Errors {
		st.Problems = append(st.Problems, e.Error())
	}
	st.trust(inst)
	st.Drift = lima.Drifts(p.config, p.paths.Root, inst)
	for _, d := range st.Drift {
		st.Problems = append(st.Problems, d.String())
	}
	if inst.Status == lima.Running {
		st.DockerAnswers = <-answers
		if at, ok := lima.IdleStopped(inst.Dir); ok && !st.DockerAnswers { // powering itself off
			st.IdleStoppedAt = &at
		}
		if degraded, why := lima.Degraded(inst.Dir); degraded {
			st.Degraded = true
			st.Problems = append(st.Problems, "degraded: "+strings.Join(why, "; ")+" (fix: pixi-lima restart)")
		}
		st.PortClashes = lima.PortClashes(inst.Dir)
	}
}

func (e vmEngine) describe(w io.Writer, st status) {
	fmt.Fprintf(w, "docker:    %s (%s)\n", st.Socket, map[bool]string{true: "answers", false: "not answering"}[st.DockerAnswers])
	if st.WakeSocketPID != 0 {
		fmt.Fprintf(w, "wake:      %s (pid %d; starts the VM for clients such as SDKs and Testcontainers)\n", st.WakeSocket, st.WakeSocketPID)
	} else {
		fmt.Fprintf(w, "wake:      %s (not served; the next docker call or pixi run starts it)\n", st.WakeSocket)
	}
	if st.State != stateMissing {
		fmt.Fprintf(w, "dir:       %s\n", st.Dir)
		fmt.Fprintf(w, "resources: %d CPUs, %s memory, %s disk (%s used on the host)\n", st.CPUs,
			units.BytesSize(float64(st.Memory)), units.BytesSize(float64(st.Disk)), units.BytesSize(float64(st.DiskUsed)))
		fmt.Fprintf(w, "lima:      %s (%s)\n", st.LimaVersion, st.VMType)
	}
	describeTrust(w, st)
	if st.AsleepSnapshot != nil {
		fmt.Fprintf(w, "asleep:    answering read-only calls from the snapshot of %s on the wake socket; a call that needs the engine starts the VM\n",
			st.AsleepSnapshot.Local().Format(time.DateTime))
	}
	if st.IdleStoppedAt != nil && st.State == lima.Running {
		fmt.Fprintf(w, "stopping:  by itself at %s, idle for %s (idle-stop); the next docker command waits for it, then starts it\n",
			st.IdleStoppedAt.Local().Format(time.DateTime), st.IdleStop)
	} else if st.IdleStoppedAt != nil {
		fmt.Fprintf(w, "stopped:   by itself at %s, idle for %s (idle-stop); the next docker command starts it\n",
			st.IdleStoppedAt.Local().Format(time.DateTime), st.IdleStop)
	} else if st.State == lima.Running {
		fmt.Fprintf(w, "idle-stop: %s\n", st.IdleStop)
	}
	for _, problem := range st.Problems {
		fmt.Fprintf(w, "problem:   %s\n", problem)
	}
	for _, c := range st.PortClashes {
		fmt.Fprintf(w, "clash:     %s\n", c)
	}
}
