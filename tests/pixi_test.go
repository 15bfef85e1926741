package tests

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// pixi cannot run here (no conda-forge), so these tests do what pixi does
// with the manifest: parse it, source the activation script, and run each
// task's cmd with pixi's task shell from the project root with the
// arguments appended (taskshell_test.go). What they cannot prove (pixi's
// environment solve, its task cache, its activation cache) docs/pixi.md lists
// (What is verified).

type pixiManifest struct {
	Workspace struct {
		Name      string
		Channels  []string
		Platforms []string
	}
	Dependencies map[string]string
	Activation   struct{ Scripts []string }
	Tasks        map[string]pixiTask
	Feature      map[string]struct {
		Dependencies map[string]string
		Tasks        map[string]pixiTask
	}
	Environments map[string]any
}

type pixiTask struct {
	Cmd         string
	DependsOn   []any `toml:"depends-on"`
	Inputs      []string
	Outputs     []string
	Description string
}

func readManifest(t testing.TB) (pixiManifest, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "pixi.toml"))
	must(t, err)
	var m pixiManifest
	if err := toml.Unmarshal(data, &m); err != nil {
		t.Fatalf("pixi.toml: %v", err)
	}
	return m, data
}

var wantTasks = []string{"install", "container-init", "container-stop", "container-delete", "container-status",
	"container-clean-global", "docker", "compose", "compose-up", "compose-down"}

