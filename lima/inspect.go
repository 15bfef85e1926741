package lima

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/lima-vm/lima/pkg/hostagent/events"
	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env"
)

// An instance's states as Lima names them, so that callers need not
// import pkg/store.
const (
	Running = store.StatusRunning
	Stopped = store.StatusStopped
	Broken  = store.StatusBroken
)

// DamagedError says that the instance's directory exists but Lima cannot
// read it as an instance. Lima's pkg/store reports a missing lima.yaml as
// "no such instance", and treating it so made `limactl create` fail on the
// existing directory and the cleanup delete the user's disk with it.
type DamagedError struct {
	Name  string
	Dir   string
	Why   string   // what is wrong with it
	Bytes int64    // what it holds on the host
	Disks []string // the disk files still in it
}

func (e *DamagedError) Error() string {
	held := units.BytesSize(float64(e.Bytes)) + " on the host"
	if len(e.Disks) > 0 {
		held += ", disks: " + strings.Join(e.Disks, ", ")
	}
	return fmt.Sprintf("VM %q is damaged: %s; its directory %s still holds %s, and pixi-lima leaves it alone", e.Name, e.Why, e.Dir, held)
}

// Inspect returns the project's instance as Lima's pkg/store sees it, or
// nil when its directory does not exist. A directory Lima cannot read as
// an instance is a *DamagedError, returned with what Lima made of it.
func Inspect(paths env.Paths, name string) (*store.Instance, error) {
	UseHome(paths.LimaHome)
	dir := paths.InstanceDir(name)
	inst, err := store.Inspect(name)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(dir); errors.Is(serr, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, damaged(name, dir, filepath.Join(dir, "lima.yaml")+" is missing")
	}
	if err != nil {
		return nil, err
	}
	if inst.Config == nil {
		// lima.yaml is there, but Lima could not load it (Inspect then
		// leaves the status empty and says why only in Errors).
		return inst, damaged(name, dir, fmt.Sprintf("%s cannot be read: %s", filepath.Join(dir, "lima.yaml"), joinErrors(inst.Errors)))
	}
	return inst, nil
}

func damaged(name, dir, why string) *DamagedError {
	e := &DamagedError{Name: name, Dir: dir, Why: why, Bytes: DiskUsage(dir)}
	for _, disk := range []string{"diffdisk", "basedisk"} {
		if info, err := os.Stat(filepath.Join(dir, disk)); err == nil {
			e.Disks = append(e.Disks, fmt.Sprintf("%s (%s)", disk, units.BytesSize(float64(allocated(info)))))
		}
	}
	return e
}

// RemoveDamaged deletes a damaged instance's directory, which limactl
// cannot: it ignores an instance without lima.yaml. Callers confirm first.
// It refuses while a Lima process of the instance still runs.
func RemoveDamaged(e *DamagedError) error {
	if pids := append(livePIDs(e.Dir), orphanQEMU(e.Dir)...); len(pids) > 0 {
		return fmt.Errorf("Lima's processes %v of %s still run; stop them first (limactl-local stop --force %s)", pids, e.Dir, e.Name)
	}
	return os.RemoveAll(e.Dir)
}

// LastEvent is the host agent's last status event: Lima writes them as
// JSON lines to ha.stdout.log, which each start recreates.
func LastEvent(instDir string) events.Event {
	var last events.Event
	for _, line := range tailFile(filepath.Join(instDir, "ha.stdout.log"), 50) {
		var ev events.Event
		if json.Unmarshal([]byte(line), &ev) == nil && !ev.Time.IsZero() {
			last = ev
		}
	}
	return last
}

// Degraded says whether the running instance's host agent last reported
// degraded, and why.
func Degraded(instDir string) (bool, []string) {
	ev := LastEvent(instDir)
	return ev.Status.Running && ev.Status.Degraded, ev.Status.Errors
}

func joinErrors(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	if len(s) == 0 {
		return "no details from Lima"
	}
	return strings.Join(slices.Compact(s), "; ")
}
