package shim

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The engine setting picks the implementation once, as the project loads,
// and each engine without a VM answers the VM's commands on its own terms.
func TestEngineChosenOnce(t *testing.T) {
	for _, tc := range []struct {
		setting string
		want    engine
		remove  int // delete's exit code: 0 for nothing to do, ExitRefused when it must not pretend
	}{
		{"", vmEngine{}, -1},
		{`engine = "host"`, hostEngine{}, 0},
		{`engine = "ssh://dev@build.example:2222"`, sshEngine{}, ExitRefused},
	} {
		root := t.TempDir()
		manifest := "[workspace]\nname = \"e\"\n[tool.pixi-lima]\n" + tc.setting + "\n"
		if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		s := &session{stdout: io.Discard, stderr: &stderr, getenv: func(k string) string {
			return map[string]string{"PIXI_PROJECT_ROOT": root}[k]
		}}
		p, err := s.loadProject()
		if err != nil {
			t.Fatal(err)
		}
		if got := reflect.TypeOf(p.engine); got != reflect.TypeOf(tc.want) {
			t.Errorf("%q: engine %v, want %v", tc.setting, got, reflect.TypeOf(tc.want))
			continue
		}
		if tc.remove < 0 {
			continue // the VM's commands need limactl: the VM test runs them
		}
		var e *Error
		said := stderr.String()
		err = p.engine.remove(true)
		if tc.remove == 0 && err != nil || tc.remove != 0 && (!errors.As(err, &e) || e.Code != tc.remove) {
			t.Errorf("%q: delete --force = %v, want exit %d", tc.setting, err, tc.remove)
		}
		if err != nil {
			said += err.Error()
		} else {
			said = stderr.String()
		}
		if !strings.Contains(said, "no VM") {
			t.Errorf("%q: delete said %q, not that there is no VM", tc.setting, said)
		}
		if err := p.engine.prune(false, true); !errors.As(err, &e) || e.Code != ExitUsage {
			t.Errorf("%q: prune = %v, want a usage error", tc.setting, err)
		}
		if _, err := os.Stat(filepath.Join(root, ".pixi", "lima")); err == nil {
			t.Errorf("%q: a LIMA_HOME was made for an engine without a VM", tc.setting)
		}
	}
	if len(engines) != len([]string{settings.EngineLima, settings.EngineHost, settings.EngineSSH}) {
		t.Errorf("engines registers %d kinds", len(engines))
	}
}
