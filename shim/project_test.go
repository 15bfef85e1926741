package shim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The note that a deep project's VM gets the short name goes to the
// session's stderr, and nothing to the process's own.
func TestLoadProjectNoteOnSessionStderr(t *testing.T) {
	base, err := os.MkdirTemp("/tmp", "n")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	long := settings.InstanceName("company-platform")
	pad := env.MaxRootLength(long, runtime.GOOS) - len(base)
	if pad < 1 {
		t.Skipf("temporary directory %s too long", base)
	}
	root := filepath.Join(base, strings.Repeat("p", pad))
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte("[workspace]\nname = \"company-platform\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	s := &session{stdout: io.Discard, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"PIXI_PROJECT_ROOT": root}[k]
	}}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	p, err := s.loadProject()
	os.Stderr = saved
	w.Close()
	leaked, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.config.Name != settings.ShortName || len(leaked) != 0 {
		t.Errorf("name %q, os.Stderr %q; want %q and nothing", p.config.Name, leaked, settings.ShortName)
	}
	want := `pixi-lima: the VM is named "docker", not "company-platform-docker": `
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, want) {
		t.Errorf("session's stderr %q, want one line starting %q", got, want)
	}
}
