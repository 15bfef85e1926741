package lima

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

var mac14 = Host{OS: "darwin", Arch: "arm64", MacOS: "14.5"}

// TestResolveVMType (issue 11.5): the VM type Lima v1.2.2 chooses, on
// hosts this Linux machine is not.
func TestResolveVMType(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Host
		g    Guest
		want string
	}{
		{"macOS 14 arm64", mac14, Guest{}, VZ},
		{"macOS 13.5 arm64", Host{OS: "darwin", Arch: "arm64", MacOS: "13.5"}, Guest{}, VZ},
		{"macOS 13.4", Host{OS: "darwin", Arch: "arm64", MacOS: "13.4.1"}, Guest{}, QEMU},
		{"macOS 13 without minor", Host{OS: "darwin", Arch: "arm64", MacOS: "13"}, Guest{}, QEMU},
		{"macOS version unknown", Host{OS: "darwin", Arch: "arm64"}, Guest{}, QEMU},
		{"9p", mac14, Guest{MountType: "9p"}, QEMU},
		{"virtiofs", mac14, Guest{MountType: "virtiofs"}, VZ},
		{"foreign-arch image", mac14, Guest{Arch: "x86_64"}, QEMU},
		{"native arch named", mac14, Guest{Arch: "aarch64"}, VZ},
		{"foreign arch on Intel", Host{OS: "darwin", Arch: "amd64", MacOS: "15.5"}, Guest{Arch: "aarch64"}, QEMU},
		{"existing qemu instance", mac14, Guest{Existing: QEMU}, QEMU},
		{"existing qemu, vm-type vz", mac14, Guest{Existing: QEMU, VMType: VZ}, QEMU},
		{"existing vz on old macOS", Host{OS: "darwin", Arch: "arm64", MacOS: "13.2"}, Guest{Existing: VZ}, VZ},
		{"vm-type qemu", mac14, Guest{VMType: QEMU}, QEMU},
		{"vm-type vz before 13.5", Host{OS: "darwin", Arch: "arm64", MacOS: "13.1"}, Guest{VMType: VZ}, VZ},
		{"vm-type default", mac14, Guest{VMType: "default"}, VZ},
		{"linux", Host{OS: "linux", Arch: "amd64"}, Guest{}, QEMU},
		{"linux arm64", Host{OS: "linux", Arch: "arm64"}, Guest{}, QEMU},
		{"linux, vm-type vz", Host{OS: "linux", Arch: "amd64"}, Guest{VMType: VZ}, VZ}, // explicit: Lima's vz driver then refuses
	} {
		if got, why := ResolveVMType(tc.h, tc.g); got != tc.want || why == "" {
			t.Errorf("%s: ResolveVMType(%+v, %+v) = %q (%s), want %q", tc.name, tc.h, tc.g, got, why, tc.want)
		}
	}
}

// TestGuestOfTemplate: a template file's arch, vmType and mountType count
// as Lima counts them; the settings win over the template.
func TestGuestOfTemplate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "amd64.yaml")
	if err := os.WriteFile(file, []byte("arch: x86_64\nmountType: 9p\nimages:\n- location: /x.img\n  arch: x86_64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := GuestOf(settings.Config{Template: file, MountType: "virtiofs"})
	if g.Arch != "x86_64" || g.MountType != "virtiofs" || g.VMType != "" {
		t.Errorf("GuestOf = %+v", g)
	}
	if vt, _ := ResolveVMType(mac14, g); vt != QEMU {
		t.Errorf("an x86_64 template on Apple silicon: %s, want qemu", vt)
	}
	if g := GuestOf(settings.Config{Template: settings.DefaultTemplate, VMType: QEMU}); g != (Guest{VMType: QEMU}) {
		t.Errorf("GuestOf(template://docker) = %+v", g)
	}
}

// TestResolveVMTypeLikeLima: on this host, Lima's own ResolveVMType agrees.
func TestResolveVMTypeLikeLima(t *testing.T) {
	for _, vmType := range []string{"", "default", QEMU, VZ} {
		y := limayaml.LimaYAML{VMType: &vmType}
		lima := string(limayaml.ResolveVMType(&y, &limayaml.LimaYAML{}, &limayaml.LimaYAML{}, ""))
		if ours, _ := ResolveVMType(ThisHost(), Guest{VMType: vmType}); ours != lima {
			t.Errorf("vmType %q: ours %s, Lima's %s", vmType, ours, lima)
		}
	}
}
