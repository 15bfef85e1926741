package lima

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/osutil"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The VM types pixi-lima tells apart (limayaml.VZ, limayaml.QEMU).
const (
	VZ   = string(limayaml.VZ)
	QEMU = string(limayaml.QEMU)
)

// Host is what Lima's choice of VM type depends on outside the project.
type Host struct {
	OS, Arch string // runtime.GOOS and runtime.GOARCH
	MacOS    string // the macOS product version, "14.5"; "" when unknown or not macOS
}

// ThisHost is the host this process runs on. The macOS version is read as
// Lima reads it (pkg/osutil.ProductVersion, sw_vers once per process), and
// only on macOS.
func ThisHost() Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if h.OS == "darwin" {
		if v, err := osutil.ProductVersion(); err == nil {
			h.MacOS = v.String()
		}
	}
	return h
}

func (h Host) String() string { return h.OS + "/" + h.Arch }

// Guest is what the project and its instance say about the VM type.
type Guest struct {
	Existing  string // the instance's vmType (store.Instance.VMType); "" if there is none yet
	VMType    string // the vm-type setting, else the template's vmType
	MountType string // the mount-type setting, else the template's mountType
	Arch      string // the template's arch (Lima's names: x86_64, aarch64); "" for the host's
}

// GuestOf is the Guest a new instance of c would be. A template file of
// the project is read for its vmType, mountType and arch; a
// template://NAME is not: Lima's docker and default templates set none of
// them (an experimental one that does, with its bases, is beyond this).
func GuestOf(c settings.Config) Guest {
	g := Guest{VMType: c.VMType, MountType: c.MountType}
	if strings.Contains(c.Template, "://") {
		return g
	}
	data, err := os.ReadFile(c.Template)
	var y limayaml.LimaYAML
	if err != nil || limayaml.Unmarshal(data, &y, c.Template) != nil {
		return g // limactl create will say what is wrong with it
	}
	if g.VMType == "" {
		g.VMType = ptrString(y.VMType)
	}
	if g.MountType == "" {
		g.MountType = ptrString(y.MountType)
	}
	g.Arch = ptrString(y.Arch)
	return g
}

// ResolveVMType is the VM type Lima v1.2.2 runs the instance with, and
// why, following pkg/limayaml/defaults.go:ResolveVMType step by step. It
// leaves out what only a template can set and pixi-lima's never do
// (firmware.legacyBIOS on x86_64, audio.device, video.display, which also
// mean QEMU there), and Lima's _config/default.yaml and override.yaml.
func ResolveVMType(h Host, g Guest) (vmType, why string) {
	// An instance keeps its type: Lima resolves an existing one from its
	// lima.yaml and, with no vmType there, from the vz-identifier file
	// (ResolveVMType's isExistingInstanceDir branch); store.Inspect has
	// done that for Existing. The project's vm-type is then drift.
	if g.Existing != "" {
		return g.Existing, fmt.Sprintf("the VM exists as a %s VM", g.Existing)
	}
	if g.VMType != "" && g.VMType != "default" { // "explicitly specified"
		return g.VMType, fmt.Sprintf("vm-type = %q", g.VMType)
	}
	if h.OS != "darwin" {
		return QEMU, "Lima's default on " + h.OS
	}
	// The checks of ResolveVMType's darwin case, in its order.
	switch native := string(limayaml.NewArch(h.Arch)); {
	case h.MacOS == "":
		return QEMU, "the macOS version is unknown (sw_vers failed)"
	case !h.MacOSAtLeast(13, 5):
		// Virtualization.framework before 13.5 cannot boot Linux 6.2 on
		// Intel: https://github.com/lima-vm/lima/issues/1577
		return QEMU, "macOS " + h.MacOS + " is older than 13.5"
	case g.Arch != "" && g.Arch != "default" && g.Arch != native:
		// vz runs only the host's architecture (also the vz driver's
		// Validate: "unsupported arch").
		return QEMU, fmt.Sprintf("the guest is %s, this Mac is %s", g.Arch, native)
	case g.MountType == string(limayaml.NINEP):
		// vz has no 9p (the vz driver's Validate rejects it).
		return QEMU, `mount-type = "9p"`
	}
	return VZ, "Lima's default on macOS 13.5 and later"
}

// MacOSAtLeast says whether the host is macOS major.minor or newer; false
// when the version is unknown.
func (h Host) MacOSAtLeast(major, minor int) bool {
	return h.MacOS != "" && versionAtLeast(h.MacOS, major, minor)
}

// versionAtLeast compares a product version such as "13.4.1" with
// major.minor, as Lima's semver comparison does ("13" reads as 13.0).
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	got := [2]int{}
	for i := 0; i < len(parts) && i < 2; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return false
		}
		got[i] = n
	}
	return got[0] > major || got[0] == major && got[1] >= minor
}
