package lima

import (
	"io"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// TestPortTickApplied: every new VM gets the port tick, and a VM made
// before it gets it at its next start, once. tests/vm_test.go proves that
// the guest agent runs with it and what it does to a published port.
func TestPortTickApplied(t *testing.T) {
	root := t.TempDir()
	m := &Manager{Paths: env.NewPaths(root), Config: settings.Config{}, Stderr: io.Discard}
	old := vmWith(settings.Mount{Location: root, Writable: true})
	old.Config.Provision = nil
	expr := m.applyExpression("linux", "amd64", old)
	if expr != portsExpression() {
		t.Fatalf("VM without the tick: applyExpression = %q", expr)
	}
	y := setOnTemplate(t, expr)
	if len(y.Provision) != 2 || y.Provision[1].Script != portsProvision()["script"] {
		t.Fatalf("after --set: %+v", y.Provision)
	}
	old.Config.Provision = y.Provision
	if expr := m.applyExpression("linux", "amd64", old); expr != "" {
		t.Errorf("VM with the tick: applyExpression = %q", expr)
	}
	for _, rootful := range []bool{false, true} {
		if expr := CreateExpression(settings.Config{Rootful: rootful}, root); !strings.Contains(expr, portsExpression()) {
			t.Errorf("rootful %v: CreateExpression has no port tick: %s", rootful, expr)
		}
	}
}
