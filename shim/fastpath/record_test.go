package fastpath

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/shim/dockerconfig"
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
// path, or from outside the project, stays fast.
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

// TestKeyUserDockerConfig: the user's docker config.json is in the key, so
// an edit there reaches the project's config at the next call (the full
// path syncs it), and so is its absence. The call docker makes back into
// the shim (`docker compose`: DOCKER_CONFIG is the project's, the user's
// directory comes in dockerconfig.UserVar) computes the same key as the
// user's call before it.
func TestKeyUserDockerConfig(t *testing.T) {
	f := newFixture(t)
	home := filepath.Join(filepath.Dir(f.root), "home")
	cfg := filepath.Join(home, ".docker", "config.json")
	must(t, os.MkdirAll(filepath.Dir(cfg), 0o755))
	base := []string{"HOME=" + home}
	absent := mustKey(t, f, base)
	must(t, os.WriteFile(cfg, []byte(`{"credsStore": "a"}`), 0o600))
	k0 := mustKey(t, f, base)
	if k0 == absent {
		t.Error("~/.docker/config.json created: the key did not change")
	}
	later := time.Now().Add(time.Second)
	must(t, os.Chtimes(cfg, later, later))
	k1 := mustKey(t, f, base)
	if k1 == k0 {
		t.Error("~/.docker/config.json edited: the key did not change")
	}
	project := "DOCKER_CONFIG=" + env.NewPaths(f.root).DockerConfig
	if k := mustKey(t, f, append(slices.Clone(base), project)); k != k1 {
		t.Error("DOCKER_CONFIG=the project's own changed the key; the user's config is still ~/.docker's")
	}

	// The user's own DOCKER_CONFIG, with nothing in it.
	other := filepath.Join(filepath.Dir(f.root), "cfg")
	mine := append(slices.Clone(base), "DOCKER_CONFIG="+other)
	if mustKey(t, f, mine) == k1 {
		t.Error("the user's DOCKER_CONFIG did not change the key")
	}
	if mustKey(t, f, mine) == absent {
		t.Error("two absent configs of different directories share a key")
	}
	nested := append(slices.Clone(base), project, dockerconfig.UserVar+"="+other+"/")
	if mustKey(t, f, nested) != mustKey(t, f, mine) {
		t.Error("the call back from docker has another key than the user's call")
	}

	// This package's rule is dockerconfig.UserDir's.
	for _, environ := range [][]string{
		base, mine, nested,
		{"HOME=/h/"}, {"HOME=/h", "DOCKER_CONFIG=/x/.pixi/docker/"}, {"DOCKER_CONFIG=/c//d/"},
		{"HOME=/h", "DOCKER_CONFIG=/r/.pixi/docker", dockerconfig.UserVar + "=/u"}, {},
	} {
		want := dockerconfig.UserDir(func(k string) string { return lookup(environ, k) })
		if want != "" {
			want = filepath.Join(want, "config.json")
		}
		if got := userConfig(environ); got != want {
			t.Errorf("%v: the fast path keys on %q, dockerconfig reads %q", environ, got, want)
		}
	}
}

// TestElsewhere: a call from another pixi workspace's directory takes the
// full path, which warns once; after that, the record lets it through.
func TestElsewhere(t *testing.T) {
	dir := t.TempDir()
	root, other, pyproj, plain := dir+"/a", dir+"/b", dir+"/c", dir+"/d"
	for _, d := range []string{root + "/sub/nested", other + "/src", pyproj, plain + "/x"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root+"/pixi.toml", "[workspace]\n")
	write(root+"/sub/nested/pixi.toml", "[workspace]\n")
	write(other+"/pixi.toml", "[workspace]\n")
	write(pyproj+"/pyproject.toml", "[tool.pixi.workspace]\n")
	write(plain+"/pyproject.toml", "[project]\nname = \"d\"\n")
	vm := Record{Socket: "/s", Mounted: []string{root}}
	warned := Record{Socket: "/s", Mounted: []string{root}, Elsewhere: []string{other}}
	for _, c := range []struct {
		rec  Record
		pwd  string
		want bool
	}{
		{vm, root, false},
		{vm, root + "/sub", false},
		{vm, root + "/sub/nested", true}, // a workspace inside the project is one of its own
		{vm, other, true},
		{vm, other + "/src", true},
		{vm, pyproj, true},
		{vm, plain + "/x", false}, // a pyproject.toml without pixi
		{vm, dir, false},
		{vm, "", false},
		{warned, other + "/src", false},
		{Record{}, other, false}, // the host's engine is everyone's
	} {
		if got := c.rec.elsewhere(c.pwd, root); got != c.want {
			t.Errorf("warned %v, PWD %q: elsewhere = %v, want %v", c.rec.Elsewhere, c.pwd, got, c.want)
		}
	}
	data, ok := warned.encode("k")
	got, ok2 := decode(data, "k")
	if !ok || !ok2 || len(got.Elsewhere) != 1 || got.Elsewhere[0] != other {
		t.Errorf("round trip: %+v", got)
	}
}

