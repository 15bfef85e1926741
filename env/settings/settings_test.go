package settings

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func configNoEnv(string) string { return "" }

func configEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := Parse("/src/whatever", []byte("[workspace]\nname = \"telegramail\"\n"), configNoEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Engine: EngineLima, Name: "telegramail-docker", CPUs: 2, Memory: "2GiB", Disk: "20GiB",
		Template: "template://docker", IdleStop: 15 * time.Minute, RosettaAuto: true, InheritDockerConfig: true,
		CACerts: []string{SystemCAs}}
	if !equalConfig(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestInstanceNameDerivation(t *testing.T) {
	for _, tc := range []struct{ manifest, root, want string }{
		{"[workspace]\nname = \"telegramail\"\n", "/x/y", "telegramail-docker"},
		{"[project]\nname = \"old-style\"\n", "/x/y", "old-style-docker"}, // pixi before 0.40
		{"[workspace]\nname = \"ws\"\n[project]\nname = \"p\"\n", "/x/y", "ws-docker"},
		{"[workspace]\nchannels = []\n", "/home/u/My Repo", "my-repo-docker"}, // no name: the directory's
		{"[workspace]\nname = \"Web App (v2)!\"\n", "/x", "web-app-v2-docker"},
		{"[workspace]\nname = \"café_ü\"\n", "/x", "caf-docker"},
		{"[workspace]\nname = \"---\"\n", "/x", "pixi-docker"},
	} {
		c, err := Parse(tc.root, []byte(tc.manifest), configNoEnv)
		if err != nil {
			t.Errorf("%q: %v", tc.manifest, err)
			continue
		}
		if c.Name != tc.want {
			t.Errorf("%q in %s: name %q, want %q", tc.manifest, tc.root, c.Name, tc.want)
		}
		if !validName(c.Name) {
			t.Errorf("derived name %q is not a valid Lima instance name", c.Name)
		}
	}
}

func TestParseConfigEachKey(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"extra", "guest.yaml", "disk.img"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := `[workspace]
name = "w"

[tool.pixi-lima]
engine = "host"
name = "custom.vm_1"
cpus = 4
memory = "3.5GiB"
disk = 40
vm-type = "qemu"
mount-type = "9p"
mounts = ["cache:w", "/tmp"]
template = "guest.yaml"
image = "disk.img"
idle-stop = "off"
rosetta = true
inherit-docker-config = false
`
	c, err := Parse(root, []byte(manifest), configNoEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Engine: EngineHost, Name: "custom.vm_1", CPUs: 4, Memory: "3.5GiB", Disk: "40GiB",
		VMType: "qemu", MountType: "9p",
		Mounts:   []Mount{{Location: filepath.Join(root, "cache"), Writable: true}, {Location: "/tmp"}},
		Template: filepath.Join(root, "guest.yaml"),
		Image:    filepath.Join(root, "disk.img"),
		IdleStop: 0,
		Rosetta:  true,
		CACerts:  []string{SystemCAs},
	}
	if !equalConfig(c, want) {
		t.Errorf("\n got %+v\nwant %+v", c, want)
	}
}

func TestParseConfigSizes(t *testing.T) {
	for value, want := range map[string]string{
		`4`:         "4GiB",
		`1.5`:       "1.5GiB",
		`"3"`:       "3GiB",
		`"512MiB"`:  "512MiB",
		`"2G"`:      "2G",
		`" 8GiB "`:  "8GiB",
		`"0.75GiB"`: "0.75GiB",
	} {
		c, err := Parse("/x", []byte("[tool.pixi-lima]\nmemory = "+value+"\n"), configNoEnv)
		if err != nil {
			t.Errorf("memory = %s: %v", value, err)
			continue
		}
		if c.Memory != want {
			t.Errorf("memory = %s: got %q, want %q", value, c.Memory, want)
		}
	}
}

func TestParseConfigEnvOverrides(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := "[tool.pixi-lima]\ncpus = 3\nmemory = \"3GiB\"\nvm-type = \"vz\"\nmounts = [\"/tmp\"]\n"
	c, err := Parse(root, []byte(manifest), configEnv(map[string]string{
		"PIXI_LIMA_CPUS":                  "6",
		"PIXI_LIMA_MEMORY":                "5",
		"PIXI_LIMA_DISK":                  "30GiB",
		"PIXI_LIMA_VM_TYPE":               "qemu",
		"PIXI_LIMA_MOUNT_TYPE":            "virtiofs",
		"PIXI_LIMA_NAME":                  "from-env",
		"PIXI_LIMA_ENGINE":                "host",
		"PIXI_LIMA_MOUNTS":                "data:w, /tmp ,",
		"PIXI_LIMA_TEMPLATE":              "template://default",
		"PIXI_LIMA_IMAGE":                 "https://example.org/x.img",
		"PIXI_LIMA_IDLE_STOP":             "1h30m",
		"PIXI_LIMA_ROSETTA":               "1",
		"PIXI_LIMA_INHERIT_DOCKER_CONFIG": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Engine: EngineHost, Name: "from-env", CPUs: 6, Memory: "5GiB", Disk: "30GiB", VMType: "qemu", MountType: "virtiofs",
		Mounts:   []Mount{{Location: filepath.Join(root, "data"), Writable: true}, {Location: "/tmp"}},
		Template: "template://default", Image: "https://example.org/x.img", IdleStop: 90 * time.Minute,
		Rosetta: true, CACerts: []string{SystemCAs},
	}
	if !equalConfig(c, want) {
		t.Errorf("\n got %+v\nwant %+v", c, want)
	}
	// Every key has its variable, and the names follow one rule.
	for _, k := range Keys() {
		if v := EnvName(k); v != "PIXI_LIMA_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_")) {
			t.Errorf("EnvName(%s) = %s", k, v)
		}
	}
	if len(Keys()) != 17 {
		t.Errorf("Keys() = %v: a key was added or lost; update this test and README", Keys())
	}
}

func TestParseConfigRejects(t *testing.T) {
	root := t.TempDir()
	const src = "pixi.toml [tool.pixi-lima] "
	for _, tc := range []struct {
		setting string            // a line in [tool.pixi-lima]
		env     map[string]string // or a variable
		source  string            // the key or variable the error must name
		says    []string          // and what it must say
	}{
		{setting: "cpus = -1", source: src + "cpus", says: []string{"got -1", "a whole number from 1 to 256"}},
		{setting: "cpus = 0", source: src + "cpus", says: []string{"got 0"}},
		{setting: "cpus = 257", source: src + "cpus", says: []string{"got 257"}},
		{setting: "cpus = 2.5", source: src + "cpus", says: []string{"got 2.5"}},
		{setting: `cpus = "two"`, source: src + "cpus", says: []string{`got "two"`}},
		{setting: `memory = "lots"`, source: src + "memory", says: []string{`got "lots"`, `a size such as "2GiB"`}},
		{setting: `memory = "100MiB"`, source: src + "memory", says: []string{"at least 512MiB"}},
		{setting: `memory = true`, source: src + "memory", says: []string{"true (a boolean)"}},
		{setting: `disk = ["20GiB"]`, source: src + "disk", says: []string{"got a list"}},
		{setting: `engine = "docker"`, source: src + "engine", says: []string{`"lima", "host" or "ssh://[user@]host[:port]"`}},
		{setting: `name = "has space"`, source: src + "name", says: []string{"letters, digits"}},
		{setting: `name = "-x"`, source: src + "name", says: []string{`got "-x"`}},
		{setting: `vm-type = "virtualbox"`, source: src + "vm-type", says: []string{`"qemu" or "vz"`}},
		{setting: `mount-type = 9`, source: src + "mount-type", says: []string{"got 9"}},
		{setting: `mounts = "/tmp"`, source: src + "mounts", says: []string{`got "/tmp"`, "a list of directories"}},
		{setting: `mounts = [1]`, source: src + "mounts", says: []string{"got 1 in the list"}},
		{setting: `template = "missing.yaml"`, source: src + "template", says: []string{"template file " + filepath.Join(root, "missing.yaml") + " does not exist"}},
		{setting: `template = {}`, source: src + "template", says: []string{"got a table"}},
		{setting: `image = "/no/such.img"`, source: src + "image", says: []string{"image file /no/such.img does not exist"}},
		{setting: `idle-stop = "30s"`, source: src + "idle-stop", says: []string{`got "30s"`, "at least 1m", `"off"`}},
		{setting: `idle-stop = 15`, source: src + "idle-stop", says: []string{"got 15"}},
		{setting: `idle-stop = "never"`, source: src + "idle-stop", says: []string{`got "never"`}},
		{setting: `rosetta = "yes"`, source: src + "rosetta", says: []string{`got "yes"`, `true, false or "auto"`}},
		{setting: `inherit-docker-config = 1`, source: src + "inherit-docker-config", says: []string{"got 1", "true or false"}},
		{setting: `cpu = 4`, source: src + "cpu", says: []string{"unknown setting", `did you mean "cpus"?`, "known: engine, name, cpus"}},
		{setting: `vmtype = "qemu"`, source: src + "vmtype", says: []string{`did you mean "vm-type"?`}},
		{setting: `zzzzzzzz = 1`, source: src + "zzzzzzzz", says: []string{"unknown setting; known:"}},
		{env: map[string]string{"PIXI_LIMA_CPUS": "abc"}, source: "PIXI_LIMA_CPUS", says: []string{`got "abc"`}},
		{env: map[string]string{"PIXI_LIMA_CPUS": "-2"}, source: "PIXI_LIMA_CPUS", says: []string{"got -2"}},
		{env: map[string]string{"PIXI_LIMA_MEMORY": "lots"}, source: "PIXI_LIMA_MEMORY", says: []string{`got "lots"`}},
		{env: map[string]string{"PIXI_LIMA_VM_TYPE": "kvm"}, source: "PIXI_LIMA_VM_TYPE", says: []string{`"qemu" or "vz"`}},
	} {
		manifest := "[workspace]\nname = \"w\"\n[tool.pixi-lima]\n" + tc.setting + "\n"
		_, err := Parse(root, []byte(manifest), configEnv(tc.env))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s%v: err = %v, want a Error", tc.setting, tc.env, err)
			continue
		}
		if ce.Source != tc.source {
			t.Errorf("%s%v: names %q, want %q", tc.setting, tc.env, ce.Source, tc.source)
		}
		for _, s := range tc.says {
			if !strings.Contains(ce.Error(), s) {
				t.Errorf("%s%v: %q does not say %q", tc.setting, tc.env, ce.Error(), s)
			}
		}
	}
}

