package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// pixi cannot run here (no conda-forge), so these tests do what pixi does
// with the manifest: parse it, source the activation script, and run each
// task's cmd through a shell from the project root with the arguments
// appended. What they cannot prove (pixi's own task shell, its activation
// cache, its `--` handling) README's "pixi integration" lists.

type pixiManifest struct {
	Workspace struct {
		Name      string
		Channels  []string
		Platforms []string
	}
	Dependencies map[string]string
	Activation   struct{ Scripts []string }
	Tasks        map[string]pixiTask
}

type pixiTask struct {
	Cmd         string
	DependsOn   []string `toml:"depends-on"`
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

// TestPixiManifest checks the workspace, dependencies and task names issue 4
// asks for, and that the install task's inputs cover every source file
// install.sh builds from.
func TestPixiManifest(t *testing.T) {
	m, _ := readManifest(t)
	if m.Workspace.Name != "pixi-lima" || !slices.Equal(m.Workspace.Channels, []string{"conda-forge"}) {
		t.Errorf("workspace: %+v", m.Workspace)
	}
	if want := []string{"osx-arm64", "osx-64", "linux-64", "linux-aarch64"}; !slices.Equal(m.Workspace.Platforms, want) {
		t.Errorf("platforms %v, want %v", m.Workspace.Platforms, want)
	}
	// docker and Compose are the real tools; go builds; bash runs install.sh.
	for _, dep := range []string{"docker-cli", "docker-compose", "go", "bash"} {
		if _, ok := m.Dependencies[dep]; !ok {
			t.Errorf("dependency %s missing", dep)
		}
	}
	var names []string
	for name := range m.Tasks {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Clone(wantTasks)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tasks %v, want exactly %v", names, want)
	}
	for name, task := range m.Tasks {
		if name != "install" && !slices.Equal(task.DependsOn, []string{"install"}) {
			t.Errorf("task %s depends on %v, want [install]", name, task.DependsOn)
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
	install := m.Tasks["install"]
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

// TestPixiTasks runs every task of the repo's pixi.toml the way pixi would,
// in a copy of this repository with pixi-lima installed, against a real
// dockerd listening where the project's VM forwards docker's socket.
func TestPixiTasks(t *testing.T) {
	s := requireSetup(t)
	m, manifest := readManifest(t)
	p := newProject(t, s, string(manifest))
	// The workspace is pixi-lima's own checkout: the install task runs its
	// ./install.sh and the activation script is its env/activate.sh.
	run(t, exec.Command("rsync", "-a", "--exclude", ".pixi", "--exclude", ".git", "--exclude", "pixi.toml", s.Src+"/", p.Root+"/"))
	// The environment pixi would install: the real docker and Compose.
	prefix := filepath.Join(p.Root, ".pixi", "envs", "default")
	must(t, os.MkdirAll(filepath.Join(prefix, "bin"), 0o755))
	must(t, os.Symlink(realDocker(t), filepath.Join(prefix, "bin", "docker")))
	must(t, os.Symlink(filepath.Join(s.Tools, "docker-compose"), filepath.Join(prefix, "bin", "docker-compose")))
	hello := filepath.Join(p.Root, "hello")
	must(t, os.MkdirAll(hello, 0o755))
	run(t, exec.Command("cp", "/bin/busybox", filepath.Join(hello, "busybox")))
	must(t, os.WriteFile(filepath.Join(hello, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(p.Root, "compose.yaml"), []byte(`name: pltasks
services:
  hello:
    image: pl-hello:test
    pull_policy: never
    network_mode: none
    command: ["sleep", "300"]
`), 0o644))
	run(t, exec.Command("chown", "-R", "-h", fmt.Sprintf("%d:%d", s.UID, s.GID), p.Root))

	// runTask is `pixi run NAME ARGS…`: its dependencies first, then its
	// cmd with the arguments quoted and appended, in the activated
	// environment, from the project root.
	environ := append(withoutKey(p.Env(), "PATH"),
		"PIXI_PROJECT_ROOT="+p.Root, "CONDA_PREFIX="+prefix, "PIXI_ENVIRONMENT_NAME=default",
		// No /usr/local/bin: docker must come from the environment or the shim.
		"PATH="+strings.Join([]string{filepath.Join(prefix, "bin"), "/usr/local/go/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}, ":"))
	runTask := func(name string, args ...string) (string, string, int) {
		t.Helper()
		task, ok := m.Tasks[name]
		if !ok {
			t.Fatalf("no task %s", name)
		}
		for _, dep := range task.DependsOn {
			dt := m.Tasks[dep]
			p.MustRun(t, taskCommand(p, environ, dt.Cmd))
		}
		line := task.Cmd
		for _, a := range args {
			line += " " + shQuote(a)
		}
		return p.Run(t, taskCommand(p, environ, line))
	}
	mustTask := func(name string, args ...string) string {
		t.Helper()
		out, errOut, code := runTask(name, args...)
		if code != 0 {
			t.Fatalf("pixi run %s %v: exit %d\nstdout:\n%s\nstderr:\n%s", name, args, code, out, errOut)
		}
		return out
	}

	// install: a second run finds nothing to do, so it says nothing and
	// changes nothing under .pixi, and leaves every output.
	before := snapshotTree(t, filepath.Join(p.Root, ".pixi"))
	if out, errOut, code := runTask("install"); code != 0 || out+errOut != "" {
		t.Errorf("install after newProject had installed: exit %d, want 0 and no output; it said:\n%s%s", code, out, errOut)
	}
	sameTree(t, before, snapshotTree(t, filepath.Join(p.Root, ".pixi")))
	for _, out := range m.Tasks["install"].Outputs {
		mustExist(t, filepath.Join(p.Root, out))
	}

	// In the activated environment plain docker is the shim.
	out := p.MustRun(t, taskCommand(p, environ, "command -v docker && command -v docker-compose"))
	if want := p.Bin("docker") + "\n" + p.Bin("docker-compose") + "\n"; out != want {
		t.Errorf("after activation docker is\n%s\nwant\n%s", out, want)
	}

	// The project's instance, created by the real limactl (never booted),
	// and a real dockerd answering on the socket Lima would forward.
	instance := "pixi-lima-docker"
	p.MustRun(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+instance, "template://docker",
		"--set", localImage(qcowImage(t, p))))
	sock := filepath.Join(p.Root, ".pixi", "lima", instance, "sock", "docker.sock")
	stopDockerd := startDockerd(t, p, sock)

	// container-status and container-init see the engine without booting anything.
	if out := mustTask("container-status"); !strings.Contains(out, "instance:  "+instance) || !strings.Contains(out, "state:     Stopped") {
		t.Errorf("container-status:\n%s", out)
	}
	if out := mustTask("container-status", "--json"); !strings.Contains(out, `"instance": "`+instance+`"`) {
		t.Errorf("container-status --json:\n%s", out)
	}
	if _, errOut, code := runTask("container-init"); code != 0 || !strings.Contains(errOut, "is running") {
		t.Errorf("container-init: exit %d\n%s", code, errOut)
	}

	// docker and compose: the same with and without pixi's `--`.
	for _, tc := range []struct{ task, want string }{
		{"docker", "Server:"},
		{"compose", "Docker Compose version"},
	} {
		withDash := mustTask(tc.task, "--", "version")
		without := mustTask(tc.task, "version")
		if withDash != without || !strings.Contains(withDash, tc.want) {
			t.Errorf("pixi run %s -- version:\n%s\npixi run %s version:\n%s", tc.task, withDash, tc.task, without)
		}
	}
	mustTask("docker", "--", "build", "-q", "-t", "pl-hello:test", "hello")
	if out := mustTask("docker", "--", "run", "--rm", "--network=none", "pl-hello:test", "echo", "hi from busybox"); out != "hi from busybox\n" {
		t.Errorf("docker -- run: %q", out)
	}
	mustTask("compose-up")
	if out := mustTask("docker", "ps", "-a", "--format", "{{.Names}} {{.State}}"); !strings.Contains(out, "pltasks-hello-1 running") {
		t.Errorf("after compose-up, docker ps -a:\n%s", out)
	}
	if out := mustTask("compose", "--", "ps", "--services"); out != "hello\n" {
		t.Errorf("compose -- ps --services: %q", out)
	}
	mustTask("compose-down")
	if out := mustTask("docker", "ps", "-a", "-q"); out != "" {
		t.Errorf("after compose-down, docker ps -a -q: %q", out)
	}

	// container-clean-global: the sandbox HOME has no Lima state.
	if out := mustTask("container-clean-global"); !strings.Contains(out, "nothing to clean") {
		t.Errorf("container-clean-global:\n%s", out)
	}

	// container-stop, then container-delete: refused without a terminal,
	// done with --force appended as a pixi user would.
	stopDockerd()
	if _, errOut, code := runTask("container-stop"); code != 0 || !strings.Contains(errOut, "already stopped") {
		t.Errorf("container-stop: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runTask("container-delete"); code != 4 {
		t.Errorf("container-delete without a terminal: exit %d, want 4\n%s", code, errOut)
	}
	mustTask("container-delete", "--force")
	mustNotExist(t, filepath.Join(p.Root, ".pixi", "lima", instance))
}

// taskCommand runs one task line as pixi does: in the activated
// environment (env/activate.sh sourced), through a shell, from the root.
func taskCommand(p *Project, environ []string, line string) *exec.Cmd {
	cmd := p.Command("bash", "-c", `. "$PIXI_PROJECT_ROOT/env/activate.sh" && `+line)
	cmd.Env = environ
	return cmd
}

// realDocker is the docker CLI of this machine, standing in for the one
// pixi would install into the environment.
func realDocker(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not installed")
	}
	return path
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
