package lima

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// TestCreateExpression checks the yq expression's text; tests/limactl_test.go
// feeds it to the real limactl.
func TestCreateExpression(t *testing.T) {
	c := settings.Config{CPUs: 3, Memory: "3GiB", Disk: "9GiB", Mounts: []settings.Mount{{Location: "/data", Writable: false}}, Rootful: true}
	got := CreateExpression(c, "/src/repo")
	want := `.cpus = 3 | .memory = "3GiB" | .disk = "9GiB" | .mounts = [{"location":"/src/repo","writable":true},{"location":"/data","writable":false}] | ` + noProxyEnv + " | " + portsExpression()
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	c.VMType, c.MountType, c.Image = "qemu", "9p", "/img/x.qcow2"
	got = CreateExpression(c, "/src/repo")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	image, _ := json.Marshal(map[string]string{"location": "/img/x.qcow2", "arch": arch})
	c.Rootful = false // rootless: the link from /var/run/docker.sock
	got = CreateExpression(c, "/src/repo")
	for _, part := range []string{`.vmType = "qemu"`, `.mountType = "9p"`, ".images = [" + string(image) + "]", socketMarker} {
		if !strings.Contains(got, part) {
			t.Errorf("%s lacks %s", got, part)
		}
	}
}

// missingMountProject is a project whose pixi.toml mounts ~/datasets,
// which this machine's home lacks, and its settings.
func missingMountProject(t *testing.T) (string, settings.Config) {
	t.Helper()
	home, root := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	manifest := "[workspace]\nname = \"w\"\n[tool.pixi-lima]\nmounts = [\"~/datasets\"]\n"
	c, err := settings.Parse(root, []byte(manifest), func(string) string { return "" })
	if err != nil {
		t.Fatalf("settings.Parse: %v; want ~/datasets skipped", err)
	}
	return root, c
}

// fakeLimactl is a Manager of the project at root whose limactl records
// its arguments in the returned file and makes the instance directory, as
// `limactl create` does; qemu-img and QEMU are stand-ins too. What the
// Manager says goes to the returned buffer.
func fakeLimactl(t *testing.T, root string, c settings.Config) (*Manager, *bytes.Buffer, string) {
	t.Helper()
	bin := t.TempDir()
	paths := env.NewPaths(root)
	args := filepath.Join(bin, "args")
	scripts := map[string]string{
		"limactl":  "#!/bin/sh\nprintf '%s\\n' \"$@\" >'" + args + "'\nmkdir -p '" + paths.InstanceDir(c.Name) + "'\n",
		"qemu-img": "#!/bin/sh\n",
		QEMUSystem(func(string) string { return "" }): "#!/bin/sh\n",
	}
	for name, script := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	l := Limactl{Path: filepath.Join(bin, "limactl"), Env: os.Environ(), Stderr: &out}
	return &Manager{Paths: paths, Config: c, Limactl: l, Stderr: &out}, &out, args
}

// setArg is the --set expression limactl was given, "" if none.
func setArg(t *testing.T, args string) string {
	t.Helper()
	b, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if l == "--set" && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// The VM is created without a missing mount, with one warning that says
// what to do, and is then what the project wants: no drift.
func TestMissingMountCreate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the stand-in for QEMU is Linux's")
	}
	root, c := missingMountProject(t)
	m, stderr, args := fakeLimactl(t, root, c)
	if err := m.create(context.Background()); err != nil {
		t.Fatal(err)
	}
	set := setArg(t, args)
	if strings.Contains(set, "datasets") {
		t.Errorf("limactl create --set %s: mounts the missing directory", set)
	}
	if n := strings.Count(stderr.String(), "datasets does not exist on this machine"); n != 1 ||
		!strings.Contains(stderr.String(), "create it, then pixi-lima restart") {
		t.Errorf("stderr %q: want one warning that says what to do", stderr)
	}
	for _, d := range Drifts(c, root, vmWith(settings.Mount{Location: root, Writable: true})) {
		if d.Key == "mounts" {
			t.Errorf("a VM without the missing mount: drift %s", d)
		}
	}
}

// A start warns once too, and neither reports the missing mount as a
// changed setting nor asks Lima to change the VM's mounts for it.
func TestMissingMountStart(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the stand-in for QEMU is Linux's")
	}
	root, c := missingMountProject(t)
	m, stderr, args := fakeLimactl(t, root, c)
	engine(t, m.Socket())
	vm := vmWith(settings.Mount{Location: root, Writable: true})
	vm.Name, vm.Dir, vm.VMType = c.Name, m.dir(), limayaml.QEMU
	vm.CPUs = c.CPUs
	if err := m.start(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(setArg(t, args), ".mounts") {
		t.Errorf("limactl start --set %s: changes the mounts", setArg(t, args))
	}
	if n := strings.Count(stderr.String(), "datasets does not exist on this machine"); n != 1 ||
		strings.Contains(stderr.String(), "changed mounts") || strings.Contains(stderr.String(), "mounts differs") {
		t.Errorf("stderr %q: want one warning, and no word of changed mounts", stderr)
	}
}

// engine answers docker's ping on socket until the test ends.
func engine(t *testing.T, socket string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}
