package settings

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker/go-units"
)

// FuzzParse feeds the settings parser arbitrary manifests and one
// arbitrary PIXI_LIMA_* value. It must never panic, and whatever it accepts
// must be a config Lima can use: a bad value is rejected here, naming its
// key, never passed on to limactl. CI runs the seeds with `go test`; run
// `go test -fuzz FuzzParse -fuzztime 30s ./env/settings` to search further.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		manifest string
		key      uint8
		value    string
	}{
		{"[workspace]\nname = \"demo\"\n", 0, ""},
		{"[tool.pixi-lima]\ncpus = 4\nmemory = \"4GiB\"\ndisk = 30\n", 2, "8"},
		{"[tool.pixi-lima]\ncpus = -1\n", 0, ""},
		{"[tool.pixi-lima]\nmemory = \"lots\"\n", 3, "lots"},
		{"[tool.pixi-lima]\nmemory = 1e308\n", 4, "NaN"},
		{"[tool.pixi-lima]\nmemroy = \"2GiB\"\n", 0, ""},
		{"[tool.pixi-lima]\ncpus = \"two\"\n", 2, "2.5"},
		{"[tool.pixi-lima]\nimage = \"missing.qcow2\"\n", 9, "/nonexistent"},
		{"[tool.pixi-lima]\nmounts = [\".\", \"~:w\", 3]\n", 7, ".,:w,,"},
		{"[tool.pixi-lima]\nname = \"a..b\"\nengine = \"host\"\n", 1, "-x-"},
		{"[tool.pixi-lima]\nvm-type = \"vz\"\nmount-type = \"9p\"\ntemplate = \"template://docker\"\n", 5, "qemu"},
		{"[tool]\npixi-lima = 3\n", 8, "x://y"},
		{"[project]\nname = \"\\u0000é\"\n", 0, "host"},
		{"not toml = = =", 0, ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.manifest), s.key, s.value)
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, manifest []byte, key uint8, value string) {
		envVar := EnvName(Keys()[int(key)%len(Keys())])
		getenv := func(k string) string {
			if k == envVar {
				return value
			}
			return ""
		}
		c, err := Parse(root, manifest, getenv)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, not a *Error naming the key: %v", err, err)
			}
			return
		}
		if c.Engine != EngineLima && c.Engine != EngineHost {
			t.Errorf("engine %q accepted", c.Engine)
		}
		if !validName(c.Name) {
			t.Errorf("instance name %q accepted; Lima rejects it", c.Name)
		}
		if c.CPUs < 1 || c.CPUs > 256 {
			t.Errorf("cpus %d accepted", c.CPUs)
		}
		for what, size := range map[string]string{"memory": c.Memory, "disk": c.Disk} {
			if n, err := units.RAMInBytes(size); err != nil || n < 1<<29 {
				t.Errorf("%s %q accepted (%d bytes, %v)", what, size, n, err)
			}
		}
		if !slices.Contains([]string{"", "qemu", "vz"}, c.VMType) {
			t.Errorf("vm-type %q accepted", c.VMType)
		}
		if !slices.Contains([]string{"", "reverse-sshfs", "9p", "virtiofs"}, c.MountType) {
			t.Errorf("mount-type %q accepted", c.MountType)
		}
		if c.Template == "" {
			t.Error("empty template accepted")
		}
		for _, m := range c.Mounts {
			if !filepath.IsAbs(m.Location) {
				t.Errorf("mount %q is not absolute", m.Location)
			}
		}
	})
}
