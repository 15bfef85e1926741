package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/lima"
)

// The engine settings without a VM, each with what its delete --force
// returns when there is no VM of the project on disk.
var withoutVM = []struct {
	setting string
	remove  int
}{
	{`engine = "host"`, 0},
	{`engine = "ssh://dev@build.example:2222"`, ExitRefused},
}

// leftoverProject is a workspace "e" with the setting, and a session whose
// stdout and stderr the test reads. Its PATH is empty: the ssh engine
// fails at once to find ssh, and never reaches a network.
func leftoverProject(t *testing.T, setting string) (*session, *project, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	manifest := "[workspace]\nname = \"e\"\n[tool.pixi-lima]\n" + setting + "\n"
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	s := &session{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"PIXI_PROJECT_ROOT": root}[k]
	}}
	p, err := s.loadProject()
	if err != nil {
		t.Fatal(err)
	}
	if p.config.Name != "e-docker" {
		t.Fatalf("%s: instance name %q, want the VM engine's e-docker", setting, p.config.Name)
	}
	return s, p, &stdout, &stderr
}

// makeLeftover makes the instance directory engine = "lima" left: a
// lima.yaml Lima's pkg/store reads as a Stopped VM, and a 1 MiB disk.
// Without lima.yaml it is a damaged one.
func makeLeftover(t *testing.T, p *project, yaml bool) string {
	t.Helper()
	dir := p.paths.InstanceDir(p.config.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if yaml {
		if err := os.WriteFile(filepath.Join(dir, "lima.yaml"), []byte("images:\n- location: /img.raw\nvmType: qemu\ncpus: 1\nmemory: 1GiB\ndisk: 3GiB\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "diffdisk"), bytes.Repeat([]byte{1}, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLeftoverVMStatus: status, as text and JSON, names the VM an earlier
// engine = "lima" left, with its state, its size on the host, and the
// command that removes it; and says nothing of one when there is none.
func TestLeftoverVMStatus(t *testing.T) {
	for _, tc := range withoutVM {
		s, p, stdout, _ := leftoverProject(t, tc.setting)
		if err := s.cmdStatus([]string{"--json"}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout.String(), "leftover") {
			t.Errorf("%s: status --json names a leftover VM where there is none:\n%s", tc.setting, stdout)
		}
		stdout.Reset()
		if err := s.cmdStatus(nil); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout.String(), "leftover") {
			t.Errorf("%s: status names a leftover VM where there is none:\n%s", tc.setting, stdout)
		}
		if _, err := os.Stat(p.paths.LimaHome); err == nil {
			t.Errorf("%s: status made a LIMA_HOME", tc.setting)
		}

		dir := makeLeftover(t, p, true)
		size := lima.DiskUsage(dir)
		stdout.Reset()
		if err := s.cmdStatus([]string{"--json"}); err != nil {
			t.Fatal(err)
		}
		var st struct {
			Leftover *struct {
				Name, State, Dir, Remove string
				DiskUsed                 int64 `json:"diskUsedBytes"`
			} `json:"leftoverVM"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
			t.Fatalf("%s: %v\n%s", tc.setting, err, stdout)
		}
		if l := st.Leftover; l == nil || l.Name != "e-docker" || l.State != lima.Stopped || l.Dir != dir ||
			l.DiskUsed != size || size < 1<<20 || !strings.Contains(l.Remove, "pixi-lima delete --force") {
			t.Errorf("%s: status --json leftoverVM = %+v, want e-docker Stopped in %s, %d bytes, removed by pixi-lima delete --force\n%s",
				tc.setting, l, dir, size, stdout)
		}
		stdout.Reset()
		if err := s.cmdStatus(nil); err != nil {
			t.Fatal(err)
		}
		text := stdout.String()
		for _, want := range []string{`leftover:  VM "e-docker"`, "Stopped", units.BytesSize(float64(size)) + " on the host", dir, "pixi-lima delete --force"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: status lacks %q:\n%s", tc.setting, want, text)
			}
		}
	}
}

// TestLeftoverVMDoctor: doctor warns of the VM an earlier engine = "lima"
// left, with its size and how to remove it; with none, it says so.
func TestLeftoverVMDoctor(t *testing.T) {
	for _, tc := range withoutVM {
		s, p, _, _ := leftoverProject(t, tc.setting)
		find := func() *check {
			for _, c := range s.doctor() {
				if c.Name == "leftover-vm" {
					return &c
				}
			}
			return nil
		}
		if c := find(); c == nil || !c.OK || c.Warning {
			t.Errorf("%s: doctor without a leftover VM: %+v, want an ok leftover-vm check", tc.setting, c)
		}
		if _, err := os.Stat(p.paths.LimaHome); err == nil {
			t.Errorf("%s: doctor made a LIMA_HOME", tc.setting)
		}
		dir := makeLeftover(t, p, true)
		size := units.BytesSize(float64(lima.DiskUsage(dir)))
		c := find()
		if c == nil || !c.OK || !c.Warning || !strings.Contains(c.Detail, `VM "e-docker"`) || !strings.Contains(c.Detail, "Stopped") ||
			!strings.Contains(c.Detail, size) || !strings.Contains(c.Fix, "pixi-lima delete --force") {
			t.Errorf("%s: doctor's leftover-vm = %+v, want a warning naming e-docker, Stopped, %s, and pixi-lima delete --force", tc.setting, c, size)
		}
	}
}

// TestLeftoverVMStop: stop and restart speak of the leftover VM, which is
// stopped already, rather than of no VM; neither starts it.
func TestLeftoverVMStop(t *testing.T) {
	for _, tc := range withoutVM {
		_, p, _, stderr := leftoverProject(t, tc.setting)
		makeLeftover(t, p, true)
		for name, run := range map[string]func() error{"stop": func() error { return p.engine.stop(false) }, "restart": p.engine.restart} {
			stderr.Reset()
			if err := run(); err != nil {
				t.Errorf("%s: %s = %v", tc.setting, name, err)
			}
			if said := stderr.String(); strings.Contains(said, "no VM to manage") || !strings.Contains(said, `VM "e-docker"`) || !strings.Contains(said, "already stopped") {
				t.Errorf("%s: %s said %q, want that VM \"e-docker\" is already stopped", tc.setting, name, said)
			}
		}
	}
}

// TestLeftoverVMDelete: delete of a leftover VM (damaged here, which
// needs no limactl) asks as the VM engine's does and refuses without a
// terminal; --force removes it. ssh's delete removes only the local VM and
// says the remote engine is untouched.
func TestLeftoverVMDelete(t *testing.T) {
	for _, tc := range withoutVM {
		_, p, _, stderr := leftoverProject(t, tc.setting)
		dir := makeLeftover(t, p, false)
		var e *Error
		if err := p.engine.remove(false); !errors.As(err, &e) || e.Code != ExitRefused || !strings.Contains(e.Msg, `not deleting VM "e-docker"`) {
			t.Errorf("%s: delete = %v, want it refused without a terminal", tc.setting, err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("%s: the refused delete removed the VM: %v", tc.setting, err)
		}
		stderr.Reset()
		if err := p.engine.remove(true); err != nil {
			t.Errorf("%s: delete --force = %v", tc.setting, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: delete --force left %s: %v", tc.setting, dir, err)
		}
		if tc.remove != 0 && !strings.Contains(stderr.String(), "nothing on ssh://dev@build.example:2222") {
			t.Errorf("%s: delete --force said %q, not that the remote engine is untouched", tc.setting, stderr)
		}
		// Nothing left: as before there was one.
		err := p.engine.remove(true)
		if tc.remove == 0 && err != nil || tc.remove != 0 && (!errors.As(err, &e) || e.Code != tc.remove) {
			t.Errorf("%s: delete --force with the VM gone = %v, want exit %d", tc.setting, err, tc.remove)
		}
	}
}