// BenchmarkElsewhere is what the other-workspace check adds to a fast-path
// call from three directories below the project's root (from the root
// itself it makes no system call).
func BenchmarkElsewhere(b *testing.B) {
	root := b.TempDir()
	pwd := root + "/src/pkg/internal"
	if err := os.MkdirAll(pwd, 0o755); err != nil {
		b.Fatal(err)
	}
	rec := Record{Socket: "/s", Mounted: []string{root}}
	for b.Loop() {
		if rec.elsewhere(pwd, root) {
			b.Fatal("elsewhere in its own project")
		}
	}
}

// TestPortLogChanged: of what the host agent's log gains after the full
// path looked, only a "failed to listen" line (a port that may clash) sends
// the call to the full path; the accepted connections Lima logs on a Mac
// for every privileged port, and new forwards, do not. A log that shrank,
// went away, or grew past what the fast path reads does.
func TestPortLogChanged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "ha.stderr.log")
	fwd := `{"level":"info","msg":"Forwarding TCP from 127.0.0.1:80 to 127.0.0.1:80","time":"2026-12-04T04:12:00Z"}` + "\n"
	must(t, os.WriteFile(log, []byte(fwd), 0o644))
	r := Record{PortLog: log, PortLogSize: int64(len(fwd))}
	appendLog := func(s string) {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = f.WriteString(s)
		must(t, err)
		must(t, f.Close())
	}
	if r.portLogChanged() {
		t.Error("unchanged log: changed")
	}
	accept := `{"level":"info","msg":"pseudoloopback forwarder: accepting connection from \"127.0.0.1:54321\"","time":"2026-12-04T04:12:01Z"}` + "\n"
	for i := 0; i < 100; i++ {
		appendLog(accept)
	}
	if r.portLogChanged() {
		t.Error("accepted connections: changed")
	}
	// A new forward may share its port with a holder (SO_REUSEPORT): the
	// full path's look at the listeners tells.
	appendLog(`{"level":"info","msg":"Forwarding TCP from 127.0.0.1:8080 to 127.0.0.1:8080","time":"2026-12-04T04:12:02Z"}` + "\n")
	if !r.portLogChanged() {
		t.Error("a new forward: not changed")
	}
	r.PortLogSize = fileSize(t, log)
	appendLog(`{"level":"error","msg":"failed to listen tcp: listen tcp 0.0.0.0:443: bind: address already in use","time":"2026-12-04T04:12:03Z"}` + "\n")
	if !r.portLogChanged() {
		t.Error("a failed listen: not changed")
	}
	r.PortLogSize = 1 << 40
	if !r.portLogChanged() {
		t.Error("a log smaller than the record's: not changed")
	}
	must(t, os.WriteFile(log, []byte(fwd+strings.Repeat(accept, 3000)), 0o644))
	r.PortLogSize = int64(len(fwd))
	if !r.portLogChanged() {
		t.Errorf("%d bytes more than the fast path reads: not changed", 3000*len(accept))
	}
	must(t, os.Remove(log))
	if !r.portLogChanged() {
		t.Error("no log: not changed")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	must(t, err)
	return info.Size()
}
