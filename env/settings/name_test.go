package settings

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
)

// A 9-letter user's Developer folder on macOS is 43 characters, one too
// many for company-platform-docker's sockets.
const deepMac = "/Users/abcdefghi/Developer/company-platform"

func TestDefaultNameFallsBackOnMacOS(t *testing.T) {
	if got := env.MaxRootLength("company-platform-docker", "darwin"); got != len(deepMac)-1 {
		t.Fatalf("MaxRootLength = %d, want %d", got, len(deepMac)-1)
	}
	name, note := defaultName(deepMac, "company-platform", "darwin")
	if name != ShortName || !strings.Contains(note, `"company-platform-docker"`) ||
		!strings.Contains(note, "43 characters (at most 42 fit)") {
		t.Errorf("defaultName = %q, %q; want %q and a note with both names and lengths", name, note, ShortName)
	}
	if err := env.CheckSocketBudget(env.NewPaths(deepMac).LimaHome, name, "darwin"); err != nil {
		t.Errorf("the short name does not fit either: %v", err)
	}
	// One character less and the workspace keeps its own name; on Linux
	// (108 bytes) the same path fits too.
	if name, note := defaultName(deepMac[:len(deepMac)-1], "company-platform", "darwin"); name != "company-platform-docker" || note != "" {
		t.Errorf("42 characters: %q, %q", name, note)
	}
	if name, _ := defaultName(deepMac, "company-platform", "linux"); name != "company-platform-docker" {
		t.Errorf("linux: %q", name)
	}
}

// When even the short name does not fit, the name is the short one and
// creating it is refused, saying how long the project path may be.
func TestDefaultNameRefusal(t *testing.T) {
	for goos, max := range map[string]int{"darwin": 59, "linux": 63} {
		root := "/" + strings.Repeat("d", max) // one more than fits
		name, note := defaultName(root, "company-platform", goos)
		if name != ShortName || note == "" {
			t.Errorf("%s: defaultName = %q, %q", goos, name, note)
		}
		err := env.CheckSocketBudget(env.NewPaths(root).LimaHome, name, goos)
		if err == nil || !strings.Contains(err.Error(), "a project path of at most "+strconv.Itoa(max)+" characters fits") {
			t.Errorf("%s: %d characters: %v; want the refusal to name %d", goos, len(root), err, max)
		}
		if err := env.CheckSocketBudget(env.NewPaths(root[:max]).LimaHome, name, goos); err != nil {
			t.Errorf("%s: %d characters: %v", goos, max, err)
		}
	}
}

// Through Load on this machine: a project path where the long name
// does not fit gets the short one, with a note for the caller to say while
// it does not exist (on its own stderr, never on os.Stderr); an
// instance that exists under the long name keeps it; a name the user set
// is never changed.
func TestLoadConfigDeepPath(t *testing.T) {
	base, err := os.MkdirTemp("/tmp", "n")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	long := InstanceName("company-platform")
	pad := env.MaxRootLength(long, "linux") + 1 - len(base) - 1
	if pad < 1 {
		t.Skipf("temporary directory %s too long", base)
	}
	root := filepath.Join(base, strings.Repeat("p", pad))
	if sock := env.CheckSocketBudget(env.NewPaths(root).LimaHome, long, "linux"); sock == nil {
		t.Fatalf("test bug: %s fits", root)
	}
	manifest := "[workspace]\nname = \"company-platform\"\n"
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(getenv func(string) string) (string, string) {
		t.Helper()
		var c Config
		if stderr := captureStderr(t, func() {
			var err error
			if c, err = Load(root, getenv); err != nil {
				t.Fatal(err)
			}
		}); stderr != "" {
			t.Errorf("Load wrote %q to os.Stderr", stderr)
		}
		return c.Name, c.NameNote
	}
	if name, note := load(configNoEnv); name != ShortName ||
		!strings.Contains(note, `the VM is named "docker", not "company-platform-docker"`) {
		t.Errorf("deep path: name %q, note %q; want %q and a note saying so", name, note, ShortName)
	}
	paths := env.NewPaths(root)
	if err := os.MkdirAll(paths.InstanceDir(ShortName), 0o755); err != nil {
		t.Fatal(err)
	}
	if name, note := load(configNoEnv); name != ShortName || note != "" {
		t.Errorf("once created: name %q, note %q; want %q and none", name, note, ShortName)
	}
	if name, _ := load(configEnv(map[string]string{"PIXI_LIMA_NAME": "mine"})); name != "mine" {
		t.Errorf("PIXI_LIMA_NAME=mine: name %q", name)
	}
	if err := os.MkdirAll(paths.InstanceDir(long), 0o755); err != nil {
		t.Fatal(err)
	}
	if name, note := load(configNoEnv); name != long || note != "" {
		t.Errorf("with an instance %s: name %q, note %q", long, name, note)
	}
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(manifest+"[tool.pixi-lima]\nname = \"company-platform-docker\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(paths.LimaHome)
	if name, note := load(configNoEnv); name != long || note != "" {
		t.Errorf("name set in pixi.toml: %q, note %q", name, note)
	}
}

func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = saved }()
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	f()
	w.Close()
	return <-done
}
