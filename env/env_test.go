package env

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tempDir is t.TempDir with its symlinks resolved, since FindRoot resolves them.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// workspace makes dir/pixi.toml (and dir itself).
func workspace(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, Manifest), []byte("[workspace]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func noEnv(string) string { return "" }

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// installShim lays out root/.pixi the way install.sh does and returns the
// path of root/.pixi/bin/docker, a symlink to the binary.
func installShim(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(root, ".pixi", "pixi-lima", "bin", "pixi-lima")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, ".pixi", "bin", "docker")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../pixi-lima/bin/pixi-lima", link); err != nil {
		t.Fatal(err)
	}
	return link
}

// wantRoot checks that FindRoot(exe, getenv, cwd) is want; why names the
// rule that should decide.
func wantRoot(t *testing.T, exe string, getenv func(string) string, cwd, want, why string) {
	t.Helper()
	got, err := FindRoot(exe, getenv, cwd)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("FindRoot(%q, cwd %s) = %s, want %s (%s)", exe, cwd, got, want, why)
	}
}

func TestFindRootExecutableWinsOverCwdAndVariable(t *testing.T) {
	base := tempDir(t)
	mine := workspace(t, filepath.Join(base, "mine"))
	other := workspace(t, filepath.Join(base, "other"))
	exe := installShim(t, mine)
	// The call comes from inside another repo, which pixi also names: the
	// shim in mine/.pixi/bin must still act on mine.
	wantRoot(t, exe, envOf(map[string]string{"PIXI_PROJECT_ROOT": other}), other, mine, "the repo holding the executable")
}

func TestFindRootExecutableInDotPixiWithoutManifestIsIgnored(t *testing.T) {
	base := tempDir(t)
	// A .pixi directory whose parent is no workspace: fall back to the cwd.
	exe := installShim(t, filepath.Join(base, "stray"))
	cwd := workspace(t, filepath.Join(base, "repo"))
	wantRoot(t, exe, noEnv, cwd, cwd, "the cwd's workspace")
}

func TestFindRootProjectRootVariable(t *testing.T) {
	base := tempDir(t)
	pixiRoot := workspace(t, filepath.Join(base, "a"))
	cwdRoot := workspace(t, filepath.Join(base, "b"))
	wantRoot(t, "/usr/bin/true", envOf(map[string]string{"PIXI_PROJECT_ROOT": pixiRoot}), cwdRoot, pixiRoot, "PIXI_PROJECT_ROOT")

	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := FindRoot("", envOf(map[string]string{"PIXI_PROJECT_ROOT": empty}), cwdRoot)
	if !errors.Is(err, ErrNoProject) || !strings.Contains(err.Error(), "PIXI_PROJECT_ROOT="+empty) || !strings.Contains(err.Error(), Manifest) {
		t.Errorf("PIXI_PROJECT_ROOT without %s: err = %v, want one naming the variable and the manifest", Manifest, err)
	}
}

func TestFindRootWalksUp(t *testing.T) {
	root := workspace(t, filepath.Join(tempDir(t), "repo"))
	deep := filepath.Join(root, "src", "pkg", "deeper")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	wantRoot(t, "", noEnv, deep, root, "the workspace above the cwd")
	// The nearest workspace wins: a nested one shadows the outer.
	inner := workspace(t, filepath.Join(root, "src", "pkg"))
	wantRoot(t, "", noEnv, deep, inner, "the nested workspace")
}

