package lima

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// mac14 is an Apple-silicon Mac, for the host checks that are pixi-lima's.
var mac14 = Host{OS: "darwin", Arch: "arm64", MacOS: "14.5"}

// limaHomeWith is a LIMA_HOME whose _config holds the given files.
func limaHomeWith(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "_config"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(home, "_config", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestResolveVMTypeLimaConfig: the project's _config/default.yaml and
// override.yaml count as Lima counts them: override.yaml over the
// settings, the settings over default.yaml.
func TestResolveVMTypeLimaConfig(t *testing.T) {
	override := limaHomeWith(t, map[string]string{"override.yaml": "vmType: vz\n", "default.yaml": "vmType: qemu\n"})
	deflt := limaHomeWith(t, map[string]string{"default.yaml": "vmType: vz\n"})
	for _, tc := range []struct {
		name string
		g    Guest
		want string
		why  string
	}{
		{"override.yaml", Guest{LimaHome: override}, VZ, `vmType "vz" in ` + override},
		{"override.yaml over vm-type", Guest{LimaHome: override, VMType: QEMU}, VZ, "override.yaml"},
		{"default.yaml", Guest{LimaHome: deflt}, VZ, `vmType "vz" in ` + deflt},
		{"vm-type over default.yaml", Guest{LimaHome: deflt, VMType: QEMU}, QEMU, `vm-type = "qemu"`},
		{"vm-type default", Guest{LimaHome: deflt, VMType: "default"}, VZ, "default.yaml"},
		{"an existing VM keeps its type", Guest{LimaHome: override, VMType: VZ, Existing: QEMU}, QEMU, "exists"},
	} {
		if got, why := ResolveVMType(tc.g); got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: ResolveVMType = %q (%s), want %q (%s)", tc.name, got, why, tc.want, tc.why)
		}
	}
}

// TestResolveVMTypeLimaConfigIgnored: no LIMA_HOME, or a _config file
// Lima cannot read, leaves the choice to the settings and the host.
func TestResolveVMTypeLimaConfigIgnored(t *testing.T) {
	bad := limaHomeWith(t, map[string]string{"override.yaml": "vmType: [vz\n"})
	hostDefault, _ := ResolveVMType(Guest{})
	for _, g := range []Guest{{LimaHome: bad}, {LimaHome: t.TempDir()}, {}} {
		if got, why := ResolveVMType(g); got != hostDefault || why == "" {
			t.Errorf("%+v: ResolveVMType = %q (%s), want %q", g, got, why, hostDefault)
		}
		g.VMType = VZ
		if got, why := ResolveVMType(g); got != VZ || why != `vm-type = "vz"` {
			t.Errorf("%+v: ResolveVMType = %q (%s), want vz from vm-type", g, got, why)
		}
	}
	if runtime.GOOS != "darwin" && hostDefault != QEMU {
		t.Errorf("on %s: Lima's default is %q, want qemu", runtime.GOOS, hostDefault)
	}
}

// TestGuestOfTemplate: a template file's arch, vmType and mountType count
// as Lima counts them; the settings win over the template.
func TestGuestOfTemplate(t *testing.T) {
	foreign := "x86_64"
	if runtime.GOARCH == "amd64" {
		foreign = "aarch64"
	}
	file := filepath.Join(t.TempDir(), "foreign.yaml")
	if err := os.WriteFile(file, []byte("arch: "+foreign+"\nmountType: 9p\nimages:\n- location: /x.img\n  arch: "+foreign+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := GuestOf(settings.Config{Template: file, MountType: "virtiofs"}, "/home")
	if g != (Guest{Arch: foreign, MountType: "virtiofs", LimaHome: "/home"}) {
		t.Errorf("GuestOf = %+v", g)
	}
	if vt, _ := ResolveVMType(g); vt != QEMU {
		t.Errorf("a %s template on %s: %s, want qemu", foreign, runtime.GOARCH, vt)
	}
	if g := GuestOf(settings.Config{Template: settings.DefaultTemplate, VMType: QEMU}, ""); g != (Guest{VMType: QEMU}) {
		t.Errorf("GuestOf(template://docker) = %+v", g)
	}
}