// engine = "ssh://[user@]host[:port]": what docker's ssh helper turns into
// ssh's -l, -p and host, and nothing else.
func TestParseConfigSSHEngine(t *testing.T) {
	for _, url := range []string{"ssh://h", "ssh://build-box.example.org", "ssh://u@h", "ssh://u@10.0.0.5:2222",
		"ssh://[::1]:22", "ssh://u.name-1@h:65535"} {
		c, err := Parse("/x", []byte("[tool.pixi-lima]\nengine = \""+url+"\"\n"), configNoEnv)
		if err != nil || c.Engine != url {
			t.Errorf("engine = %q: %+v, %v; want the URL as the engine", url, c.Engine, err)
		}
		c, err = Parse("/x", nil, configEnv(map[string]string{"PIXI_LIMA_ENGINE": url}))
		if err != nil || c.Engine != url {
			t.Errorf("PIXI_LIMA_ENGINE=%s: %+v, %v; want the URL as the engine", url, c.Engine, err)
		}
	}
	for url, says := range map[string]string{
		"ssh://":                    "no host",
		"ssh://u@":                  "no host",
		"ssh://@h":                  "no user before @",
		"ssh://u:secret@h":          "a password in the URL is not supported",
		"ssh://h:":                  "the port must be a number from 1 to 65535",
		"ssh://h:0":                 "the port must be a number from 1 to 65535",
		"ssh://h:65536":             "the port must be a number from 1 to 65535",
		"ssh://h:ssh":               `invalid port ":ssh" after host`,
		"ssh://h/run/docker.sock":   "nothing may follow the host and port",
		"ssh://h/":                  "nothing may follow the host and port",
		"ssh://h?x=1":               "nothing may follow the host and port",
		"ssh://h#f":                 "nothing may follow the host and port",
		"ssh://-oProxyCommand=evil": "may not start with -",
		"ssh://-l@h":                "may not start with -",
		"ssh:h":                     "not an ssh:// URL",
		"tcp://h:2375":              "not an ssh:// URL",
		"SSH://h":                   "not an ssh:// URL",
		"ssh://h h":                 "invalid character",
	} {
		_, err := Parse("/x", []byte("[tool.pixi-lima]\nengine = \""+url+"\"\n"), configNoEnv)
		var ce *Error
		if !errors.As(err, &ce) || ce.Source != "pixi.toml [tool.pixi-lima] engine" ||
			!strings.Contains(ce.Msg, says) || !strings.Contains(ce.Msg, `got "`+url+`"`) {
			t.Errorf("engine = %q: %v; want an error naming the key, the value and %q", url, err, says)
		}
		_, err = Parse("/x", nil, configEnv(map[string]string{"PIXI_LIMA_ENGINE": url}))
		if !errors.As(err, &ce) || ce.Source != "PIXI_LIMA_ENGINE" || !strings.Contains(ce.Msg, says) {
			t.Errorf("PIXI_LIMA_ENGINE=%s: %v; want an error naming the variable and %q", url, err, says)
		}
	}
}

