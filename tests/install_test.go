package tests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInstallNoop runs install.sh a second time in an installed project:
// it must change nothing under .pixi (a rebuild racing a `limactl create`
// in another terminal would pull Lima's templates from under it) and say
// nothing.
func TestInstallNoop(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"noop\"\n")
	before := snapshotTree(t, filepath.Join(p.Root, ".pixi"))
	begin := time.Now()
	stdout, stderr, code := p.Run(t, p.Command(filepath.Join(s.Src, "install.sh"), p.Root))
	t.Logf("the no-op install took %s", time.Since(begin).Round(time.Millisecond))
	if code != 0 || stdout+stderr != "" {
		t.Errorf("second install.sh: exit %d, want 0 and no output; it said:\n%s%s", code, stdout, stderr)
	}
	sameTree(t, before, snapshotTree(t, filepath.Join(p.Root, ".pixi")))
}

// TestInstallPyproject: install.sh accepts a workspace whose manifest is a
// pyproject.toml with a pixi workspace table, and refuses one without (a
// plain Python project); the installed shim then finds that workspace.
func TestInstallPyproject(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"ignored\"\n")
	must(t, os.Remove(filepath.Join(p.Root, "pixi.toml")))
	writeAsUser := func(text string) {
		t.Helper()
		path := filepath.Join(p.Root, "pyproject.toml")
		must(t, os.WriteFile(path, []byte(text), 0o644))
		must(t, os.Chown(path, s.UID, s.GID))
	}
	install := filepath.Join(s.Src, "install.sh")

	writeAsUser("[project]\nname = \"plain\"\n\n[tool.pixi-lima]\ncpus = 4\n")
	_, stderr, code := p.Run(t, p.Command(install, p.Root))
	if code != 3 || !strings.Contains(stderr, "has no pixi.toml, nor a pyproject.toml with [tool.pixi.workspace]") {
		t.Errorf("install.sh in a plain Python project: exit %d, want 3 naming both manifests:\n%s", code, stderr)
	}

	writeAsUser("[project]\nname = \"py-lib\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n")
	p.MustRun(t, p.Command(install, p.Root))
	if st := statusMap(t, p); st["instance"] != "py-lib-docker" || st["root"] != p.Root || st["state"] != "Missing" {
		t.Errorf("status in the pyproject workspace: %v; want instance py-lib-docker (the Python project's name), root %s", st, p.Root)
	}
}

// entry is what a re-run could change about one path: its identity (a
// rewritten file gets a new inode, though a copy made right after a delete
// may reuse it), its time, size and mode, and where a symlink points.
type entry struct {
	ino   uint64
	mtime time.Time
	size  int64
	mode  fs.FileMode
	link  string
}

func (e entry) String() string {
	s := fmt.Sprintf("inode %d, mtime %s, %d bytes, %v", e.ino, e.mtime.Format("15:04:05.000000000"), e.size, e.mode)
	if e.link != "" {
		s += " → " + e.link
	}
	return s
}

// snapshotTree records every entry under root by its path relative to
// root, symlinks as themselves.
func snapshotTree(t testing.TB, root string) map[string]entry {
	t.Helper()
	snap := map[string]entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		e := entry{mtime: info.ModTime(), size: info.Size(), mode: info.Mode()}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.ino = st.Ino
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(root, path)
		snap[rel] = e
		return nil
	})
	must(t, err)
	return snap
}

// treeDiff lists, sorted, every entry added, removed or changed between
// two snapshots.
func treeDiff[E comparable](before, after map[string]E) []string {
	var diffs []string
	for path, b := range before {
		if a, ok := after[path]; !ok {
			diffs = append(diffs, "removed "+path)
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed %s:\n    %v\n  → %v", path, b, a))
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			diffs = append(diffs, "added "+path)
		}
	}
	slices.Sort(diffs)
	return diffs
}

// sameTree reports every entry added, removed or changed between two snapshots.
func sameTree(t testing.TB, before, after map[string]entry) {
	t.Helper()
	if diffs := treeDiff(before, after); len(diffs) > 0 {
		if n := len(diffs); n > 8 {
			diffs = append(diffs[:8], fmt.Sprintf("… and %d more", n-8))
		}
		t.Errorf("install.sh with nothing to do changed .pixi:\n%s", strings.Join(diffs, "\n"))
	}
}
