package lima

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/atomicfile"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// originFile keeps the template and image an instance was created from,
// which its lima.yaml does not say.
const originFile = "pixi-lima-origin.json"

type origin struct {
	Template string `json:"template"`
	Image    string `json:"image,omitempty"`
}

// writeOrigin records the origin, which drift reads while the instance lives.
func writeOrigin(dir string, c settings.Config) error {
	b, _ := json.Marshal(origin{Template: c.Template, Image: c.Image})
	return atomicfile.WriteFile(filepath.Join(dir, originFile), append(b, '\n'), 0o644)
}

// defaultTemplate is the template a VM gets unless one is set.
func defaultTemplate(rootful bool) string {
	if rootful {
		return settings.RootfulTemplate
	}
	return settings.DefaultTemplate
}

func readOrigin(dir string) (origin, bool) {
	var o origin
	b, err := os.ReadFile(filepath.Join(dir, originFile))
	return o, err == nil && json.Unmarshal(b, &o) == nil
}

// Drift is a setting of the project that the existing VM does not have.
type Drift struct {
	Key  string `json:"key"`  // the [tool.pixi-lima] key
	Want string `json:"want"` // the project's value
	Have string `json:"have"` // the VM's
	// AtStart: the next start applies it; otherwise only a new VM has it.
	AtStart bool `json:"atStart"`
}

func (d Drift) String() string {
	s := fmt.Sprintf("%s: the project wants %s, VM has %s", d.Key, d.Want, d.Have)
	if d.AtStart {
		return s + " (applied at the next start: pixi-lima restart)"
	}
	return s + " (only a new VM has it: pixi-lima delete, then pixi-lima init; the disk, with its containers, images and volumes, goes with it)"
}

// Drifts compares the settings of the project at root with its instance,
// except cpus, memory and disk, which every start applies.
func Drifts(c settings.Config, root string, inst *store.Instance) []Drift {
	return driftsOn(c, root, ThisHost(), inst)
}

// driftsOn is Drifts on the host h, which rosetta depends on.
func driftsOn(c settings.Config, root string, h Host, inst *store.Instance) []Drift {
	if inst == nil || inst.Config == nil {
		return nil
	}
	var d []Drift
	if want, have := mounts(c, root, inst), vmMounts(inst); !slices.Equal(want, have) {
		d = append(d, Drift{Key: "mounts", Want: showMounts(want), Have: showMounts(have), AtStart: true})
	}
	if have := ptrString(inst.Config.MountType); c.MountType != "" && c.MountType != have {
		d = append(d, Drift{Key: "mount-type", Want: quote(c.MountType), Have: quote(have), AtStart: true})
	}
	if have := vmIdleStop(inst); c.IdleStop != have {
		d = append(d, Drift{Key: "idle-stop", Want: showIdle(c.IdleStop), Have: showIdle(have), AtStart: true})
	}
	if have := string(inst.VMType); c.VMType != "" && c.VMType != have {
		d = append(d, Drift{Key: "vm-type", Want: quote(c.VMType), Have: quote(have)})
	}
	if r, ok := rosettaDrift(c, h, inst); ok {
		d = append(d, r)
	}
	rootful, known := dockerMode(inst)
	if known && rootful != c.Rootful {
		d = append(d, Drift{Key: "rootful", Want: fmt.Sprint(c.Rootful), Have: fmt.Sprint(rootful)})
	}
	if want, known := wantCACerts(c); known && !slices.Equal(want, vmCACerts(inst)) {
		d = append(d, Drift{Key: "ca-certs", Want: showCerts(want), Have: showCerts(vmCACerts(inst)), AtStart: true})
	}
	if want, have := GuestProxy(c.Proxy), VMProxy(inst); want != have {
		d = append(d, proxyDrift(want, have))
	}
	if o, ok := readOrigin(inst.Dir); ok {
		// A changed rootful alone changes the default template: said above.
		swapped := known && rootful != c.Rootful && o.Template == defaultTemplate(rootful) && c.Template == defaultTemplate(c.Rootful)
		if o.Template != c.Template && !swapped {
			d = append(d, Drift{Key: "template", Want: quote(c.Template), Have: quote(o.Template)})
		}
		if o.Image != c.Image {
			d = append(d, Drift{Key: "image", Want: showImage(c.Image), Have: showImage(o.Image)})
		}
	}
	return d
}

// ApplyExpression is the yq expression that brings an existing instance to
// the project's settings at its next start; a smaller disk is ignored with
// a warning, as Lima cannot shrink one.
func (m *Manager) ApplyExpression(inst *store.Instance) string {
	return m.applyOn(ThisHost(), inst)
}

