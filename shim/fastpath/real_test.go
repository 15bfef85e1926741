package fastpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// findFixture is a PATH made of real directories holding real files,
// symlinks and hard links, laid out like a project's .pixi next to the
// system's tools.
type findFixture struct {
	t    *testing.T
	base string
	self os.FileInfo // our own executable: base/proj/.pixi/pixi-lima/bin/pixi-lima
}

func newFindFixture(t *testing.T) *findFixture {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &findFixture{t: t, base: base}
	exe := f.file("proj/.pixi/pixi-lima/bin/pixi-lima", 0o755)
	if f.self, err = os.Stat(exe); err != nil {
		t.Fatal(err)
	}
	return f
}

// at is the path of rel in the fixture, with its directory made.
func (f *findFixture) at(rel string) string {
	f.t.Helper()
	path := filepath.Join(f.base, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// file writes an executable (or not, by mode) at rel and returns its path.
func (f *findFixture) file(rel string, mode os.FileMode) string {
	f.t.Helper()
	path := f.at(rel)
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho "+rel+"\n"), mode); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *findFixture) symlink(target, rel string) string {
	f.t.Helper()
	path := f.at(rel)
	if err := os.Symlink(target, path); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *findFixture) hardlink(target, rel string) string {
	f.t.Helper()
	path := f.at(rel)
	if err := os.Link(filepath.Join(f.base, target), path); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *findFixture) path(dirs ...string) string {
	for i, d := range dirs {
		dirs[i] = filepath.Join(f.base, d)
	}
	return strings.Join(dirs, string(filepath.ListSeparator))
}

func (f *findFixture) expect(path, want string) {
	f.t.Helper()
	got, ok := FindReal("docker", path, f.self)
	if want == "" {
		if ok {
			f.t.Errorf("FindReal found %s, want nothing", got)
		}
		return
	}
	if want = filepath.Join(f.base, want); !ok || got != want {
		f.t.Errorf("FindReal = %q, %v; want %s", got, ok, want)
	}
}

func TestFindRealSkipsSelfViaSymlink(t *testing.T) {
	f := newFindFixture(t)
	f.symlink("../pixi-lima/bin/pixi-lima", "proj/.pixi/bin/docker") // how install.sh links it
	f.file("usr/bin/docker", 0o755)
	f.expect(f.path("proj/.pixi/bin", "usr/bin"), "usr/bin/docker")
}

func TestFindRealSkipsSelfViaHardLink(t *testing.T) {
	f := newFindFixture(t)
	// A hard link has no name to resolve: only SameFile can tell.
	f.hardlink("proj/.pixi/pixi-lima/bin/pixi-lima", "copies/docker")
	f.file("usr/bin/docker", 0o755)
	f.expect(f.path("copies", "usr/bin"), "usr/bin/docker")
}

func TestFindRealSkipsSelfViaSymlinkedDirectory(t *testing.T) {
	f := newFindFixture(t)
	f.symlink("../pixi-lima/bin/pixi-lima", "proj/.pixi/bin/docker")
	f.symlink(filepath.Join(f.base, "proj/.pixi/bin"), "shortcut") // a PATH entry that is itself a link
	f.file("usr/bin/docker", 0o755)
	f.expect(f.path("shortcut", "usr/bin"), "usr/bin/docker")
}

func TestFindRealSkipsAnotherRepositorysShim(t *testing.T) {
	f := newFindFixture(t)
	// Another repo's build of pixi-lima: a different file, linked the same way.
	f.file("other/.pixi/pixi-lima/bin/pixi-lima", 0o755)
	f.symlink("../pixi-lima/bin/pixi-lima", "other/.pixi/bin/docker")
	f.symlink("../pixi-lima/bin/pixi-lima", "proj/.pixi/bin/docker")
	f.file("usr/bin/docker", 0o755)
	f.expect(f.path("other/.pixi/bin", "proj/.pixi/bin", "usr/bin"), "usr/bin/docker")
}

func TestFindRealSkipsNonExecutablesAndDirectories(t *testing.T) {
	f := newFindFixture(t)
	f.file("a/docker", 0o644)
	if err := os.MkdirAll(filepath.Join(f.base, "b/docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.symlink(filepath.Join(f.base, "nowhere/docker"), "c/docker") // dangling
	f.file("d/docker", 0o755)
	f.expect(f.path("missing-dir", "a", "b", "c", "d"), "d/docker")
}

func TestFindRealFirstRealOneWins(t *testing.T) {
	f := newFindFixture(t)
	f.file("first/docker", 0o755)
	f.file("second/docker", 0o755)
	f.expect(f.path("first", "second"), "first/docker")
	// A symlink to a real docker is a real docker (Homebrew, Docker Desktop).
	f.symlink(filepath.Join(f.base, "second/docker"), "linked/docker")
	f.expect(f.path("linked", "first"), "linked/docker")
}

func TestFindRealOnlySelf(t *testing.T) {
	f := newFindFixture(t)
	f.symlink("../pixi-lima/bin/pixi-lima", "proj/.pixi/bin/docker")
	f.hardlink("proj/.pixi/pixi-lima/bin/pixi-lima", "copies/docker")
	f.expect(f.path("proj/.pixi/bin", "copies"), "")
	f.expect("", "")
}

func TestFindRealEmptyEntryIsCwd(t *testing.T) {
	f := newFindFixture(t)
	f.file("cwd/docker", 0o755)
	t.Chdir(filepath.Join(f.base, "cwd"))
	// POSIX: an empty PATH entry is the current directory.
	got, ok := FindReal("docker", string(filepath.ListSeparator)+f.path("nothing"), f.self)
	if !ok || got != "docker" {
		t.Errorf("FindReal = %q, %v; want docker in the current directory", got, ok)
	}
}
