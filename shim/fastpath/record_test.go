package fastpath

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
)

// TestKeyPyproject: in a pyproject.toml workspace the record is keyed by
// pyproject.toml, the manifest the full path read its settings from, and
// a pixi.toml appearing next to it (which then wins) changes the key.
func TestKeyPyproject(t *testing.T) {
	f := newFixture(t)
	pixi, py := filepath.Join(f.root, "pixi.toml"), filepath.Join(f.root, "pyproject.toml")
	must(t, os.Remove(pixi))
	must(t, os.WriteFile(py, []byte("[tool.pixi.workspace]\n[tool.pixi-lima]\ncpus = 4\n"), 0o644))
	sameManifest(t, f.root)
	k0 := mustKey(t, f, nil)

	later := time.Now().Add(time.Second)
	must(t, os.Chtimes(py, later, later))
	k1 := mustKey(t, f, nil)
	if k1 == k0 {
		t.Error("pyproject.toml edited: the key did not change")
	}
	must(t, os.WriteFile(pixi, []byte("[workspace]\nname = \"fp\"\n"), 0o644))
	sameManifest(t, f.root)
	if mustKey(t, f, nil) == k1 {
		t.Error("a pixi.toml added next to pyproject.toml: the key did not change")
	}
}

// sameManifest checks that the fast path stats the file env.ManifestPath
// names for root.
func sameManifest(t *testing.T, root string) {
	t.Helper()
	got, err := manifest(root)
	must(t, err)
	want, err := os.Stat(env.ManifestPath(root))
	must(t, err)
	if !os.SameFile(got, want) {
		t.Errorf("the fast path keys on %s, env.ManifestPath says %s", got.Name(), want.Name())
	}
}

// TestReaches: a call from a symlinked path to the project that the VM
// does not mount takes the full path (which warns); one from a mounted
// path, or from outside the project, stays fast (issue 10.9).
func TestReaches(t *testing.T) {
	dir := t.TempDir()
	root := dir + "/repo"
	alias := dir + "/link"
	if err := os.MkdirAll(root+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	vm := Record{Socket: "/s", Mounted: []string{root}}
	both := Record{Socket: "/s", Mounted: []string{root, alias}}
	host := Record{}
	for _, c := range []struct {
		rec  Record
		pwd  string
		want bool
	}{
		{vm, root, true},
		{vm, root + "/sub", true},
		{vm, alias, false},
		{vm, alias + "/sub", false},
		{vm, dir, true}, // outside the project
		{vm, "/", true},
		{vm, "", true}, // no $PWD to go by
		{vm, root + "x", true},
		{both, alias + "/sub", true},
		{host, alias + "/sub", true}, // the host's engine sees the host's paths
	} {
		if got := c.rec.reaches(c.pwd, root); got != c.want {
			t.Errorf("mounted %v, PWD %q: reaches = %v, want %v", c.rec.Mounted, c.pwd, got, c.want)
		}
	}
	// Mounted survives the record's round trip.
	data, ok := both.encode("k")
	got, ok2 := decode(data, "k")
	if !ok || !ok2 || len(got.Mounted) != 2 || got.Mounted[1] != alias {
		t.Errorf("round trip: %+v", got)
	}
}
