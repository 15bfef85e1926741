package shim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeChildVar makes TestWriteKeepingModeChild rewrite the manifest it
// names, under a file size limit smaller than the new manifest.
const writeChildVar = "PIXI_LIMA_WRITE_CHILD"

// TestWriteKeepingModeFails: a rewrite of the manifest that fails half-way
// (the file size limit here; a full disk is the same) leaves the user's
// pixi.toml as it was, with its mode, and no temporary file beside it.
func TestWriteKeepingModeFails(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "pixi.toml")
	before := "[workspace]\nname = \"w\"\n"
	if err := os.WriteFile(manifest, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(manifest, 0o640))
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteKeepingModeChild$")
	cmd.Env = append(os.Environ(), writeChildVar+"="+manifest)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "file too large") {
		t.Fatalf("the write under a 16-byte limit: %v, want it to fail for the limit\n%s", err, out)
	}
	info, err := os.Stat(manifest)
	must(err)
	if got, _ := os.ReadFile(manifest); string(got) != before || info.Mode().Perm() != 0o640 {
		t.Errorf("pixi.toml is now %q, mode %v; want %q, mode 0640", got, info.Mode().Perm(), before)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 {
		t.Errorf("the failed write left %v, want pixi.toml alone", names)
	}
}

// TestWriteKeepingModeChild is TestWriteKeepingModeFails's child process.
func TestWriteKeepingModeChild(t *testing.T) {
	manifest := os.Getenv(writeChildVar)
	if manifest == "" {
		t.Skip("run by TestWriteKeepingModeFails")
	}
	// Go ignores SIGXFSZ, so a write past the limit returns EFBIG.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16, Max: 16}); err != nil {
		t.Fatal(err)
	}
	data := "[workspace]\nname = \"w\"\n\n[feature.pixi-lima.dependencies]\ndocker-cli = \"*\"\n"
	if err := writeKeepingMode(manifest, []byte(data)); err != nil {
		t.Fatal(err)
	}
}
