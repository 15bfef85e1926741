// Command pixistub stands in for pixi in the tests, where pixi cannot run
// (its packages come from conda-forge, which CI does not reach). It does
// what pixi does with a manifest for the two commands the README uses:
//
//   - pixi exec [-s SPEC]... [--] CMD ARGS...: runs CMD. The specs' tools
//     are those on the test's PATH.
//   - pixi run [--] TASK ARGS...: runs TASK's depends-on first, each once,
//     then TASK, each with pixi's own shell, deno_task_shell (through
//     `deno task --eval`, which runs that shell), from the workspace root,
//     with the arguments appended single-quoted as pixi appends them (an
//     embedded ' is not escaped: prefix-dev/pixi#3753). A `--` right after
//     the task name is dropped, as pixi 0.66 and later do; with
//     PIXI_STUB_KEEP_DASHDASH=1 it is passed on, as older pixi did.
//
// The environment is the default one: the features listed in
// [environments] default, then the default feature (pixi's order). Its
// prefix .pixi/envs/default gets the packages' programs this machine has
// (docker-cli, docker-compose, docker-buildx: PIXI_STUB_DOCKER,
// PIXI_STUB_COMPOSE, PIXI_STUB_BUILDX), its bin goes first on PATH, pixi's
// variables are set, and each feature's activation scripts (its most specific target's, for linux-64) are
// sourced in bash, as pixi does on unix; what they export is the task's
// environment. PIXI_STUB_DENO is the deno binary.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/pelletier/go-toml/v2"
)

const platform = "linux-64"

// targets are the selectors that match platform, most specific first.
var targets = []string{"linux-64", "linux", "unix"}

func main() {
	if len(os.Args) < 2 {
		fail("usage: pixi exec|run ...")
	}
	switch os.Args[1] {
	case "exec":
		args := os.Args[2:]
		for len(args) > 0 && (args[0] == "-s" || args[0] == "--spec" || args[0] == "-w" || args[0] == "--with") && len(args) > 1 {
			args = args[2:]
		}
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			fail("pixi exec: no command")
		}
		path, err := exec.LookPath(args[0])
		if err != nil {
			fail(err.Error())
		}
		fail(syscall.Exec(path, args, stubless(os.Environ())).Error())
	case "run":
		os.Exit(run(os.Args[2:]))
	}
	fail("pixistub: only exec and run")
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "pixi (stub):", msg)
	os.Exit(1)
}

type workspace struct {
	root, manifest string
	pixi           map[string]any // pixi's tables: the manifest, or its [tool.pixi]
	features       []map[string]any
}

type task struct {
	cmd       string
	dependsOn []string
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fail("pixi run: no task")
	}
	ws, err := find()
	if err != nil {
		fail(err.Error())
	}
	name, extra := args[0], args[1:]
	if len(extra) > 0 && extra[0] == "--" && os.Getenv("PIXI_STUB_KEEP_DASHDASH") != "1" {
		extra = extra[1:]
	}
	environ, err := ws.activate()
	if err != nil {
		fail(err.Error())
	}
	// The tasks in the order pixi runs them: dependencies first, once each.
	var order []string
	var visit func(string) error
	visit = func(n string) error {
		if slices.Contains(order, n) {
			return nil
		}
		t, ok := ws.task(n)
		if !ok {
			return fmt.Errorf("no task %q", n)
		}
		for _, d := range t.dependsOn {
			if err := visit(d); err != nil {
				return err
			}
		}
		order = append(order, n)
		return nil
	}
	if _, ok := ws.task(name); !ok {
		// Not a task: pixi runs the words as a command, in the same shell.
		return ws.shell(environ, strings.Join(append([]string{name}, quoted(extra)...), " "))
	}
	if err := visit(name); err != nil {
		fail(err.Error())
	}
	for _, n := range order {
		t, _ := ws.task(n)
		line := t.cmd
		if n == name && len(extra) > 0 {
			line += " " + strings.Join(quoted(extra), " ")
		}
		if code := ws.shell(environ, line); code != 0 {
			return code
		}
	}
	return 0
}

// quoted is pixi's quoting of extra arguments: each in single quotes, an
// embedded ' left as it is.
func quoted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + a + "'"
	}
	return out
}

func (ws *workspace) shell(environ []string, line string) int {
	deno := os.Getenv("PIXI_STUB_DENO")
	if deno == "" {
		fail("PIXI_STUB_DENO is not set")
	}
	cmd := exec.Command(deno, "task", "-q", "--cwd", ws.root, "--eval", line)
	cmd.Dir = ws.root
	// deno's own cache is the stand-in's, never the user's HOME.
	cmd.Env = append(environ, "DENO_DIR="+os.Getenv("PIXI_STUB_DENO_DIR"), "DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fail(err.Error())
	}
	return 0
}

