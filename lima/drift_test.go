package lima

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// drifts is driftsOn on a host of goos/goarch without Rosetta installed.
func drifts(c settings.Config, root, goos, goarch string, inst *store.Instance) []Drift {
	return driftsOn(c, root, Host{OS: goos, Arch: goarch}, inst)
}

// applyExpression is applyOn on a host of goos/goarch without Rosetta installed.
func (m *Manager) applyExpression(goos, goarch string, inst *store.Instance) string {
	return m.applyOn(Host{OS: goos, Arch: goarch}, inst)
}

// vmWith is an instance whose lima.yaml has these mounts, as Lima fills
// them in (mount point = location).
func vmWith(mounts ...settings.Mount) *store.Instance {
	y := &limayaml.LimaYAML{}
	for _, m := range mounts {
		loc, w := m.Location, m.Writable
		y.Mounts = append(y.Mounts, limayaml.Mount{Location: loc, MountPoint: &loc, Writable: &w})
	}
	// As this version creates a VM: with the port tick.
	y.Provision = []limayaml.Provision{{Mode: limayaml.ProvisionModeSystem, Script: portsProvision()["script"]}}
	return &store.Instance{Config: y}
}

// TestAliasMounts: a path the project is reached by becomes
// a mount at the next start, stays while it leads to the project, and
// goes once it does not.
func TestAliasMounts(t *testing.T) {
	dir := t.TempDir()
	root, alias := filepath.Join(dir, "repo"), filepath.Join(dir, "link")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	c := settings.Config{RootAliases: []string{alias}}
	plain := vmWith(settings.Mount{Location: root, Writable: true})
	if d := Drifts(c, root, plain); len(d) != 1 || d[0].Key != "mounts" || !d[0].AtStart {
		t.Fatalf("a new alias: drift %+v", d)
	}
	m := &Manager{Paths: env.NewPaths(root), Config: c, Stderr: io.Discard}
	if expr := m.ApplyExpression(plain); !strings.Contains(expr, `{"location":"`+alias+`","writable":true}`) {
		t.Errorf("the next start does not mount the alias: %s", expr)
	}
	if got := MissingAliases(c, root, plain); len(got) != 1 || got[0] != alias {
		t.Errorf("MissingAliases = %v", got)
	}
	both := vmWith(settings.Mount{Location: root, Writable: true}, settings.Mount{Location: alias, Writable: true})
	for _, cfg := range []settings.Config{c, {}} { // from the alias, and from the resolved path
		if d := Drifts(cfg, root, both); len(d) != 0 {
			t.Errorf("aliases %v, VM mounts both: drift %+v", cfg.RootAliases, d)
		}
	}
	if got := MountedRoots(root, both); len(got) != 2 || got[1] != alias {
		t.Errorf("MountedRoots = %v", got)
	}
	if err := os.Remove(alias); err != nil {
		t.Fatal(err)
	}
	if d := Drifts(settings.Config{}, root, both); len(d) != 1 || strings.Contains(d[0].Want, alias) {
		t.Errorf("a symlink gone: drift %+v, want the alias dropped", d)
	}
}
