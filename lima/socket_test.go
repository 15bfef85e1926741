package lima

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/yqutil"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// dockerVM is an instance created from Lima's docker template of the mode.
func dockerVM(root string, rootful bool) *store.Instance {
	inst := vmWith(settings.Mount{Location: root, Writable: true})
	sock := "/run/user/{{.UID}}/docker.sock"
	if rootful {
		sock = "/var/run/docker.sock"
	}
	inst.Config.PortForwards = []limayaml.PortForward{{GuestSocket: sock, HostSocket: "{{.Dir}}/sock/docker.sock"}}
	return inst
}

// TestRootfulDrift: a changed rootful is one drift, only a new VM has it,
// and the default template that changes with it is not a second one.
func TestRootfulDrift(t *testing.T) {
	root := t.TempDir()
	inst := dockerVM(root, false)
	inst.Dir = t.TempDir()
	if err := writeOrigin(inst.Dir, settings.Config{Template: settings.DefaultTemplate}); err != nil {
		t.Fatal(err)
	}
	c := settings.Config{Rootful: true, Template: settings.RootfulTemplate}
	d := drifts(c, root, "linux", "amd64", inst)
	if len(d) != 1 || d[0].Key != "rootful" || d[0].AtStart || !strings.Contains(d[0].String(), "pixi-lima delete, then pixi-lima init") {
		t.Errorf("rootless VM, rootful = true: drift %+v", d)
	}
	if d := drifts(settings.Config{Template: settings.DefaultTemplate}, root, "linux", "amd64", inst); len(d) != 0 {
		t.Errorf("rootless VM, rootless project: drift %+v", d)
	}
	// A template that forwards no docker socket has no mode to compare.
	if d := drifts(c, root, "linux", "amd64", vmWith(settings.Mount{Location: root, Writable: true})); len(d) != 0 {
		t.Errorf("no docker socket forwarded: drift %+v", d)
	}
}

// TestSocketLinkApplied: a rootless VM without the link gets it at its next
// start, once; a rootful one never does. The script reaches lima.yaml as
// written (yq's strings are not JSON's).
func TestSocketLinkApplied(t *testing.T) {
	root := t.TempDir()
	m := &Manager{Paths: env.NewPaths(root), Config: settings.Config{}, Stderr: io.Discard}
	rootless := dockerVM(root, false)
	expr := m.applyExpression("linux", "amd64", rootless)
	if expr != socketExpression() {
		t.Fatalf("rootless VM without the link: applyExpression = %q", expr)
	}
	y := setOnTemplate(t, expr)
	if len(y.Provision) != 2 || y.Provision[1].Script != socketProvision()["script"] {
		t.Fatalf("after --set: %+v", y.Provision)
	}
	rootless.Config.Provision = append(rootless.Config.Provision, y.Provision...)
	if expr := m.applyExpression("linux", "amd64", rootless); expr != "" {
		t.Errorf("rootless VM with the link: applyExpression = %q", expr)
	}
	m.Config.Rootful = true
	if expr := m.applyExpression("linux", "amd64", dockerVM(root, true)); expr != "" {
		t.Errorf("rootful VM: applyExpression = %q", expr)
	}
}

// TestDockerModeOfLimasTemplates reads the socket each of Lima's own docker
// templates forwards, from the pinned module.
func TestDockerModeOfLimasTemplates(t *testing.T) {
	dir := limaTemplatesDir(t)
	for name, want := range map[string]bool{"docker.yaml": false, "docker-rootful.yaml": true} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var y limayaml.LimaYAML
		if err := limayaml.Unmarshal(b, &y, name); err != nil {
			t.Fatal(err)
		}
		if rootful, known := dockerMode(&store.Instance{Config: &y}); !known || rootful != want {
			t.Errorf("%s: rootful %v (known %v), want %v", name, rootful, known, want)
		}
	}
}

// limaTemplatesDir is the templates directory of the pinned Lima module.
func limaTemplatesDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/lima-vm/lima").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/lima-vm/lima: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "templates")
}

// setOnTemplate is what `limactl start --set expr` makes of a template
// with a provision script of its own (cmd/limactl/start.go
// applyYQExpressionToExistingInstance): scripts reach lima.yaml as
// written, yq's strings not being JSON's.
func setOnTemplate(t *testing.T, expr string) limayaml.LimaYAML {
	t.Helper()
	out, err := yqutil.EvaluateExpression(expr, []byte("provision:\n- mode: user\n  script: |\n    #!/bin/sh\n    echo template's own\n"))
	if err != nil {
		t.Fatal(err)
	}
	var y limayaml.LimaYAML
	if err := limayaml.Unmarshal(out, &y, "lima.yaml"); err != nil {
		t.Fatal(err)
	}
	return y
}