// find is pixi's workspace discovery: pixi.toml, else a pyproject.toml
// with [tool.pixi], in the directory or above.
func find() (*workspace, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for ; ; dir = filepath.Dir(dir) {
		for _, name := range []string{"pixi.toml", "pyproject.toml"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			var doc map[string]any
			if err := toml.Unmarshal(data, &doc); err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			pixi := doc
			if name == "pyproject.toml" {
				if pixi = table(doc, "tool", "pixi"); pixi == nil {
					continue
				}
			}
			ws := &workspace{root: dir, manifest: filepath.Join(dir, name), pixi: pixi}
			for _, f := range features(pixi) {
				ws.features = append(ws.features, table(pixi, "feature", f))
			}
			ws.features = append(ws.features, pixi) // the default feature: the top-level tables
			return ws, nil
		}
		if filepath.Dir(dir) == dir {
			return nil, errors.New("no pixi workspace here")
		}
	}
}

// features are the default environment's, as [environments] lists them.
func features(pixi map[string]any) []string {
	v := table(pixi, "environments")["default"]
	if t, ok := v.(map[string]any); ok {
		v = t["features"]
	}
	return asList(v)
}

func (ws *workspace) task(name string) (task, bool) {
	for _, f := range ws.features {
		for _, tasks := range append(targeted(f, "tasks"), table(f, "tasks")) {
			v, ok := tasks[name]
			if !ok {
				continue
			}
			var t task
			switch v := v.(type) {
			case string:
				t.cmd = v
			case map[string]any:
				if list := asList(v["cmd"]); list != nil {
					t.cmd = strings.Join(list, " ")
				} else if s, ok := v["cmd"].(string); ok {
					t.cmd = s
				}
				deps, _ := v["depends-on"].([]any)
				for _, d := range deps {
					if s, ok := d.(string); ok {
						t.dependsOn = append(t.dependsOn, s)
					} else if m, ok := d.(map[string]any); ok {
						t.dependsOn = append(t.dependsOn, fmt.Sprint(m["task"]))
					}
				}
			}
			return t, true
		}
	}
	return task{}, false
}

// activate is the environment pixi gives a task.
func (ws *workspace) activate() ([]string, error) {
	prefix := filepath.Join(ws.root, ".pixi", "envs", "default")
	bin := filepath.Join(prefix, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	// "Install" the packages whose programs this machine has.
	provides := map[string]string{"docker-cli": "PIXI_STUB_DOCKER", "docker-compose": "PIXI_STUB_COMPOSE", "docker-buildx": "PIXI_STUB_BUILDX"}
	programs := map[string]string{"docker-cli": "docker", "docker-compose": "docker-compose", "docker-buildx": "docker-buildx"}
	for _, f := range ws.features {
		for _, deps := range append(targeted(f, "dependencies"), table(f, "dependencies")) {
			for pkg := range deps {
				if v := os.Getenv(provides[pkg]); v != "" {
					link := filepath.Join(bin, programs[pkg])
					if _, err := os.Lstat(link); err != nil {
						if err := os.Symlink(v, link); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	name, _ := table(ws.pixi, "workspace")["name"].(string)
	if name == "" {
		name = filepath.Base(ws.root)
	}
	environ := stubless(os.Environ())
	for k, v := range map[string]string{
		"PIXI_PROJECT_ROOT":          ws.root,
		"PIXI_PROJECT_NAME":          name,
		"PIXI_PROJECT_MANIFEST":      ws.manifest,
		"PIXI_ENVIRONMENT_NAME":      "default",
		"PIXI_ENVIRONMENT_PLATFORMS": platform,
		"PIXI_PROMPT":                "(" + name + ") ",
		"CONDA_PREFIX":               prefix,
		"CONDA_DEFAULT_ENV":          name,
		"PATH":                       bin + ":" + os.Getenv("PATH"),
	} {
		environ = setenv(environ, k, v)
	}
	var scripts []string
	for _, f := range ws.features {
		for _, a := range append(targeted(f, "activation"), table(f, "activation")) {
			if list := asList(a["scripts"]); list != nil {
				for _, s := range list {
					scripts = append(scripts, filepath.Join(ws.root, s))
				}
				break // the most specific target's scripts replace the others'
			}
		}
	}
	if len(scripts) == 0 {
		return environ, nil
	}
	cmd := exec.Command("bash", append([]string{"-c", `for s; do . "$s" || exit; done; env -0`, "bash"}, scripts...)...)
	cmd.Dir, cmd.Env, cmd.Stderr = ws.root, environ, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("activation %v: %v", scripts, err)
	}
	var activated []string
	for _, kv := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if k, _, _ := strings.Cut(string(kv), "="); k != "_" && k != "SHLVL" && k != "PWD" && k != "OLDPWD" {
			activated = append(activated, string(kv))
		}
	}
	return activated, nil
}

// targeted are the feature's [target.SELECTOR.<kind>] tables that apply,
// most specific first.
func targeted(feature map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, sel := range targets {
		if t := table(feature, "target", sel, kind); t != nil {
			out = append(out, t)
		}
	}
	return out
}

func table(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func asList(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func setenv(environ []string, key, value string) []string {
	out := slices.DeleteFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
	return append(out, key+"="+value)
}

// stubless drops the stand-in's own settings: the tasks never see them.
func stubless(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool { return strings.HasPrefix(kv, "PIXI_STUB_") })
}
