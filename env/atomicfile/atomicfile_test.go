package atomicfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	must(t, os.WriteFile(path, []byte("old"), 0o644))
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	must(t, WriteFile(path, []byte("new"), 0o664))
	info, err := os.Stat(path)
	must(t, err)
	if got, _ := os.ReadFile(path); string(got) != "new" || info.Mode().Perm() != 0o664 {
		t.Errorf("content %q, mode %v; want \"new\", 0664 whatever the umask", got, info.Mode().Perm())
	}
	assertAlone(t, dir, "config.json")
}

// TestWriteFileFails: a write that cannot finish leaves the file as it was
// and no temporary file.
func TestWriteFileFails(t *testing.T) {
	t.Run("rename", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "taken")
		must(t, os.MkdirAll(filepath.Join(target, "sub"), 0o755))
		if err := WriteFile(target, []byte("x"), 0o644); err == nil {
			t.Error("a rename over a directory succeeded")
		}
		assertAlone(t, dir, "taken")
	})
	t.Run("half-way", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "origin.json")
		must(t, os.WriteFile(path, []byte("whole\n"), 0o644))
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileChild$")
		cmd.Env = append(os.Environ(), childVar+"="+path)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "file too large") {
			t.Fatalf("the write under a 16-byte limit: %v, want it to fail for the limit\n%s", err, out)
		}
		if got, _ := os.ReadFile(path); string(got) != "whole\n" {
			t.Errorf("the file is now %q, want it whole", got)
		}
		assertAlone(t, dir, "origin.json")
	})
}

// childVar makes TestWriteFileChild write to the file it names under a
// file size limit smaller than the data.
const childVar = "PIXI_LIMA_ATOMICFILE_CHILD"

// TestWriteFileChild is TestWriteFileFails's child process.
func TestWriteFileChild(t *testing.T) {
	path := os.Getenv(childVar)
	if path == "" {
		t.Skip("run by TestWriteFileFails")
	}
	// Go ignores SIGXFSZ, so a write past the limit returns EFBIG.
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16, Max: 16}))
	must(t, WriteFile(path, []byte(strings.Repeat("new content ", 8)), 0o644))
}

func assertAlone(t *testing.T, dir, name string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want %s alone", dir, names, name)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
