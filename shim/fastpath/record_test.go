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
