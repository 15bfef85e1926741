package lima

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/osutil"
	"github.com/lima-vm/lima/pkg/store/filenames"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The VM types pixi-lima tells apart (limayaml.VZ, limayaml.QEMU).
const (
	VZ   = string(limayaml.VZ)
	QEMU = string(limayaml.QEMU)
)

// Host is the machine pixi-lima runs on, for the checks that are ours
// (Rosetta, the vz driver's macOS 13); the VM type is Lima's to choose.
type Host struct {
	OS, Arch string // runtime.GOOS and runtime.GOARCH
	MacOS    string // the macOS product version, "14.5"; "" when unknown or not macOS
	Rosetta  bool   // Rosetta is installed (Apple silicon only)
}

// ThisHost is the host this process runs on, its macOS version read as
// Lima reads it (osutil.ProductVersion).
func ThisHost() Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if h.OS == "darwin" {
		if v, err := osutil.ProductVersion(); err == nil {
			h.MacOS = v.String()
		}
		h.Rosetta = h.Arch == "arm64" && rosettaInstalled()
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
	LimaHome  string // the project's LIMA_HOME, whose _config/default.yaml and override.yaml count; "" for none
}

// GuestOf is the Guest a new instance of c in limaHome would be.
// template://NAME is not read: Lima's docker and default templates set none of these.
func GuestOf(c settings.Config, limaHome string) Guest {
	g := Guest{VMType: c.VMType, MountType: c.MountType, LimaHome: limaHome}
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

// CheckGuest refuses, before Lima runs, what cannot start on this host:
// the pair of types (CheckTypes) and rosetta = true (CheckRosetta).
func CheckGuest(c settings.Config, h Host, g Guest) error {
	if err := CheckTypes(c, h, g); err != nil {
		return err
	}
	return CheckRosetta(c, h, g)
}

// CheckTypes refuses on macOS the vm-type and mount-type pairs that
// limactl create accepts and no start can boot: QEMU with virtiofs (the
// QEMU driver's Validate wants Linux for it) and vz with 9p. An existing
// VM counts with its own types, its mount type overridden by the setting
// that its next start applies.
func CheckTypes(c settings.Config, h Host, g Guest) error {
	if h.OS != "darwin" {
		return nil // on Linux, QEMU with virtiofs is Lima's business
	}
	g = newGuest(c, g)
	vmType, why := ResolveVMType(g)
	mountType := g.MountType
	if g.Existing != "" && mountType == "" {
		mountType = existingMountType(g.LimaHome, c.Name)
	}
	var msg string
	switch {
	case vmType == QEMU && mountType == "virtiofs":
		msg = `mount-type = "virtiofs" needs vz on macOS, and this VM is QEMU (` + why + `): set mount-type = "9p" or "reverse-sshfs", or a vz VM`
	case vmType == VZ && mountType == "9p":
		msg = `mount-type = "9p" cannot be used with vz (` + why + `): set mount-type = "virtiofs" or "reverse-sshfs", or vm-type = "qemu"`
	default:
		return nil
	}
	if g.Existing != "" && g.MountType != "" {
		msg += " (a changed mount-type applies at the next start; vm-type only to a new VM)"
	}
	return &settings.Error{Source: "[tool.pixi-lima] vm-type and mount-type", Msg: msg}
}

// existingMountType is the mountType in the instance's lima.yaml, "" when
// it has none (Lima's default then suits its type) or cannot be read.
func existingMountType(limaHome, name string) string {
	if limaHome == "" || name == "" {
		return ""
	}
	path := filepath.Join(limaHome, name, filenames.LimaYAML)
	data, err := os.ReadFile(path)
	var y limayaml.LimaYAML
	if err != nil || limayaml.Unmarshal(data, &y, path) != nil {
		return ""
	}
	return ptrString(y.MountType)
}

// ResolveVMType is the VM type Lima v1.2.2 runs the instance with, and why.
// Lima's own limayaml.ResolveVMType decides, so the prediction cannot drift from limactl's.
func ResolveVMType(g Guest) (vmType, why string) {
	if g.Existing != "" { // store.Inspect resolved it with Lima's Load
		return g.Existing, fmt.Sprintf("the VM exists as a %s VM", g.Existing)
	}
	y := limayaml.LimaYAML{VMType: orNil(g.VMType), MountType: orNil(g.MountType), Arch: orNil(g.Arch)}
	d, o := limaConfig(g.LimaHome, filenames.Default), limaConfig(g.LimaHome, filenames.Override)
	vmType = string(limayaml.ResolveVMType(&y, &d, &o, ""))
	switch {
	case explicit(o.VMType):
		return vmType, fmt.Sprintf("vmType %q in %s", *o.VMType, filepath.Join(g.LimaHome, filenames.ConfigDir, filenames.Override))
	case explicit(y.VMType):
		return vmType, fmt.Sprintf("vm-type = %q", *y.VMType)
	case explicit(d.VMType):
		return vmType, fmt.Sprintf("vmType %q in %s", *d.VMType, filepath.Join(g.LimaHome, filenames.ConfigDir, filenames.Default))
	case runtime.GOOS != "darwin":
		return vmType, "Lima's default on " + runtime.GOOS
	case vmType == VZ:
		return vmType, "Lima's default on macOS 13.5 and later"
	}
	return vmType, "Lima's choice on this Mac (QEMU before macOS 13.5, for a foreign arch, 9p or a QEMU-only device)"
}

// limaConfig is $LIMA_HOME/_config/name as limayaml.Load reads it; empty
// when missing or invalid, which limactl itself reports.
func limaConfig(limaHome, name string) (y limayaml.LimaYAML) {
	if limaHome == "" {
		return y
	}
	path := filepath.Join(limaHome, filenames.ConfigDir, name)
	if data, err := os.ReadFile(path); err == nil && limayaml.Unmarshal(data, &y, path) != nil {
		return limayaml.LimaYAML{}
	}
	return y
}

func explicit(vmType *string) bool { return vmType != nil && *vmType != "" && *vmType != "default" }

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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
