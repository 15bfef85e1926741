package shim

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// hostEngine is engine = "host": the host's own engine, as the user's
// DOCKER_HOST or docker's default socket finds it. Only the client config
// stays in .pixi.
type hostEngine struct{ noVM }

func newHost(s *session, p *project) engine { return hostEngine{noVM{s, p}} }

func (e hostEngine) docker() env.Overrides { return env.HostEngineOverrides(e.p.paths) }

func (e hostEngine) clients() (map[string]string, string) { return env.ClientVars("", false), "" }

func (e hostEngine) start() error {
	e.s.printf("engine = \"host\": using the host's Docker engine, no VM to start")
	return nil
}

func (e hostEngine) status(st *status) {
	st.State = "Host"
	e.statusLeftover(st)
}

func (e hostEngine) describe(w io.Writer, st status) {
	fmt.Fprintf(w, "engine:    host (the host's own Docker engine; no VM)\n")
	describeLeftover(w, st)
	for _, problem := range st.Problems {
		fmt.Fprintf(w, "problem:   %s\n", problem)
	}
}

func (e hostEngine) checks() (before, after []check) { return nil, []check{e.checkLeftover()} }

// noVM is what engines without a VM share: docker reaches them by itself,
// and the commands that manage a VM act only on a VM that engine = "lima"
// left in the project (see leftover).
type noVM struct {
	s *session
	p *project
}

func (e noVM) ready(bool, *fastpath.Record) error { return nil }

// leftover is the VM engine = "lima" made for the project before the
// engine setting changed, nil when there is none. Settings name it for
// every engine as for that one; Inspect creates nothing.
func (e noVM) leftover() (*leftoverVM, error) {
	name, dir := e.p.config.Name, e.p.paths.InstanceDir(e.p.config.Name)
	vm := &leftoverVM{Name: name, Dir: dir, Remove: "pixi-lima delete --force"}
	inst, err := lima.Inspect(e.p.paths, name)
	var damaged *lima.DamagedError
	switch {
	case errors.As(err, &damaged):
		vm.State, vm.DiskUsed = stateDamaged, damaged.Bytes
		return vm, err
	case err != nil:
		vm.State, vm.DiskUsed = "Unknown", lima.DiskUsage(dir)
		return vm, err
	case inst == nil:
		return nil, nil
	}
	vm.State, vm.DiskUsed = inst.Status, lima.DiskUsage(dir)
	return vm, nil
}

// statusLeftover is status's part on the leftover VM.
func (e noVM) statusLeftover(st *status) {
	vm, err := e.leftover()
	st.LeftoverVM = vm
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
}

// describeLeftover is status's line on the leftover VM, if any.
func describeLeftover(w io.Writer, st status) {
	if vm := st.LeftoverVM; vm != nil {
		fmt.Fprintf(w, "leftover:  VM %q from engine \"lima\", %s, %s on the host in %s; %s deletes it\n",
			vm.Name, vm.State, units.BytesSize(float64(vm.DiskUsed)), vm.Dir, vm.Remove)
	}
}

// checkLeftover is doctor's look for a VM engine = "lima" left: nothing
// is broken, but it holds disk space, and CPUs and memory while it runs.
func (e noVM) checkLeftover() check {
	vm, err := e.leftover()
	if vm == nil {
		return check{Name: "leftover-vm", OK: true,
			Detail: fmt.Sprintf("no VM %q in %s: engine %s uses none", e.p.config.Name, e.p.paths.LimaHome, e.p.config.Engine)}
	}
	detail := fmt.Sprintf("VM %q, made for this project while engine was \"lima\", is still on disk: %s, %s on the host in %s",
		vm.Name, vm.State, units.BytesSize(float64(vm.DiskUsed)), vm.Dir)
	if err != nil {
		detail += " (" + err.Error() + ")"
	}
	fix := vm.Remove + " deletes it, with every container, image and volume in it; removing engine from [tool.pixi-lima] uses it again"
	if vm.State == lima.Running {
		fix = "pixi-lima stop stops it; " + fix
	}
	if os.Geteuid() == 0 {
		fix = "as the user who made it (limactl refuses root): " + fix
	}
	return check{Name: "leftover-vm", OK: true, Warning: true, Detail: detail, Fix: fix}
}

// stop stops the leftover VM, if any, as the VM engine does (one owner of
// its lifecycle), and ends the wake server that engine left: a client
// there would start the VM again.
func (e noVM) stop(force bool) error {
	e.s.stopWakeSocket(e.p)
	vm, err := e.leftover()
	switch {
	case vm == nil:
		e.s.printf("engine = %q: there is no VM to manage", e.p.config.Engine)
		return nil
	case err != nil:
		return err
	}
	e.s.printf("VM %q, left from engine = \"lima\", is still on disk (%s on the host; %s deletes it); engine = %q does not use it",
		vm.Name, units.BytesSize(float64(vm.DiskUsed)), vm.Remove, e.p.config.Engine)
	// Nothing starts it under this engine (its wake server is gone, init
	// starts no VM), so a stopped one needs no lock, nor a user limactl
	// accepts: root may use this engine.
	if vm.State == lima.Stopped && !force && !lima.Orphaned(vm.Dir) && lima.Free(e.p.paths.LockFile()) {
		e.s.printf("VM %q is already stopped", vm.Name)
		return nil
	}
	return e.asUser(vmEngine{e.s, e.p}.stop(force), "stop")
}

// restart only stops a leftover VM: the engine in use has none to start.
func (e noVM) restart() error { return e.stop(false) }

// remove deletes the leftover VM, asking as the VM engine's delete does.
func (e noVM) remove(force bool) error {
	if vm, _ := e.leftover(); vm == nil {
		e.s.stopWakeSocket(e.p)
		e.s.printf("engine = %q: there is no VM to manage", e.p.config.Engine)
		return nil
	}
	return e.asUser(vmEngine{e.s, e.p}.remove(force), "delete --force")
}

// asUser gives the VM engine's refusal of root a hint that fits here: root
// may use this engine, but only the user who made the VM can remove it.
func (e noVM) asUser(err error, command string) error {
	var refused *Error
	if os.Geteuid() == 0 && errors.As(err, &refused) && refused.Code == ExitConfig {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("VM %q, left from engine = \"lima\", cannot be managed as root: limactl refuses root", e.p.config.Name),
			Hint: fmt.Sprintf("run pixi-lima %s as the user who made it", command)}
	}
	return err
}

func (e noVM) prune(bool, bool) error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf("engine = %q: there is no VM disk to reclaim", e.p.config.Engine),
		Hint: "docker system prune (it frees space on that engine)"}
}

// user: only limactl refuses root, so without a VM root is fine.
func (e noVM) user() check {
	if os.Geteuid() == 0 {
		return check{Name: "user", OK: true, Detail: "running as root, which engine " + e.p.config.Engine + " allows (no VM)"}
	}
	return checkUser()
}
