package lima

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// originChildVar makes TestWriteOriginChild write an origin into the
// directory it names, under a file size limit smaller than the record.
const originChildVar = "PIXI_LIMA_ORIGIN_CHILD"

// TestWriteOriginFails: a write of the origin that fails half-way (here
// the file size limit; a full disk is the same) leaves the record that was
// there whole, so a later start still knows the instance's template.
func TestWriteOriginFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, originFile)
	before := `{"template":"template://docker"}` + "\n"
	if err := os.WriteFile(file, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteOriginChild$")
	cmd.Env = append(os.Environ(), originChildVar+"="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the write under a 16-byte limit did not fail:\n%s", out)
	}
	if !strings.Contains(string(out), "file too large") {
		t.Fatalf("the write failed, but not for the limit: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(file); string(got) != before {
		t.Errorf("the origin is now %q, want the one before, %q", got, before)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the failed write left %d files, want the origin alone", len(entries))
	}
}

// TestWriteOriginChild is TestWriteOriginFails's child process.
func TestWriteOriginChild(t *testing.T) {
	dir := os.Getenv(originChildVar)
	if dir == "" {
		t.Skip("run by TestWriteOriginFails")
	}
	// Go ignores SIGXFSZ, so a write past the limit returns EFBIG.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16, Max: 16}); err != nil {
		t.Fatal(err)
	}
	if err := writeOrigin(dir, settings.Config{Template: "template://docker-rootful", Image: "/var/cache/images/debian-12.qcow2"}); err != nil {
		t.Fatal(err)
	}
}