// applyOn is ApplyExpression on the host h.
func (m *Manager) applyOn(h Host, inst *store.Instance) string {
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
	rewatched := false
	for _, d := range driftsOn(c, m.Paths.Root, h, inst) {
		switch d.Key {
		case "mounts":
			expr = append(expr, ".mounts = "+mustJSON(mounts(c, m.Paths.Root, inst)))
		case "mount-type":
			expr = append(expr, ".mountType = "+quote(c.MountType))
		case "idle-stop":
			expr = append(expr, idleExpression(c.IdleStop, m.Paths.Root))
			rewatched = true
		case "ca-certs":
			certs, _ := wantCACerts(c)
			expr = append(expr, caExpression(certs))
		case "proxy":
			expr = append(expr, proxyExpression(GuestProxy(c.Proxy)))
		case "rosetta":
			if d.AtStart { // a vz VM; a QEMU one cannot have it
				expr = append(expr, rosettaExpression)
			}
		}
	}
	if rootful, known := dockerMode(inst); known && !rootful && !hasSocketLink(inst) {
		expr = append(expr, socketExpression())
	}
	if c.IdleStop > 0 && !rewatched && !hasWatcher(inst, c.IdleStop, m.Paths.Root) {
		expr = append(expr, idleExpression(c.IdleStop, m.Paths.Root)) // a watcher pixi-lima since changed
	}
	if !hasPortTick(inst) {
		expr = append(expr, portsExpression())
	}
	return strings.Join(expr, " | ")
}

// projectMounts are the instance's mounts: the project, writable, at its
// path and each alias, then the configured extras. An alias is mounted
// from itself, as Lima merges mounts of one location into one.
func projectMounts(c settings.Config, root string, aliases []string) []settings.Mount {
	mounts := []settings.Mount{{Location: root, Writable: true}}
	for _, a := range aliases {
		mounts = append(mounts, settings.Mount{Location: a, Writable: true})
	}
	return append(mounts, c.Mounts...)
}

// isAlias says whether a mount of the VM is one of the project's aliases.
func isAlias(m settings.Mount, root string) bool {
	return m.Location != root && m.MountPoint == "" && m.Writable && env.SameDir(m.Location, root)
}

// mounts are the mounts the instance should have now. An alias the VM
// mounts stays while it leads to the project, so that calls do not flap.
func mounts(c settings.Config, root string, inst *store.Instance) []settings.Mount {
	aliases := slices.Clone(c.RootAliases)
	for _, have := range vmMounts(inst) {
		if isAlias(have, root) && !slices.Contains(c.Mounts, have) {
			aliases = append(aliases, have.Location)
		}
	}
	slices.Sort(aliases)
	return projectMounts(c, root, slices.Compact(aliases))
}

// vmMounts are the instance's mounts, written the way ours are.
func vmMounts(inst *store.Instance) []settings.Mount {
	var out []settings.Mount
	for _, have := range inst.Config.Mounts {
		mp := ptrString(have.MountPoint)
		if mp == have.Location {
			mp = ""
		}
		out = append(out, settings.Mount{Location: have.Location, MountPoint: mp, Writable: have.Writable != nil && *have.Writable})
	}
	return out
}

// MissingAliases are the project's aliases the running VM does not mount:
// a bind mount from under one is empty until the next start.
func MissingAliases(c settings.Config, root string, inst *store.Instance) []string {
	if inst == nil || inst.Config == nil {
		return nil
	}
	var missing []string
	have := vmMounts(inst)
	for _, a := range c.RootAliases {
		if !slices.Contains(have, settings.Mount{Location: a, Writable: true}) {
			missing = append(missing, a)
		}
	}
	return missing
}

// MountedRoots are root and each alias the instance mounts the project at.
func MountedRoots(root string, inst *store.Instance) []string {
	roots := []string{root}
	if inst == nil || inst.Config == nil {
		return roots
	}
	for _, m := range vmMounts(inst) {
		if isAlias(m, root) {
			roots = append(roots, m.Location)
		}
	}
	return roots
}

func showMounts(ms []settings.Mount) string {
	var s []string
	for _, m := range ms {
		w := map[bool]string{true: "writable", false: "read-only"}[m.Writable]
		if m.MountPoint != "" {
			s = append(s, fmt.Sprintf("%s at %s (%s)", m.Location, m.MountPoint, w))
		} else {
			s = append(s, fmt.Sprintf("%s (%s)", m.Location, w))
		}
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func showImage(image string) string {
	if image == "" {
		return "the template's images"
	}
	return quote(image)
}

func ptrString[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}