func TestParseConfigInvalidTOML(t *testing.T) {
	_, err := Parse("/x", []byte("[tool.pixi-lima\ncpus = 2\n"), configNoEnv)
	var ce *Error
	if !errors.As(err, &ce) || ce.Source != "pixi.toml" || !strings.Contains(ce.Msg, "not valid TOML") {
		t.Errorf("err = %v, want a Error naming pixi.toml", err)
	}
}

func TestLoadConfigReadsManifest(t *testing.T) {
	root := t.TempDir()
	var ce *Error
	if _, err := Load(root, configNoEnv); !errors.As(err, &ce) || ce.Source != root || !strings.Contains(ce.Msg, "no pixi.toml") {
		t.Errorf("no pixi.toml: err = %v, want a Error naming the directory", err)
	}
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte("[workspace]\nname = \"disk\"\n[tool.pixi-lima]\ncpus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, configNoEnv)
	if err != nil || c.Name != "disk-docker" || c.CPUs != 1 {
		t.Errorf("Load = %+v, %v", c, err)
	}
}

// A manifest that is there but cannot be read is a project problem (exit
// 3), named with the reason, not a bare os error (exit 1).
func TestLoadConfigUnreadable(t *testing.T) {
	cases := map[string]func(path string) error{
		"a directory": func(path string) error { return os.Mkdir(path, 0o755) },
	}
	if os.Geteuid() != 0 { // root reads a mode 000 file
		cases["mode 000"] = func(path string) error { return os.WriteFile(path, []byte("[workspace]\n"), 0o000) }
	}
	for what, create := range cases {
		root := t.TempDir()
		path := filepath.Join(root, "pixi.toml")
		if err := create(path); err != nil {
			t.Fatal(err)
		}
		_, err := Load(root, configNoEnv)
		var ce *Error
		if !errors.As(err, &ce) || ce.Source != path || !strings.HasPrefix(ce.Msg, "cannot read it: ") || strings.Count(ce.Error(), path) != 1 {
			t.Errorf("pixi.toml is %s: err = %#v, want a Error naming %s once, and why", what, err, path)
		}
	}
}

// A pyproject.toml workspace: the settings are its [tool.pixi-lima], the
// name its pixi workspace's, else its Python project's, else the
// directory's, and errors name pyproject.toml. A pixi.toml next to it wins.
func TestLoadConfigPyproject(t *testing.T) {
	for _, tc := range []struct{ manifest, name string }{
		{"[project]\nname = \"py-lib\"\n[tool.pixi.workspace]\nname = \"py-ws\"\n[tool.pixi-lima]\ncpus = 3\n", "py-ws-docker"},
		{"[project]\nname = \"py-lib\"\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n[tool.pixi-lima]\ncpus = 3\n", "py-lib-docker"},
		{"[project]\nname = \"py-lib\"\n[tool.pixi.project]\nname = \"old-ws\"\n[tool.pixi-lima]\ncpus = 3\n", "old-ws-docker"},
		{"[tool.pixi.workspace]\n[tool.pixi-lima]\ncpus = 3\n", "dirname-docker"},
	} {
		root := filepath.Join(t.TempDir(), "dirname")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte(tc.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(root, configNoEnv)
		if err != nil || c.Name != tc.name || c.CPUs != 3 {
			t.Errorf("%q: Load = %+v, %v; want name %s, 3 CPUs", tc.manifest, c, err, tc.name)
		}
	}

	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte("[tool.pixi.workspace]\n[tool.pixi-lima]\ncpus = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ce *Error
	if _, err := Load(root, configNoEnv); !errors.As(err, &ce) || ce.Source != "pyproject.toml [tool.pixi-lima] cpus" {
		t.Errorf("a bad value in pyproject.toml: err = %v, want one naming pyproject.toml [tool.pixi-lima] cpus", err)
	}
	if err := os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte("[tool.pixi.workspace]\n[tool.pixi-lima]\ncpus = = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, configNoEnv); !errors.As(err, &ce) || ce.Source != "pyproject.toml" || !strings.Contains(ce.Msg, "not valid TOML") {
		t.Errorf("pyproject.toml not TOML: err = %v, want one naming pyproject.toml", err)
	}
	if err := os.WriteFile(filepath.Join(root, "pixi.toml"), []byte("[workspace]\nname = \"wins\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(root, configNoEnv); err != nil || c.Name != "wins-docker" || c.CPUs != DefaultCPUs {
		t.Errorf("pixi.toml next to pyproject.toml: Load = %+v, %v; want pixi.toml's settings", c, err)
	}
}

func TestSuggest(t *testing.T) {
	for word, want := range map[string]string{
		"stats":  `; did you mean "status"?`,
		"init":   `; did you mean "init"?`,
		"delte":  `; did you mean "delete"?`,
		"xyzzy1": "",
	} {
		if got := Suggest(word, []string{"init", "status", "delete", "stop"}); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func equalConfig(a, b Config) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// A mount that this machine lacks (a teammate without ~/datasets) is
// skipped, not refused: the VM is made and started without it.
func TestParseConfigMissingMount(t *testing.T) {
	home, root := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(root, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := "[workspace]\nname = \"w\"\n[tool.pixi-lima]\nmounts = [\"~/datasets\", \"cache:w\"]\n"
	c, err := Parse(root, []byte(manifest), configNoEnv)
	if err != nil {
		t.Fatalf("Parse: %v; want ~/datasets skipped", err)
	}
	if want := []Mount{{Location: filepath.Join(root, "cache"), Writable: true}}; !equalMounts(c.Mounts, want) {
		t.Errorf("mounts %+v, want %+v", c.Mounts, want)
	}
	if want := filepath.Join(home, "datasets"); len(c.MissingMounts) != 1 || c.MissingMounts[0] != want {
		t.Errorf("missing mounts %q, want [%s]", c.MissingMounts, want)
	}
	c, err = Parse(root, []byte(manifest), configEnv(map[string]string{"PIXI_LIMA_MOUNTS": "/no/such/dir"}))
	if err != nil || len(c.Mounts) != 0 || len(c.MissingMounts) != 1 || c.MissingMounts[0] != "/no/such/dir" {
		t.Errorf("PIXI_LIMA_MOUNTS=/no/such/dir: mounts %+v, missing %q, %v; want it missing alone", c.Mounts, c.MissingMounts, err)
	}
}

func equalMounts(a, b []Mount) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestParseConfigRosetta: rosetta is "auto" unless set; true and false
// are as written, and a variable wins over the manifest either way.
func TestParseConfigRosetta(t *testing.T) {
	for _, tc := range []struct {
		setting, env string
		on, auto     bool
	}{
		{"", "", false, true},
		{`rosetta = "auto"`, "", false, true},
		{"rosetta = true", "", true, false},
		{"rosetta = false", "", false, false},
		{"rosetta = true", "auto", false, true},
		{`rosetta = "auto"`, "0", false, false},
		{"", "1", true, false},
	} {
		c, err := Parse("/x", []byte("[tool.pixi-lima]\n"+tc.setting+"\n"), configEnv(map[string]string{"PIXI_LIMA_ROSETTA": tc.env}))
		if err != nil || c.Rosetta != tc.on || c.RosettaAuto != tc.auto {
			t.Errorf("%q, PIXI_LIMA_ROSETTA=%q: Rosetta %v, RosettaAuto %v (%v); want %v, %v", tc.setting, tc.env, c.Rosetta, c.RosettaAuto, err, tc.on, tc.auto)
		}
	}
	if n := Note("rosetta"); !strings.Contains(n, `default "auto"`) {
		t.Errorf("Note(rosetta) = %q, want it to give the default", n)
	}
}
