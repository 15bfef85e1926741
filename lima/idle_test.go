package lima

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/yqutil"
)

// TestIdleExpression applies the idle watcher's expression with Lima's own
// yq to a lima.yaml that has provision scripts of its own: they stay, ours
// is there once, a new limit replaces it, and "off" removes it.
func TestIdleExpression(t *testing.T) {
	yaml := []byte("provision:\n- mode: system\n  script: |\n    #!/bin/sh\n    echo template's own\n")
	limitOf := func(b []byte) (time.Duration, int) {
		y, err := limayaml.Load(b, "lima.yaml")
		if err != nil {
			t.Fatalf("Lima cannot load the result: %v\n%s", err, b)
		}
		return vmIdleStop(&store.Instance{Config: y}), len(y.Provision)
	}
	for _, step := range []struct {
		limit time.Duration
		n     int // provision scripts after it
	}{{15 * time.Minute, 2}, {15 * time.Minute, 2}, {time.Minute, 2}, {0, 1}} {
		out, err := yqutil.EvaluateExpression(idleExpression(step.limit, "/p"), yaml)
		if err != nil {
			t.Fatal(err)
		}
		got, n := limitOf(out)
		if got != step.limit || n != step.n || !strings.Contains(string(out), "template's own") {
			t.Errorf("limit %s: the VM would have %s with %d scripts, want %d:\n%s", step.limit, got, n, step.n, out)
		}
		yaml = out
	}
}

// TestIdleStopped reads the guest's line from Lima's console log.
func TestIdleStopped(t *testing.T) {
	dir := t.TempDir()
	if _, ok := IdleStopped(dir); ok {
		t.Error("no log: reported an idle stop")
	}
	log := "[  OK  ] Started ssh.service\n[ 1234.5] pixi-lima: idle-stop at 2026-12-01T21:40:05Z: no container and no docker client for 60s; powering off\n[  OK  ] Stopped …\n"
	if err := os.WriteFile(filepath.Join(dir, "serial.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	at, ok := IdleStopped(dir)
	if want := time.Date(2026, 12, 1, 21, 40, 5, 0, time.UTC); !ok || !at.Equal(want) {
		t.Errorf("IdleStopped = %v, %v; want %v", at, ok, want)
	}
}

// TestIdleScriptSurvivesYAML: the script Lima stores is byte for byte the
// one written here (yq's string literals are not JSON's).
func TestIdleScriptSurvivesYAML(t *testing.T) {
	out, err := yqutil.EvaluateExpression(idleExpression(time.Minute, "/p"), []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := limayaml.Load(out, "lima.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := idleProvision(time.Minute, "/p")["script"]; len(y.Provision) != 1 || y.Provision[0].Script != want {
		t.Errorf("the stored script differs:\n%s\nwant:\n%s", y.Provision[0].Script, want)
	}
}
