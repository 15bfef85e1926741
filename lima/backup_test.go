package lima

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
)

// TestBackupExcludeValue: the value is the 61-byte binary property list
// tmutil addexclusion writes (`xattr -px
// com.apple.metadata:com_apple_backup_excludeItem` on an excluded item).
func TestBackupExcludeValue(t *testing.T) {
	want := []byte{
		0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0x5f, 0x10, 0x11, 0x63, 0x6f, 0x6d, 0x2e, 0x61,
		0x70, 0x70, 0x6c, 0x65, 0x2e, 0x62, 0x61, 0x63, 0x6b, 0x75, 0x70, 0x64, 0x08, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1c,
	}
	if got := backupExcludeValue(); !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
}

// TestBackupDirs: besides the VM, Time Machine skips what the project can
// make again: Lima's image cache (macOS's, under the project's own HOME),
// Go's caches and the built binaries; a directory that is missing, or a
// symlink (a shared image-cache, the user's own), is left alone.
func TestBackupDirs(t *testing.T) {
	root := t.TempDir()
	p := env.NewPaths(root)
	inst := p.InstanceDir("x-docker")
	goDir, bin, share := filepath.Join(p.Prefix, "go"), filepath.Join(p.Prefix, "bin"), filepath.Join(p.Prefix, "share")
	for _, d := range []string{inst, p.LimaCache("darwin"), goDir, bin, share} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{inst, p.LimaCache("darwin"), goDir, bin, share}
	if got := backupDirs(inst); !slices.Equal(got, want) {
		t.Errorf("backupDirs:\n got %q\nwant %q", got, want)
	}
	shared := t.TempDir()
	if err := os.Remove(p.LimaCache("darwin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, p.LimaCache("darwin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(goDir); err != nil {
		t.Fatal(err)
	}
	want = []string{inst, bin, share}
	if got := backupDirs(inst); !slices.Equal(got, want) {
		t.Errorf("with a shared cache and no Go caches:\n got %q\nwant %q", got, want)
	}
}
