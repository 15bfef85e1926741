// Command pixistub stands in for pixi in the tests, where pixi cannot run
// (its packages come from conda-forge, which CI does not reach). It does
// what pixi does with a manifest for the two commands the README uses:
//
//   - pixi exec [-s SPEC]... [--] CMD ARGS...: runs CMD. The specs' tools
//     are those on the test's PATH.
//   - pixi run [-e ENV] [--] TASK ARGS...: runs TASK's depends-on first,
//     each once and each in its environment (a {task, environment} entry
//     names one), then TASK, each with pixi's own shell, deno_task_shell
//     (through `deno task --eval`, which runs that shell), from the
//     workspace root, with the arguments appended single-quoted as pixi
//     appends them (an embedded ' is not escaped: prefix-dev/pixi#3753). A
//     `--` right after the task name is dropped, as pixi 0.66 and later do;
//     with PIXI_STUB_KEEP_DASHDASH=1 it is passed on, as older pixi did.
//
// Without -e, TASK runs in the default environment when it has TASK and
// no other environment has another task of that name, else in the one
// environment that has it (pixi's SearchEnvironments.find_task). An
// environment is the features [environments] lists for it, then the
// default feature unless no-default-feature = true (pixi's order). Its
// prefix .pixi/envs/ENV gets the packages' programs this machine has
// (docker-cli, docker-compose, docker-buildx: PIXI_STUB_DOCKER,
// PIXI_STUB_COMPOSE, PIXI_STUB_BUILDX), its bin goes first on PATH, pixi's
// variables are set, and each feature's activation scripts (its most
// specific target's, for linux-64) are sourced in bash, as pixi does on
// unix; what they export is the task's environment. PIXI_STUB_DENO is the
// deno binary.
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
}

// environment is an environment's name and its features' tables, in
// pixi's order.
type environment struct {
	name     string
	features []map[string]any
}

type task struct {
	cmd       string
	dependsOn []step
	source    string // the table that defines it: one task in many environments
}

// step is a task to run in an environment.
type step struct{ task, env string }

func run(args []string) int {
	var explicit string
	for len(args) > 1 && (args[0] == "-e" || args[0] == "--environment") {
		explicit, args = args[1], args[2:]
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "--environment=") {
		explicit, args = strings.TrimPrefix(args[0], "--environment="), args[1:]
	}
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
	env, err := ws.pick(name, explicit)
	if err != nil {
		fail(err.Error())
	}
	environs := map[string][]string{}
	activated := func(env string) []string {
		if environs[env] == nil {
			e, err := ws.environment(env)
			if err == nil {
				environs[env], err = ws.activate(e)
			}
			if err != nil {
				fail(err.Error())
			}
		}
		return environs[env]
	}
	if _, ok := ws.task(env, name); !ok {
		// Not a task: pixi runs the words as a command, in the same shell.
		return ws.shell(activated(env), strings.Join(append([]string{name}, quoted(extra)...), " "))
	}
	// The tasks in the order pixi runs them: dependencies first, once each.
	var order []step
	var visit func(step) error
	visit = func(s step) error {
		if slices.Contains(order, s) {
			return nil
		}
		t, ok := ws.task(s.env, s.task)
		if !ok {
			return fmt.Errorf("no task %q in the environment %q", s.task, s.env)
		}
		for _, d := range t.dependsOn {
			if d.env == "" {
				d.env = s.env
			}
			if err := visit(d); err != nil {
				return err
			}
		}
		order = append(order, s)
		return nil
	}
	if err := visit(step{name, env}); err != nil {
		fail(err.Error())
	}
	for _, s := range order {
		t, _ := ws.task(s.env, s.task)
		line := t.cmd
		if s == (step{name, env}) && len(extra) > 0 {
			line += " " + strings.Join(quoted(extra), " ")
		}
		if code := ws.shell(activated(s.env), line); code != 0 {
			return code
		}
	}
	return 0
}

