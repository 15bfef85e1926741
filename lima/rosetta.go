package lima

import (
	"github.com/lima-vm/lima/pkg/store"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// RosettaHint is the one thing to do where rosetta = true cannot work.
const RosettaHint = "PIXI_LIMA_ROSETTA=false for this machine, or remove rosetta from [tool.pixi-lima]"

// RosettaError says that rosetta = true cannot work on this host: a
// settings problem, with RosettaHint as the fix.
type RosettaError struct {
	Why string // "this is linux/amd64"
}

func (e *RosettaError) Error() string {
	return "rosetta = true needs macOS on Apple silicon with vz (" + e.Why + ")"
}

// CheckRosetta refuses rosetta = true where Lima cannot give the VM
// Rosetta: only vz on Apple silicon has it (pkg/limayaml FillDefault turns
// rosetta.enabled off on every other host, and the vz driver only warns
// "Unable to configure Rosetta" when it fails). It is asked before a VM is
// created or started, never when the config is loaded: a team's pixi.toml
// may set it while a teammate works on Linux with another engine. An
// existing QEMU VM on a Mac that would make a new one with vz is drift
// (see Drifts), not refused.
func CheckRosetta(c settings.Config, h Host, g Guest) error {
	if !c.Rosetta {
		return nil
	}
	if h.OS != "darwin" || h.Arch != "arm64" {
		return &RosettaError{Why: "this is " + h.String()}
	}
	if g.Existing == VZ {
		return nil
	}
	g.Existing = "" // what would a new VM be?
	if t, why := ResolveVMType(g); t != VZ {
		return &RosettaError{Why: "Lima would run this VM with " + vmTypeName(t) + ": " + why}
	}
	return nil
}

func vmTypeName(t string) string {
	if t == QEMU {
		return "QEMU"
	}
	return t
}

// rosettaExpression is Lima's Rosetta with its binfmt_misc registration,
// so that the guest's kernel hands x86_64 binaries to Rosetta. Lima's boot
// script (cidata boot/05-rosetta-volume.sh) registers it at every boot,
// and the host agent rewrites cidata at every start, so a stopped vz
// instance gets it at its next `limactl start --set`.
const rosettaExpression = `.rosetta = {"enabled": true, "binfmt": true}`

// vmRosetta says whether the instance has Rosetta as pixi-lima sets it.
func vmRosetta(inst *store.Instance) bool {
	r := inst.Config.Rosetta
	return r.Enabled != nil && *r.Enabled && r.BinFmt != nil && *r.BinFmt
}

// rosettaDrift is the drift of rosetta = true on an instance, if any. Only
// on Apple silicon: elsewhere Lima's FillDefault reads every instance as
// without Rosetta, and CheckRosetta refuses to start it. A vz instance gets
// it at the next start (limactl start --set edits lima.yaml, and nothing in
// pkg/limayaml's Validate forbids changing rosetta); a QEMU one never has
// it, like a changed vm-type.
func rosettaDrift(c settings.Config, goos, goarch string, inst *store.Instance) (Drift, bool) {
	if !c.Rosetta || goos != "darwin" || goarch != "arm64" || vmRosetta(inst) {
		return Drift{}, false
	}
	if string(inst.VMType) != VZ {
		return Drift{Key: "rosetta", Want: "true (with vz)", Have: "a " + vmTypeName(string(inst.VMType)) + " VM, which cannot have it"}, true
	}
	return Drift{Key: "rosetta", Want: "true", Have: "false", AtStart: true}, true
}