func TestFindRootResolvesSymlinks(t *testing.T) {
	base := tempDir(t)
	real := workspace(t, filepath.Join(base, "real"))
	if err := os.MkdirAll(filepath.Join(real, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() (string, error){
		"cwd":               func() (string, error) { return FindRoot("", noEnv, filepath.Join(link, "sub")) },
		"PIXI_PROJECT_ROOT": func() (string, error) { return FindRoot("", envOf(map[string]string{"PIXI_PROJECT_ROOT": link}), "/") },
		"executable": func() (string, error) {
			return FindRoot(filepath.Join(link, ".pixi", "bin", "docker"), noEnv, "/")
		},
	} {
		if name == "executable" {
			installShim(t, real)
		}
		got, err := call()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != real {
			t.Errorf("%s through symlink %s: FindRoot = %s, want the resolved %s", name, link, got, real)
		}
	}
}

func TestFindRootNoProject(t *testing.T) {
	for dir := tempDir(t); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, Manifest)); err == nil {
			t.Skipf("%s has a %s: cannot test the no-project case here", dir, Manifest)
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	cwd := tempDir(t)
	_, err := FindRoot("", noEnv, cwd)
	if !errors.Is(err, ErrNoProject) {
		t.Fatalf("FindRoot outside any workspace: err = %v, want ErrNoProject", err)
	}
	if !strings.Contains(err.Error(), cwd) {
		t.Errorf("error %q does not say where it looked (%s)", err, cwd)
	}
}

// writeFile writes dir/name, making dir.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A pyproject.toml with a pixi workspace table is a workspace, found by
// every rule; one without (a plain Python project, or only our own
// settings table) is not, and the search goes on above it.
func TestFindRootPyproject(t *testing.T) {
	base := tempDir(t)
	for name, text := range map[string]string{
		"workspace":    "[project]\nname = \"py\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n",
		"project":      "[tool.pixi.project]\nchannels = [\"conda-forge\"]\n", // pixi before 0.40
		"empty table":  "[tool.pixi.workspace]\n",
		"inline table": "[tool.pixi]\nworkspace = { channels = [] }\n",
		"subtable":     "[tool.pixi.workspace.target.linux-64]\n",
	} {
		root := filepath.Join(base, strings.ReplaceAll(name, " ", "-"))
		writeFile(t, root, Pyproject, text)
		deep := filepath.Join(root, "src", "pkg")
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		wantRoot(t, "", noEnv, deep, root, name+": the pyproject workspace above the cwd")
		wantRoot(t, "", envOf(map[string]string{"PIXI_PROJECT_ROOT": root}), "/", root, name+": PIXI_PROJECT_ROOT")
		wantRoot(t, installShim(t, root), noEnv, "/", root, name+": the repo holding the executable")
	}

	outer := workspace(t, filepath.Join(base, "outer"))
	for name, text := range map[string]string{
		"python only":    "[project]\nname = \"lib\"\n[tool.black]\nline-length = 100\n",
		"settings only":  "[project]\nname = \"lib\"\n[tool.pixi-lima]\ncpus = 4\n",
		"tasks only":     "[tool.pixi.tasks]\ntest = \"pytest\"\n",
		"text in string": "[project]\ndescription = \"not [tool.pixi.workspace]\"\n",
	} {
		inner := filepath.Join(outer, strings.ReplaceAll(name, " ", "-"))
		writeFile(t, inner, Pyproject, text)
		wantRoot(t, "", noEnv, inner, outer, name+": not a workspace, so the one above")
		if _, err := FindRoot("", envOf(map[string]string{"PIXI_PROJECT_ROOT": inner}), "/"); !errors.Is(err, ErrNoProject) {
			t.Errorf("%s: PIXI_PROJECT_ROOT on it: err = %v, want ErrNoProject", name, err)
		}
	}
}

// ManifestPath names the file the settings come from: pixi.toml wins over
// a pyproject workspace in the same directory, as in pixi, and a pixi.toml
// that exists but cannot be read is still the manifest (LoadConfig says
// why it cannot be read).
func TestManifestPath(t *testing.T) {
	base := tempDir(t)
	const py = "[tool.pixi.workspace]\n"
	both := workspace(t, filepath.Join(base, "both"))
	writeFile(t, both, Pyproject, py)
	pyOnly := filepath.Dir(writeFile(t, filepath.Join(base, "py"), Pyproject, py))
	dirManifest := filepath.Join(base, "dir")
	if err := os.MkdirAll(filepath.Join(dirManifest, Manifest), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dirManifest, Pyproject, py)
	plain := filepath.Dir(writeFile(t, filepath.Join(base, "plain"), Pyproject, "[project]\nname = \"x\"\n"))
	for dir, want := range map[string]string{
		both:        filepath.Join(both, Manifest),
		pyOnly:      filepath.Join(pyOnly, Pyproject),
		dirManifest: filepath.Join(dirManifest, Manifest),
		plain:       "",
		base:        "",
	} {
		if got := ManifestPath(dir); got != want {
			t.Errorf("ManifestPath(%s) = %q, want %q", dir, got, want)
		}
	}
}

func TestPaths(t *testing.T) {
	p := NewPaths("/r")
	for got, want := range map[string]string{
		p.Bin:                "/r/.pixi/bin",
		p.LimaHome:           "/r/.pixi/lima",
		p.DockerConfig:       "/r/.pixi/docker",
		p.Cache:              "/r/.pixi/pixi-lima/cache",
		p.Home:               "/r/.pixi/pixi-lima/home",
		p.InstanceDir("x"):   "/r/.pixi/lima/x",
		p.DockerSocket("x"):  "/r/.pixi/lima/x/sock/docker.sock",
		p.Limactl():          "/r/.pixi/pixi-lima/bin/limactl",
		p.LockFile():         "/r/.pixi/lima/.pixi-lima.lock",
		p.LogFile("x"):       "/r/.pixi/pixi-lima/log/x.log",
		filepath.Dir(p.Logs): p.Prefix,
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// count returns how many entries of environ set key, and the first value.
func count(environ []string, key string) (int, string) {
	n, first := 0, ""
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			if n == 0 {
				first = v
			}
			n++
		}
	}
	return n, first
}

func TestBuildReplacesNeverAppends(t *testing.T) {
	p := NewPaths("/r")
	base := []string{
		"PATH=/usr/bin",
		"DOCKER_HOST=tcp://127.0.0.1:1",
		"DOCKER_CONTEXT=mine",
		"HOME=/home/u",
		"DOCKER_HOST=tcp://127.0.0.1:2", // a duplicate in the user's own env
		"DOCKER_CONFIG=/home/u/.docker",
		"DOCKER_TLS_VERIFY=1",
		"DOCKER_CERT_PATH=/certs",
		"LIMA_HOME=/home/u/.lima",
		"EMPTY=",
	}
	saved := slices.Clone(base)
	got := Build(base, DockerOverrides(p, "x-docker"))
	if !slices.Equal(base, saved) {
		t.Errorf("Build modified its input: %q", base)
	}
	for key, want := range map[string]string{
		"DOCKER_HOST":   "unix:///r/.pixi/lima/x-docker/sock/docker.sock",
		"DOCKER_CONFIG": "/r/.pixi/docker",
		"LIMA_HOME":     "/r/.pixi/lima",
		"PATH":          "/usr/bin",
		"HOME":          "/home/u",
		"EMPTY":         "",
	} {
		if n, v := count(got, key); n != 1 || v != want {
			t.Errorf("%s: %d entries, first %q; want exactly one, %q", key, n, v, want)
		}
	}
	for _, key := range []string{"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"} {
		if n, _ := count(got, key); n != 0 {
			t.Errorf("%s survived: %q", key, got)
		}
	}
	// What the user set and we do not touch keeps its order.
	var kept []string
	for _, kv := range got {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "HOME" || k == "EMPTY" {
			kept = append(kept, k)
		}
	}
	if !slices.Equal(kept, []string{"PATH", "HOME", "EMPTY"}) {
		t.Errorf("untouched variables reordered: %q", kept)
	}
}

func TestHostEngineKeepsUsersDockerHost(t *testing.T) {
	got := Build([]string{"DOCKER_HOST=tcp://h:2375", "DOCKER_CONFIG=/u"}, HostEngineOverrides(NewPaths("/r")))
	if n, v := count(got, "DOCKER_HOST"); n != 1 || v != "tcp://h:2375" {
		t.Errorf("DOCKER_HOST = %d × %q, want the user's own", n, v)
	}
	if n, v := count(got, "DOCKER_CONFIG"); n != 1 || v != "/r/.pixi/docker" {
		t.Errorf("DOCKER_CONFIG = %d × %q, want the project's", n, v)
	}
}

func TestLimaOverridesPerOS(t *testing.T) {
	p := NewPaths("/r")
	base := []string{"HOME=/home/u", "LIMA_HOME=/elsewhere", "XDG_CACHE_HOME=/home/u/.cache"}

	linux := Build(base, LimaOverrides(p, "linux"))
	for key, want := range map[string]string{
		"LIMA_HOME":      "/r/.pixi/lima",
		"XDG_CACHE_HOME": "/r/.pixi/pixi-lima/cache", // Lima's cache follows XDG_CACHE_HOME on Linux
		"HOME":           "/home/u",                  // so HOME stays the user's
	} {
		if n, v := count(linux, key); n != 1 || v != want {
			t.Errorf("linux %s = %d × %q, want %q", key, n, v, want)
		}
	}

	darwin := Build(base, LimaOverrides(p, "darwin"))
	for key, want := range map[string]string{
		"LIMA_HOME": "/r/.pixi/lima",
		"HOME":      "/r/.pixi/pixi-lima/home", // ~/Library/Caches follows HOME only
	} {
		if n, v := count(darwin, key); n != 1 || v != want {
			t.Errorf("darwin %s = %d × %q, want %q", key, n, v, want)
		}
	}
}

// limaHomeOfLength returns a LIMA_HOME that makes the longest socket path of
// instance exactly n bytes long.
func limaHomeOfLength(t *testing.T, instance string, n int) string {
	t.Helper()
	// path = home + "/" + instance + "/" + longestSocketSuffix
	pad := n - len("/") - len(instance) - len("/") - len(longestSocketSuffix)
	home := "/" + strings.Repeat("h", pad-1)
	if got := len(filepath.Join(home, instance, longestSocketSuffix)); got != n {
		t.Fatalf("test bug: path is %d bytes, want %d", got, n)
	}
	return home
}

func TestCheckSocketBudgetBoundary(t *testing.T) {
	for _, tc := range []struct {
		goos  string
		limit int
	}{{"linux", 108}, {"darwin", 104}, {"freebsd", 104}} {
		if got := SocketLimit(tc.goos); got != tc.limit {
			t.Errorf("SocketLimit(%s) = %d, want %d", tc.goos, got, tc.limit)
		}
		// Shorter than the limit fits; exactly the limit does not (the
		// terminating NUL needs the last byte).
		if err := CheckSocketBudget(limaHomeOfLength(t, "p-docker", tc.limit-1), "p-docker", tc.goos); err != nil {
			t.Errorf("%s: %d bytes: %v, want it to fit", tc.goos, tc.limit-1, err)
		}
		home := limaHomeOfLength(t, "p-docker", tc.limit)
		err := CheckSocketBudget(home, "p-docker", tc.goos)
		var sock *SocketPathError
		if !errors.As(err, &sock) {
			t.Fatalf("%s: %d bytes: err = %v, want a SocketPathError", tc.goos, tc.limit, err)
		}
		want := filepath.Join(home, "p-docker", "ssh.sock.1234567890123456")
		if sock.Length != tc.limit || sock.Limit != tc.limit || sock.Path != want {
			t.Errorf("%s: got %+v, want length %d, limit %d, path %s", tc.goos, sock, tc.limit, tc.limit, want)
		}
		for _, part := range []string{strconv.Itoa(tc.limit) + " bytes", "shorter than " + strconv.Itoa(tc.limit), want} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: message %q lacks %q", tc.goos, err, part)
			}
		}
	}
}