// pick is the environment pixi runs name in (a task, or else a command).
func (ws *workspace) pick(name, explicit string) (string, error) {
	if explicit != "" {
		_, err := ws.environment(explicit)
		return explicit, err
	}
	def, inDefault := ws.task("default", name)
	var have []string
	for _, env := range ws.environments() {
		if t, ok := ws.task(env, name); ok && (!inDefault || t.source != def.source) {
			have = append(have, env)
		}
	}
	switch {
	case inDefault && len(have) == 0:
		return "default", nil
	case inDefault:
		return "", fmt.Errorf("task %q is ambiguous: default and %v", name, have)
	case len(have) == 1:
		return have[0], nil
	case len(have) > 1:
		return "", fmt.Errorf("task %q is ambiguous: %v", name, have)
	}
	return "default", nil
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
			return ws, nil
		}
		if filepath.Dir(dir) == dir {
			return nil, errors.New("no pixi workspace here")
		}
	}
}

// environments are the names of the workspace's environments, default
// first.
func (ws *workspace) environments() []string {
	names := []string{"default"}
	for name := range table(ws.pixi, "environments") {
		if name != "default" {
			names = append(names, name)
		}
	}
	slices.Sort(names[1:])
	return names
}

// environment is the environment called name: the features
// [environments] lists for it, then the default feature (the top-level
// tables) unless it says no-default-feature = true.
func (ws *workspace) environment(name string) (*environment, error) {
	v, ok := table(ws.pixi, "environments")[name]
	if !ok && name != "default" {
		return nil, fmt.Errorf("unknown environment %q", name)
	}
	noDefault := false
	if t, isTable := v.(map[string]any); isTable {
		v, noDefault = t["features"], t["no-default-feature"] == true
	}
	env := &environment{name: name}
	for _, f := range asList(v) {
		ft := table(ws.pixi, "feature", f)
		if ft == nil {
			return nil, fmt.Errorf("environment %q: unknown feature %q", name, f)
		}
		env.features = append(env.features, ft)
	}
	if !noDefault {
		env.features = append(env.features, ws.pixi)
	}
	return env, nil
}

func (ws *workspace) task(envName, name string) (task, bool) {
	env, err := ws.environment(envName)
	if err != nil {
		return task{}, false
	}
	for _, f := range env.features {
		for _, tasks := range append(targeted(f, "tasks"), table(f, "tasks")) {
			v, ok := tasks[name]
			if !ok {
				continue
			}
			t := task{source: fmt.Sprintf("%p", tasks)}
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
						t.dependsOn = append(t.dependsOn, step{task: s})
					} else if m, ok := d.(map[string]any); ok {
						env, _ := m["environment"].(string)
						t.dependsOn = append(t.dependsOn, step{fmt.Sprint(m["task"]), env})
					}
				}
			}
			return t, true
		}
	}
	return task{}, false
}

// activate is the environment pixi gives a task.
func (ws *workspace) activate(env *environment) ([]string, error) {
	prefix := filepath.Join(ws.root, ".pixi", "envs", env.name)
	bin := filepath.Join(prefix, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	// "Install" the packages whose programs this machine has.
	provides := map[string]string{"docker-cli": "PIXI_STUB_DOCKER", "docker-compose": "PIXI_STUB_COMPOSE", "docker-buildx": "PIXI_STUB_BUILDX"}
	programs := map[string]string{"docker-cli": "docker", "docker-compose": "docker-compose", "docker-buildx": "docker-buildx"}
	for _, f := range env.features {
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
		"PIXI_ENVIRONMENT_NAME":      env.name,
		"PIXI_ENVIRONMENT_PLATFORMS": platform,
		"PIXI_PROMPT":                "(" + name + ") ",
		"CONDA_PREFIX":               prefix,
		"CONDA_DEFAULT_ENV":          name,
		"PATH":                       bin + ":" + os.Getenv("PATH"),
	} {
		environ = setenv(environ, k, v)
	}
	var scripts []string
	for _, f := range env.features {
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
