package lima

import (
	"errors"
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

// TestCheckTypes: on macOS, QEMU with virtiofs and vz with 9p are refused
// before Lima runs, naming both keys, for a new VM and for an existing
// one by its own types; on Linux QEMU with virtiofs is Lima's business.
func TestCheckTypes(t *testing.T) {
	home := limaHomeWith(t, nil)
	vmDir := filepath.Join(home, "old")
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vmDir, "lima.yaml"), []byte("vmType: qemu\nmountType: virtiofs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	linux := Host{OS: "linux", Arch: "amd64"}
	for _, tc := range []struct {
		name string
		c    settings.Config
		h    Host
		g    Guest
		want string // "" for no refusal
	}{
		{"qemu + virtiofs", settings.Config{}, mac14, Guest{VMType: QEMU, MountType: "virtiofs"}, `mount-type = "virtiofs" needs vz on macOS`},
		{"vz + 9p", settings.Config{}, mac14, Guest{VMType: VZ, MountType: "9p"}, `mount-type = "9p" cannot be used with vz`},
		{"rosetta = true makes it vz", settings.Config{Rosetta: true}, mac14, Guest{MountType: "9p"}, `mount-type = "9p" cannot be used with vz`},
		{"existing qemu, virtiofs set", settings.Config{}, mac14, Guest{Existing: QEMU, MountType: "virtiofs", VMType: VZ}, "the VM exists as a qemu VM"},
		{"existing qemu with virtiofs of its own", settings.Config{Name: "old"}, mac14, Guest{Existing: QEMU, LimaHome: home}, `mount-type = "virtiofs" needs vz`},
		{"existing qemu, 9p set", settings.Config{Name: "old"}, mac14, Guest{Existing: QEMU, MountType: "9p", LimaHome: home}, ""},
		{"vz + virtiofs", settings.Config{}, mac14, Guest{VMType: VZ, MountType: "virtiofs"}, ""},
		{"qemu + 9p", settings.Config{}, mac14, Guest{VMType: QEMU, MountType: "9p"}, ""},
		{"linux: qemu + virtiofs", settings.Config{}, linux, Guest{VMType: QEMU, MountType: "virtiofs"}, ""},
	} {
		err := CheckTypes(tc.c, tc.h, tc.g)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		var se *settings.Error
		if !errors.As(err, &se) || !strings.Contains(se.Error(), tc.want) ||
			!strings.Contains(se.Source, "vm-type") || !strings.Contains(se.Source, "mount-type") {
			t.Errorf("%s: got %v, want a settings error naming vm-type and mount-type and saying %q", tc.name, err, tc.want)
		}
		if err := CheckGuest(tc.c, tc.h, tc.g); !errors.As(err, &se) {
			t.Errorf("%s: CheckGuest does not refuse it: %v", tc.name, err)
		}
	}
}