// TestPixiManifest checks the workspace, the dependencies of the default
// environment (docker's, nothing of install.sh's) and of the build
// environment, the task names, and that the install task's inputs cover
// every source file install.sh builds from.
func TestPixiManifest(t *testing.T) {
	m, _ := readManifest(t)
	if m.Workspace.Name != "pixi-lima" || !slices.Equal(m.Workspace.Channels, []string{"conda-forge"}) {
		t.Errorf("workspace: %+v", m.Workspace)
	}
	if want := []string{"osx-arm64", "osx-64", "linux-64", "linux-aarch64"}; !slices.Equal(m.Workspace.Platforms, want) {
		t.Errorf("platforms %v, want %v", m.Workspace.Platforms, want)
	}
	// docker and Compose are the real tools; go builds and bash runs
	// install.sh, in the build environment alone.
	if got := slices.Sorted(maps.Keys(m.Dependencies)); !slices.Equal(got, []string{"docker-buildx", "docker-cli", "docker-compose"}) {
		t.Errorf("dependencies %v, want docker's only", got)
	}
	build := m.Feature["build"]
	if got := slices.Sorted(maps.Keys(build.Dependencies)); !slices.Equal(got, []string{"bash", "go"}) {
		t.Errorf("the build feature's dependencies %v, want bash and go", got)
	}
	if want := map[string]any{"features": []any{"build"}, "no-default-feature": true}; !reflect.DeepEqual(m.Environments["build"], want) {
		t.Errorf("the build environment is %v, want %v", m.Environments["build"], want)
	}
	if got := slices.Sorted(maps.Keys(build.Tasks)); !slices.Equal(got, []string{"install"}) {
		t.Errorf("the build feature's tasks %v, want install", got)
	}
	install := build.Tasks["install"]
	names := []string{"install"}
	for name := range m.Tasks {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Clone(wantTasks)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tasks %v, want exactly %v", names, want)
	}
	needs := []any{map[string]any{"task": "install", "environment": "build"}}
	for name, task := range m.Tasks {
		if !reflect.DeepEqual(task.DependsOn, needs) {
			t.Errorf("task %s depends on %v, want %v", name, task.DependsOn, needs)
		}
		if task.Description == "" {
			t.Errorf("task %s has no description (pixi task list shows it)", name)
		}
	}
	if !slices.Equal(m.Activation.Scripts, []string{"env/activate.sh"}) {
		t.Errorf("activation scripts %v", m.Activation.Scripts)
	}
	mustExist(t, filepath.Join(repoRoot(t), "env", "activate.sh"))

	// A source change pixi does not see would leave a stale shim installed:
	// every file of the module that the binary is built from must be an input.
	if install.Description == "" {
		t.Error("task install has no description")
	}
	repo := repoRoot(t)
	list := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}`, ".")
	list.Dir = repo
	list.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sources := []string{"go.mod", "go.sum", "install.sh"}
	for _, path := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(repo, path)
		sources = append(sources, rel)
	}
	if len(sources) < 10 {
		t.Fatalf("go list found only %v", sources)
	}
	for _, src := range sources {
		if !slices.ContainsFunc(install.Inputs, func(glob string) bool { return pixiGlobMatch(glob, src) }) {
			t.Errorf("install's inputs %v miss %s", install.Inputs, src)
		}
	}
	if len(install.Outputs) == 0 {
		t.Error("install has no outputs: pixi would run it every time")
	}
}

// pixiGlobMatch matches the two glob shapes pixi.toml uses: a plain path,
// and "dir/**/*.ext".
func pixiGlobMatch(glob, path string) bool {
	if dir, pattern, ok := strings.Cut(glob, "/**/"); ok {
		matched, _ := filepath.Match(pattern, filepath.Base(path))
		return strings.HasPrefix(path, dir+"/") && matched
	}
	matched, _ := filepath.Match(glob, path)
	return matched
}

// TestPixiActivationWithoutShim sources env/activate.sh as pixi does in a
// workspace where install has not run yet: docker must be the
// environment's real docker, with one hint line and no loop.
func TestPixiActivationWithoutShim(t *testing.T) {
	root := t.TempDir()
	prefix := filepath.Join(root, ".pixi", "envs", "default")
	must(t, os.MkdirAll(filepath.Join(prefix, "bin"), 0o755))
	must(t, os.Symlink(realDocker(t), filepath.Join(prefix, "bin", "docker")))
	must(t, os.WriteFile(filepath.Join(root, "pixi.toml"), []byte("[workspace]\nname = \"w\"\n"), 0o644))
	script := filepath.Join(repoRoot(t), "env", "activate.sh")
	for _, shell := range []string{"bash", "dash"} {
		cmd := exec.Command(shell, "-c", `. "$1" && . "$1" && echo "PATH=$PATH" && command -v docker && docker --version`, shell, script)
		cmd.Dir = root
		cmd.Env = []string{"PIXI_PROJECT_ROOT=" + root, "CONDA_PREFIX=" + prefix, "PATH=" + filepath.Join(prefix, "bin") + ":/usr/bin:/bin", "HOME=" + root}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", shell, err, stdout.String(), stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		wantPath := "PATH=" + filepath.Join(root, ".pixi", "bin") + ":" + filepath.Join(prefix, "bin") + ":/usr/bin:/bin"
		if len(lines) != 3 || lines[0] != wantPath || lines[1] != filepath.Join(prefix, "bin", "docker") ||
			!strings.HasPrefix(lines[2], "Docker version ") {
			t.Errorf("%s: got\n%s\nwant %s, the environment's docker, and its version", shell, stdout.String(), wantPath)
		}
		// Sourced twice, so two lines at most; each one names the fix.
		hints := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(hints) != 2 || !strings.Contains(hints[0], "pixi run install") {
			t.Errorf("%s: stderr should be the one install hint per activation:\n%s", shell, stderr.String())
		}
	}
}

// TestPixiTasks runs every task of the repo's pixi.toml as pixi would,
// with pixi's task shell (see taskshell_test.go), in a copy of this
// repository with pixi-lima installed, against a real dockerd listening
// where the project's VM forwards docker's socket. (The tasks ran through
// bash before; that showed nothing the task shell does not, and
// TestPixiActivationWithoutShim sources the activation script in bash and
// dash.)
func TestPixiTasks(t *testing.T) {
	s := requireSetup(t)
	_, manifest := readManifest(t)
	p := newProject(t, s, string(manifest))
	// The workspace is pixi-lima's own checkout: the install task runs its
	// ./install.sh and the activation script is its env/activate.sh.
	run(t, exec.Command("rsync", "-a", "--exclude", ".pixi", "--exclude", ".git", "--exclude", "pixi.toml", s.Src+"/", p.Root+"/"))
	run(t, exec.Command("chown", "-R", "-h", fmt.Sprintf("%d:%d", s.UID, s.GID), p.Root))
	// No /usr/local/bin and no .pixi/bin: docker must come from the
	// environment or, once activated, the shim.
	environ := pixiEnv(t, p, append(withoutKey(p.Env(), "PATH"),
		"PATH="+strings.Join([]string{"/usr/local/go/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}, ":")))
	runEveryTask(t, p, newPixiRunner(p, environ), newPixiRunner(p, append(environ, "PIXI_STUB_KEEP_DASHDASH=1")),
		"install", "pixi-lima-docker", startEngine(t, p, "pixi-lima-docker"))
}

// realDocker is the docker CLI of this machine, standing in for the one
// pixi would install into the environment.
func realDocker(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("docker")
	if err != nil {
		skipUnlessRequired(t, "the docker CLI is not installed (tests/setup.sh installs docker.io)")
	}
	return path
}
