package lima

import (
	"os"

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

// rosettaRuntime exists once Rosetta is installed. A stat prompts for
// nothing, where running an x86_64 program, or Lima's vz driver at start,
// would offer to install it in a dialog that hangs a start without a
// terminal.
const rosettaRuntime = "/Library/Apple/usr/libexec/oah/libRosettaRuntime"

func rosettaInstalled() bool {
	_, err := os.Stat(rosettaRuntime)
	return err == nil
}

// CheckRosetta refuses rosetta = true where Lima cannot give the VM
// Rosetta: only vz on Apple silicon has it (pkg/limayaml FillDefault turns
// rosetta.enabled off on every other host, and the vz driver only warns
// "Unable to configure Rosetta" when it fails). It is asked before a VM is
// created or started, never when the config is loaded: a team's pixi.toml
// may set it while a teammate works on Linux with another engine. An
// existing QEMU VM on a Mac that would make a new one with vz is drift
// (see Drifts), not refused; "auto" is never refused.
func CheckRosetta(c settings.Config, h Host, g Guest) error {
	if !c.Rosetta {
		return nil
	}
	if !h.appleSilicon() {
		return &RosettaError{Why: "this is " + h.String()}
	}
	if g.Existing == VZ {
		return nil
	}
	if h.MacOS != "" && !h.MacOSAtLeast(13, 0) {
		// The vz driver's Validate: "VZ driver requires macOS 13 or higher".
		return &RosettaError{Why: "vz needs macOS 13 or newer, this is macOS " + h.MacOS}
	}
	g.Existing = "" // what would a new VM be?
	if t, why := ResolveVMType(newGuest(c, g)); t != VZ {
		return &RosettaError{Why: "Lima would run this VM with " + vmTypeName(t) + ": " + why}
	}
	return nil
}

// newGuest is g as CreateExpression makes it: rosetta = true writes vmType
// vz where nothing else sets one, as on macOS 13.0–13.4, where Lima's own
// default is QEMU.
func newGuest(c settings.Config, g Guest) Guest {
	if c.Rosetta && g.Existing == "" && g.VMType == "" {
		g.VMType = VZ
	}
	return g
}

func (h Host) appleSilicon() bool { return h.OS == "darwin" && h.Arch == "arm64" }

func vmTypeName(t string) string {
	if t == QEMU {
		return "QEMU"
	}
	return t
}

// RosettaState is what the rosetta setting comes to for one VM on one host.
type RosettaState struct {
	On  bool
	Why string // "vz on Apple silicon with Rosetta installed"
	Fix string // what would turn it on, where something would; "" otherwise
}

// RosettaFor says whether guest g on h gets Rosetta under c, and why.
// "auto" is on only where the VM is vz anyway and Rosetta is installed.
func RosettaFor(c settings.Config, h Host, g Guest) RosettaState {
	switch {
	case c.Rosetta:
		return RosettaState{On: true, Why: "rosetta = true: linux/amd64 programs run through Rosetta (vz, registered with binfmt_misc)"}
	case !c.RosettaAuto:
		return RosettaState{Why: "off (rosetta = false)"}
	case !h.appleSilicon() && h.Arch == "amd64":
		return RosettaState{Why: "off (auto): Rosetta is for Apple silicon; this is " + h.String() + ", whose VM runs linux/amd64 images natively"}
	case !h.appleSilicon():
		return RosettaState{Why: "off (auto): Rosetta is for Apple silicon, this is " + h.String(),
			Fix: "for linux/amd64 images, QEMU's emulation in the VM: docker run --privileged --rm tonistiigi/binfmt --install amd64"}
	}
	if t, why := ResolveVMType(g); t != VZ {
		fix := `set vm-type = "vz" in [tool.pixi-lima]`
		if g.Existing != "" {
			fix += " (only a new VM has it: pixi-lima delete, then pixi-lima init)"
		}
		return RosettaState{Why: "off (auto): the VM is " + vmTypeName(t) + " (" + why + "), and only vz has Rosetta; linux/amd64 images fail with \"exec format error\"",
			Fix: fix + ", or for QEMU's emulation in the VM: docker run --privileged --rm tonistiigi/binfmt --install amd64"}
	}
	if !h.Rosetta {
		return RosettaState{Why: "off (auto): Rosetta is not installed on this Mac; linux/amd64 images fail with \"exec format error\"",
			Fix: "softwareupdate --install-rosetta --agree-to-license, then pixi-lima restart"}
	}
	return RosettaState{On: true, Why: "on (auto): vz on Apple silicon with Rosetta installed; linux/amd64 programs run through it"}
}

// WithRosetta is c with "auto" decided for guest g on h, as a new VM is
// created from it: Rosetta on or off, never a vm-type of its own.
func WithRosetta(c settings.Config, h Host, g Guest) settings.Config {
	if c.RosettaAuto {
		c.Rosetta, c.RosettaAuto = RosettaFor(c, h, g).On, false
	}
	return c
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

// rosettaDrift is the drift of rosetta on an instance, if any. Only on
// Apple silicon: elsewhere Lima's FillDefault reads every instance as
// without Rosetta, and CheckRosetta refuses to start it. A vz instance gets
// it at the next start (limactl start --set edits lima.yaml, and nothing in
// pkg/limayaml's Validate forbids changing rosetta); a QEMU one never has
// it, like a changed vm-type, and "auto" does not ask for it there.
func rosettaDrift(c settings.Config, h Host, inst *store.Instance) (Drift, bool) {
	if !h.appleSilicon() || vmRosetta(inst) {
		return Drift{}, false
	}
	if c.RosettaAuto {
		st := RosettaFor(c, h, Guest{Existing: string(inst.VMType)})
		if !st.On {
			return Drift{}, false
		}
		return Drift{Key: "rosetta", Want: `"auto" (on: vz on Apple silicon with Rosetta installed)`, Have: "false", AtStart: true}, true
	}
	if !c.Rosetta {
		return Drift{}, false
	}
	if string(inst.VMType) != VZ {
		return Drift{Key: "rosetta", Want: "true (with vz)", Have: "a " + vmTypeName(string(inst.VMType)) + " VM, which cannot have it"}, true
	}
	return Drift{Key: "rosetta", Want: "true", Have: "false", AtStart: true}, true
}
