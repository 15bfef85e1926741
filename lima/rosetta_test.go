package lima

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/yqutil"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// dockerLike is template://docker with its bases embedded, cut to what
// decides the VM: images of both architectures, no vmType, no rosetta
// (and no minimumLimaVersion, which a test binary's Lima cannot compare).
const dockerLike = `images:
- location: https://cloud-images.ubuntu.com/releases/noble/release/ubuntu-24.04-server-cloudimg-amd64.img
  arch: x86_64
- location: https://cloud-images.ubuntu.com/releases/noble/release/ubuntu-24.04-server-cloudimg-arm64.img
  arch: aarch64
mounts:
- location: "~"
containerd:
  system: false
  user: false
portForwards:
- guestSocket: "/run/user/{{.UID}}/docker.sock"
  hostSocket: "{{.Dir}}/sock/docker.sock"
`

// TestRosettaCreate: the instance config pixi-lima makes with
// rosetta = true, as Lima's own yq and limayaml read it, has Rosetta with
// binfmt and vmType vz.
func TestRosettaCreate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("LIMA_HOME", home) // limayaml.Load looks for _config/default.yaml there
	c := settings.Config{CPUs: 2, Memory: "2GiB", Disk: "20GiB", Rosetta: true}
	out, err := yqutil.EvaluateExpression(CreateExpression(c, "/src/repo"), []byte(dockerLike))
	if err != nil {
		t.Fatal(err)
	}
	var y limayaml.LimaYAML
	if err := limayaml.Unmarshal(out, &y, "lima.yaml"); err != nil {
		t.Fatal(err)
	}
	if !isTrue(y.Rosetta.Enabled) || !isTrue(y.Rosetta.BinFmt) || ptrString(y.VMType) != VZ {
		t.Fatalf("lima.yaml has rosetta %+v, vmType %v:\n%s", y.Rosetta, ptrString(y.VMType), out)
	}
	// FillDefault keeps rosetta.enabled only on darwin/arm64, so here it
	// reads false; vmType and binfmt are as written on every host.
	filled, err := limayaml.Load(out, filepath.Join(home, "repo-docker", "lima.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ptrString(filled.VMType) != VZ || !isTrue(filled.Rosetta.BinFmt) {
		t.Errorf("after FillDefault: vmType %s, rosetta %+v", ptrString(filled.VMType), filled.Rosetta)
	}
	if err := limayaml.Validate(filled, false); err != nil {
		t.Errorf("Lima rejects it: %v", err)
	}
	// A chosen vm-type stays (CheckRosetta refuses qemu before create).
	c.VMType = VZ
	if n := strings.Count(CreateExpression(c, "/src/repo"), ".vmType"); n != 1 {
		t.Errorf("vm-type vz with rosetta: .vmType set %d times", n)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// TestRosettaDrift: a stopped vz instance gets Rosetta at its next start; a
// QEMU one only as a new VM; off Apple silicon nothing is said.
func TestRosettaDrift(t *testing.T) {
	root := t.TempDir()
	c := settings.Config{Rosetta: true}
	m := &Manager{Paths: env.NewPaths(root), Config: c, Stderr: io.Discard}
	vz := vmWith(settings.Mount{Location: root, Writable: true})
	vz.VMType = limayaml.VZ
	d := drifts(c, root, "darwin", "arm64", vz)
	if len(d) != 1 || d[0].Key != "rosetta" || !d[0].AtStart {
		t.Fatalf("vz without Rosetta: drift %+v", d)
	}
	expr := m.applyExpression("darwin", "arm64", vz)
	if expr != rosettaExpression {
		t.Fatalf("applyExpression = %q", expr)
	}
	// What limactl start --set does to the instance's lima.yaml
	// (cmd/limactl/start.go applyYQExpressionToExistingInstance).
	out, err := yqutil.EvaluateExpression(expr, []byte("vmType: vz\nrosetta:\n  enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	var y limayaml.LimaYAML
	if err := limayaml.Unmarshal(out, &y, "lima.yaml"); err != nil || !isTrue(y.Rosetta.Enabled) || !isTrue(y.Rosetta.BinFmt) {
		t.Errorf("after --set: %+v (%v):\n%s", y.Rosetta, err, out)
	}

	yes := true
	vz.Config.Rosetta = limayaml.Rosetta{Enabled: &yes, BinFmt: &yes}
	if d := drifts(c, root, "darwin", "arm64", vz); len(d) != 0 {
		t.Errorf("vz with Rosetta: drift %+v", d)
	}

	qemu := vmWith(settings.Mount{Location: root, Writable: true})
	qemu.VMType = limayaml.QEMU
	if d := drifts(c, root, "darwin", "arm64", qemu); len(d) != 1 || d[0].AtStart || !strings.Contains(d[0].String(), "only a new VM has it") {
		t.Errorf("QEMU instance: drift %+v", d)
	}
	if expr := m.applyExpression("darwin", "arm64", qemu); expr != "" {
		t.Errorf("QEMU instance: applyExpression = %q", expr)
	}
	for _, inst := range []*store.Instance{qemu, vmWith(settings.Mount{Location: root, Writable: true})} {
		if d := drifts(c, root, "linux", "amd64", inst); len(d) != 0 {
			t.Errorf("on linux: drift %+v", d)
		}
	}
}

// TestCheckRosetta: where rosetta = true cannot work, starting or creating
// is refused with what is wrong and the one thing to do.
func TestCheckRosetta(t *testing.T) {
	on := settings.Config{Rosetta: true}
	vz := limaHomeWith(t, map[string]string{"override.yaml": "vmType: vz\n"}) // Lima's choice, on any host
	for _, tc := range []struct {
		name string
		c    settings.Config
		h    Host
		g    Guest
		want string // "" for no refusal
	}{
		{"linux/amd64", on, Host{OS: "linux", Arch: "amd64"}, Guest{},
			"rosetta = true needs macOS on Apple silicon with vz (this is linux/amd64)"},
		{"darwin/amd64", on, Host{OS: "darwin", Arch: "amd64", MacOS: "15.5"}, Guest{},
			"rosetta = true needs macOS on Apple silicon with vz (this is darwin/amd64)"},
		{"linux/arm64, existing vz", on, Host{OS: "linux", Arch: "arm64"}, Guest{Existing: VZ},
			"rosetta = true needs macOS on Apple silicon with vz (this is linux/arm64)"},
		{"vm-type qemu", on, mac14, Guest{VMType: QEMU},
			`rosetta = true needs macOS on Apple silicon with vz (Lima would run this VM with QEMU: vm-type = "qemu")`},
		{"Lima chooses vz", on, mac14, Guest{LimaHome: vz}, ""},
		{"existing vz on 13.4", on, Host{OS: "darwin", Arch: "arm64", MacOS: "13.4"}, Guest{Existing: VZ}, ""},
		{"a new VM on 13.4, which rosetta = true makes vz", on, Host{OS: "darwin", Arch: "arm64", MacOS: "13.4"}, Guest{}, ""},
		{"macOS 12", on, Host{OS: "darwin", Arch: "arm64", MacOS: "12.7"}, Guest{},
			"rosetta = true needs macOS on Apple silicon with vz (vz needs macOS 13 or newer, this is macOS 12.7)"},
		{"auto never refuses", settings.Config{RosettaAuto: true}, Host{OS: "linux", Arch: "amd64"}, Guest{}, ""},
		{"existing qemu, a new VM would be vz", on, mac14, Guest{Existing: QEMU, LimaHome: vz}, ""}, // drift, not refused
		{"off on linux", settings.Config{}, Host{OS: "linux", Arch: "amd64"}, Guest{}, ""},
	} {
		err := CheckRosetta(tc.c, tc.h, tc.g)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		var re *RosettaError
		if !errors.As(err, &re) || re.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// macRosetta is an Apple-silicon Mac with Rosetta installed.
var macRosetta = Host{OS: "darwin", Arch: "arm64", MacOS: "14.5", Rosetta: true}

// TestRosettaAuto: rosetta = "auto" is on only where the VM is vz by
// Lima's own choice on Apple silicon with Rosetta installed; elsewhere it
// is off with the reason, and on a Mac what would turn it on.
func TestRosettaAuto(t *testing.T) {
	vz := limaHomeWith(t, map[string]string{"override.yaml": "vmType: vz\n"})
	for _, tc := range []struct {
		name string
		h    Host
		g    Guest
		on   bool
		why  string
		fix  string // "" for none
	}{
		{"vz, Rosetta installed", macRosetta, Guest{LimaHome: vz}, true, "vz on Apple silicon with Rosetta installed", ""},
		{"existing vz", macRosetta, Guest{Existing: VZ}, true, "vz on Apple silicon", ""},
		{"not installed", mac14, Guest{Existing: VZ}, false, "Rosetta is not installed", "softwareupdate --install-rosetta"},
		{"Lima chooses QEMU", macRosetta, Guest{VMType: QEMU}, false, `QEMU (vm-type = "qemu")`, `vm-type = "vz"`},
		{"existing QEMU", macRosetta, Guest{Existing: QEMU, LimaHome: vz}, false, "QEMU", "pixi-lima delete"},
		{"linux/amd64", Host{OS: "linux", Arch: "amd64"}, Guest{}, false, "natively", ""},
		{"Intel Mac", Host{OS: "darwin", Arch: "amd64", MacOS: "15.5"}, Guest{}, false, "natively", ""},
		{"linux/arm64", Host{OS: "linux", Arch: "arm64"}, Guest{}, false, "Apple silicon", "tonistiigi/binfmt"},
	} {
		st := RosettaFor(settings.Config{RosettaAuto: true}, tc.h, tc.g)
		if st.On != tc.on || !strings.Contains(st.Why, tc.why) || (tc.fix == "") != (st.Fix == "") || !strings.Contains(st.Fix, tc.fix) {
			t.Errorf("%s: %+v; want on %v, why ~%q, fix ~%q", tc.name, st, tc.on, tc.why, tc.fix)
		}
		c := WithRosetta(settings.Config{RosettaAuto: true}, tc.h, tc.g)
		if c.Rosetta != tc.on || c.RosettaAuto {
			t.Errorf("%s: WithRosetta = rosetta %v, auto %v", tc.name, c.Rosetta, c.RosettaAuto)
		}
	}
	// "auto" never makes a new VM vz: Lima's choice stands.
	home := t.TempDir()
	t.Setenv("LIMA_HOME", home)
	c := WithRosetta(settings.Config{RosettaAuto: true, CPUs: 2, Memory: "2GiB", Disk: "20GiB"}, macRosetta, Guest{VMType: QEMU})
	if expr := CreateExpression(c, "/src/repo"); strings.Contains(expr, ".vmType") || strings.Contains(expr, "rosetta") {
		t.Errorf("auto for a QEMU VM: %s", expr)
	}
	if st := RosettaFor(settings.Config{}, macRosetta, Guest{Existing: VZ}); st.On || !strings.Contains(st.Why, "rosetta = false") {
		t.Errorf("rosetta = false: %+v", st)
	}
}

// TestRosettaAutoDrift: an existing vz VM without Rosetta gets it at its
// next start under "auto", and status says so first; a QEMU VM, or a Mac
// without Rosetta, has no drift.
func TestRosettaAutoDrift(t *testing.T) {
	root := t.TempDir()
	c := settings.Config{RosettaAuto: true}
	m := &Manager{Paths: env.NewPaths(root), Config: c, Stderr: io.Discard}
	vz := vmWith(settings.Mount{Location: root, Writable: true})
	vz.VMType = limayaml.VZ
	d := driftsOn(c, root, macRosetta, vz)
	if len(d) != 1 || d[0].Key != "rosetta" || !d[0].AtStart || !strings.Contains(d[0].Want, `"auto"`) {
		t.Fatalf("vz without Rosetta, auto: drift %+v", d)
	}
	if expr := m.applyOn(macRosetta, vz); expr != rosettaExpression {
		t.Errorf("applyOn = %q", expr)
	}
	if d := driftsOn(c, root, mac14, vz); len(d) != 0 {
		t.Errorf("Rosetta not installed: drift %+v", d)
	}
	qemu := vmWith(settings.Mount{Location: root, Writable: true})
	qemu.VMType = limayaml.QEMU
	if d := driftsOn(c, root, macRosetta, qemu); len(d) != 0 {
		t.Errorf("QEMU VM, auto: drift %+v", d)
	}
}
