package fastpath

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
)

// fixture is a project with pixi-lima "installed" (a file standing in for
// the binary: the fast path only stats it), a real docker elsewhere on
// PATH and, when serving, an HTTP server answering /_ping on the socket.
type fixture struct {
	root, exe, docker, socket string
	path                      string // PATH: the project's .pixi/bin, then the real docker's dir
}

func newFixture(t *testing.T) fixture {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{root: filepath.Join(base, "proj")}
	f.exe = filepath.Join(f.root, ".pixi", "pixi-lima", "bin", "pixi-lima")
	f.docker = filepath.Join(base, "usr", "bin", "docker")
	f.socket = filepath.Join(base, "d.sock")
	for _, dir := range []string{filepath.Dir(f.exe), filepath.Join(f.root, ".pixi", "bin"), filepath.Dir(f.docker)} {
		must(t, os.MkdirAll(dir, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(f.root, "pixi.toml"), []byte("[workspace]\nname = \"fp\"\n"), 0o644))
	must(t, os.WriteFile(f.exe, []byte("pixi-lima"), 0o755))
	must(t, os.Symlink("../pixi-lima/bin/pixi-lima", filepath.Join(f.root, ".pixi", "bin", "docker")))
	must(t, os.WriteFile(f.docker, []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(f.docker+"-compose", []byte("#!/bin/sh\n"), 0o755))
	f.path = filepath.Join(f.root, ".pixi", "bin") + ":" + filepath.Dir(f.docker)
	return f
}

// serve answers /_ping with 200 on the fixture's socket until the test ends
// or stop is called.
func (f fixture) serve(t *testing.T) (stop func()) {
	l, err := net.Listen("unix", f.socket)
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

// self is the stand-in binary's FileInfo, as plan takes it.
func (f fixture) self(t *testing.T) os.FileInfo {
	info, err := os.Stat(f.exe)
	must(t, err)
	return info
}

// record is what shim.runTool saves for the lima engine.
func (f fixture) record() Record {
	o := env.DockerOverrides(env.NewPaths(f.root), "fp-docker")
	o.Set["DOCKER_HOST"] = "unix://" + f.socket
	return Record{Socket: f.socket, Set: o.Pairs(), Unset: o.Unset}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPlan(t *testing.T) {
	f := newFixture(t)
	f.serve(t)
	user := []string{"PATH=" + f.path, "HOME=/home/u", "DOCKER_HOST=tcp://elsewhere:2375", "DOCKER_CONTEXT=mine"}
	args := []string{filepath.Join(f.root, ".pixi", "bin", "docker"), "ps", "-a"}

	if _, _, _, ok := planFor(f.exe, args, user); ok {
		t.Fatal("no record yet, but the fast path was taken")
	}
	save(f.exe, f.root, f.record(), user)

	real, argv, environ, ok := planFor(f.exe, args, user)
	if !ok || real != f.docker || !slices.Equal(argv, []string{"docker", "ps", "-a"}) {
		t.Fatalf("planFor = %q %q %v; want %s [docker ps -a] true", real, argv, ok, f.docker)
	}
	// The same environment the full path would build (env.Build).
	o := env.DockerOverrides(env.NewPaths(f.root), "fp-docker")
	o.Set["DOCKER_HOST"] = "unix://" + f.socket
	o.Set[DepthVar] = "1"
	if want := env.Build(user, o); !slices.Equal(environ, want) {
		t.Errorf("environment:\n got %q\nwant %q", environ, want)
	}

	// docker compose comes back through the plugin link: one level deeper.
	_, argv, environ, ok = planFor(f.exe, []string{"docker-compose", "version"}, append(user, DepthVar+"=1"))
	if !ok || argv[0] != "docker-compose" || !slices.Contains(environ, DepthVar+"=2") {
		t.Errorf("docker-compose at depth 1: ok=%v argv=%q, environment %q", ok, argv, environ)
	}

	// Everything else takes the full path.
	declined := map[string][]string{
		"the depth guard's limit":      append(slices.Clone(user), DepthVar+"=8"),
		"a depth that is not a number": append(slices.Clone(user), DepthVar+"=x"),
		"a forced name":                append(slices.Clone(user), forceArg0Var+"=docker"),
		"a setting in the environment": append(slices.Clone(user), "PIXI_LIMA_NAME=other"),
		"no real docker on PATH":       {"PATH=" + filepath.Join(f.root, ".pixi", "bin")},
	}
	for why, environ := range declined {
		if _, _, _, ok := planFor(f.exe, args, environ); ok {
			t.Errorf("%s: the fast path was taken", why)
		}
	}
	for _, args := range [][]string{{"pixi-lima", "status"}, {"limactl-local", "list"}, {}} {
		if _, _, _, ok := planFor(f.exe, args, user); ok {
			t.Errorf("%q: the fast path was taken", args)
		}
	}
	if _, _, _, ok := planFor(filepath.Join(t.TempDir(), "pixi-lima"), args, user); ok {
		t.Error("a binary outside any .pixi took the fast path")
	}
}

func TestPlanEngineDown(t *testing.T) {
	f := newFixture(t)
	stop := f.serve(t)
	user := []string{"PATH=" + f.path}
	save(f.exe, f.root, f.record(), user)
	if _, _, _, ok := planFor(f.exe, []string{"docker", "ps"}, user); !ok {
		t.Fatal("the engine answers, but the fast path was not taken")
	}
	stop()
	if _, _, _, ok := planFor(f.exe, []string{"docker", "ps"}, user); ok {
		t.Error("the engine is gone, but the fast path was taken")
	}

	// The host's engine: nothing to ask, the record alone decides.
	o := env.HostEngineOverrides(env.NewPaths(f.root))
	save(f.exe, f.root, Record{Set: o.Pairs(), Unset: o.Unset}, user)
	_, _, environ, ok := planFor(f.exe, []string{"docker", "ps"}, user)
	if !ok || !slices.Contains(environ, "DOCKER_CONFIG="+filepath.Join(f.root, ".pixi", "docker")) {
		t.Errorf("host engine: ok=%v, environment %q", ok, environ)
	}
}

// TestPlanChangeUnderWay: an answering engine is not trusted while a start,
// stop or delete holds the instance lock; the call goes to the full path,
// which waits for it.
func TestPlanChangeUnderWay(t *testing.T) {
	f := newFixture(t)
	f.serve(t)
	user := []string{"PATH=" + f.path}
	save(f.exe, f.root, f.record(), user)
	lockFile := env.NewPaths(f.root).LockFile()
	must(t, os.MkdirAll(filepath.Dir(lockFile), 0o755))
	held, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o644)
	must(t, err)
	defer held.Close()
	if _, _, _, ok := planFor(f.exe, []string{"docker", "ps"}, user); !ok {
		t.Fatal("lock file present but free: the fast path was not taken")
	}
	must(t, syscall.Flock(int(held.Fd()), syscall.LOCK_EX))
	if _, _, _, ok := planFor(f.exe, []string{"docker", "ps"}, user); ok {
		t.Error("a stop holds the instance lock, but the fast path was taken")
	}
	must(t, syscall.Flock(int(held.Fd()), syscall.LOCK_UN))
	if _, _, _, ok := planFor(f.exe, []string{"docker", "ps"}, user); !ok {
		t.Error("the lock was released, but the fast path was not taken")
	}
}

// TestKey: a record is used only with the inputs it was made from.
func TestKey(t *testing.T) {
	f := newFixture(t)
	base := []string{"PATH=/bin", "PIXI_LIMA_CPUS=4"}
	k0 := mustKey(t, f, base)
	if k := mustKey(t, f, append(slices.Clone(base), "UNRELATED=1", DepthVar+"=3", forceArg0Var+"=docker")); k != k0 {
		t.Error("variables that do not change the settings changed the key")
	}
	changes := map[string]func(){
		"another setting":   func() { base = append(base, "PIXI_LIMA_ENGINE=host") },
		"a changed setting": func() { base = []string{"PATH=/bin", "PIXI_LIMA_CPUS=2"} },
		"pixi.toml edited": func() {
			later := time.Now().Add(time.Second)
			must(t, os.Chtimes(filepath.Join(f.root, "pixi.toml"), later, later))
		},
		"pixi.toml replaced": func() {
			tmp := filepath.Join(f.root, "new.toml")
			must(t, os.WriteFile(tmp, []byte("[workspace]\nname = \"fp\"\n"), 0o644))
			must(t, os.Rename(tmp, filepath.Join(f.root, "pixi.toml")))
		},
		"pixi-lima rebuilt": func() { must(t, os.WriteFile(f.exe, []byte("pixi-lima v2"), 0o755)) },
	}
	for why, change := range changes {
		before := mustKey(t, f, base)
		change()
		if mustKey(t, f, base) == before {
			t.Errorf("%s: the key did not change", why)
		}
	}
	must(t, os.Remove(filepath.Join(f.root, "pixi.toml")))
	if _, ok := key(f.root, f.self(t), base); ok {
		t.Error("a key without pixi.toml")
	}
}

func mustKey(t *testing.T, f fixture, environ []string) string {
	t.Helper()
	k, ok := key(f.root, f.self(t), environ)
	if !ok {
		t.Fatal("no key")
	}
	return k
}

func TestRecordFile(t *testing.T) {
	f := newFixture(t)
	rec := f.record()
	save(f.exe, f.root, rec, nil)
	data, err := os.ReadFile(File(f.root))
	must(t, err)
	k := mustKey(t, f, nil)
	if got, ok := decode(data, k); !ok || got.Socket != rec.Socket || !slices.Equal(got.Set, rec.Set) || !slices.Equal(got.Unset, rec.Unset) {
		t.Errorf("decode(encode(r)) = %+v, %v; want %+v", got, ok, rec)
	}
	if _, ok := decode(data, "0000"); ok {
		t.Error("a record was read with another key")
	}
	if _, ok := decode([]byte(strings.Replace(string(data), magic, "pixi-lima fastpath 0", 1)), k); ok {
		t.Error("a record of another format was read")
	}

	// A value that cannot be written as a line is not recorded at all.
	must(t, os.Remove(File(f.root)))
	save(f.exe, f.root, Record{Socket: "/tmp/a\nb"}, nil)
	if _, err := os.Stat(File(f.root)); err == nil {
		t.Error("a record with a newline in a value was saved")
	}

	// A binary outside the project's .pixi does not write its record.
	save(filepath.Join(t.TempDir(), "pixi-lima"), f.root, rec, nil)
	if _, err := os.Stat(File(f.root)); err == nil {
		t.Error("a binary outside .pixi saved a record for the project")
	}

	save(f.exe, f.root, rec, nil)
	// Readable by whoever runs docker next.
	if info, err := os.Stat(File(f.root)); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("record mode: %v, %v; want 0644", info.Mode(), err)
	}

	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Dir(File(f.root)))
	must(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".fastpath-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// The fast path's path helpers agree with the ones the full path uses.
func TestHelpers(t *testing.T) {
	if got, want := File("/p"), filepath.Join(env.NewPaths("/p").Prefix, "fastpath"); got != want {
		t.Errorf("File = %s, want %s (in env.Paths.Prefix)", got, want)
	}
	for _, p := range []string{"docker", "/a/b/docker", "a/docker-compose", "/x/", "/"} {
		if got, want := base(p), filepath.Base(p); got != want {
			t.Errorf("base(%q) = %q, filepath.Base says %q", p, got, want)
		}
	}
	for _, n := range []int{0, 1, 7, 10, 123} {
		if got, ok := parseDepth(formatDepth(n)); !ok || got != n {
			t.Errorf("depth %d: formatted and parsed %d, %v", n, got, ok)
		}
	}
}
