package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRosettaRefusedHere: rosetta = true on this linux/amd64 machine stops
// every command that would create or start the VM, before Lima runs, with
// the one fix; the settings still load, so status works. (What a Mac gets
// is unit-tested in lima/rosetta_test.go with Lima's own code.)
func TestRosettaRefusedHere(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"ro\"\n\n[tool.pixi-lima]\nrosetta = true\n")
	for _, argv := range [][]string{{p.Bin("pixi-lima"), "init"}, {p.Bin("docker"), "ps"}} {
		stdout, stderr, code := p.Run(t, p.Command(argv[0], argv[1:]...))
		wantFail(t, filepath.Base(argv[0]), code, stderr, 3,
			"pixi-lima: rosetta = true needs macOS on Apple silicon with vz (this is linux/amd64)\n",
			"  hint: PIXI_LIMA_ROSETTA=false for this machine, or remove rosetta from [tool.pixi-lima]\n")
		if stdout != "" {
			t.Errorf("%s printed on stdout: %q", argv[0], stdout)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(p.Root, ".pixi", "lima")); len(entries) > 0 {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") && e.Name() != "_config" {
				t.Errorf("a refused start left %s in .pixi/lima", e.Name())
			}
		}
	}
	if st := statusMap(t, p); st["state"] != "Missing" {
		t.Errorf("status with rosetta = true: %v", st)
	}
	stdout, _, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor"))
	if code != 1 || !strings.Contains(stdout, "rosetta: rosetta = true needs macOS on Apple silicon with vz (this is linux/amd64)") {
		t.Errorf("doctor: exit %d\n%s", code, stdout)
	}
}

// TestRosettaAutoHere: without a rosetta setting ("auto"), a linux/amd64
// machine starts nothing differently, and doctor says why Rosetta is off.
func TestRosettaAutoHere(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"ra\"\n")
	stdout, _, _ := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor"))
	want := "ok       rosetta: off (auto): Rosetta is for Apple silicon; this is linux/amd64, whose VM runs linux/amd64 images natively\n"
	if !strings.Contains(stdout, want) {
		t.Errorf("doctor does not say %q:\n%s", want, stdout)
	}
	stdout = p.MustRun(t, p.Command(p.Bin("pixi-lima"), "help", "settings"))
	if !strings.Contains(stdout, "  rosetta     PIXI_LIMA_ROSETTA\n") || !strings.Contains(stdout, `default "auto"`) {
		t.Errorf("help settings does not give rosetta's default \"auto\":\n%s", stdout)
	}
}
