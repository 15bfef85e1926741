package shim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/shim/manifest"
)

// feature is the pixi feature adopt puts everything in. A feature, not the
// workspace's own [dependencies], [activation] and [tasks]: pixi runs the
// activation scripts of every feature of an environment, but a table's
// scripts list replaces another's, so joining the user's own list would
// mean changing their line. The default environment gets the feature.
const feature = "pixi-lima"

// installTask is what pixi-lima's own install task is called in a user's
// workspace, where "install" is likely taken (pip install -e ., say).
const installTask = "pixi-lima-install"

// cmdAdopt adds to the workspace's manifest what pixi-lima needs, taken
// from the checkout's own pixi.toml: its dependencies, its activation
// script and the tasks that use the install (the install task pointed at
// the checkout). Nothing the user wrote changes; a re-run adds nothing.
func (s *session) cmdAdopt(args []string) error {
	var dryRun bool
	var checkout string
	if err := s.flags("adopt", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "print the change as a diff, write nothing")
		fs.StringVar(&checkout, "checkout", "", "the pixi-lima checkout the tasks run install.sh from (default: pixi-lima/ in the workspace)")
	}); err != nil {
		return err
	}
	exe, _ := os.Executable()
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := env.FindRoot(exe, s.getenv, cwd)
	if err != nil {
		return err
	}
	if checkout == "" {
		checkout = filepath.Join(root, "pixi-lima")
	}
	src, err := readCheckout(checkout)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, src.dir)
	if err != nil || rel == "." {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("%s is pixi-lima's own workspace: it has all of this already", root)}
	}
	rel = filepath.ToSlash(rel)

	path := env.ManifestPath(root)
	name := filepath.Base(path)
	old, err := os.ReadFile(path)
	if err != nil {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	edit, err := manifest.Parse(old)
	if err != nil {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("%s is not valid TOML: %v", name, err), Hint: "fix it, then run pixi-lima adopt again"}
	}
	var pixi []string // where pixi's tables are: pixi.toml's top, or [tool.pixi]
	if name == env.Pyproject {
		pixi = []string{"tool", "pixi"}
	}
	if err := adopt(edit, pixi, src, rel); err != nil {
		return err
	}
	out, err := edit.Result([]string{
		"pixi-lima: this workspace's own Docker engine, in a Lima VM whose state",
		"stays in .pixi/ (pixi run docker ps; pixi run container-status). Added by",
		"`pixi-lima adopt` from the pixi-lima checkout in " + rel + "/; see its README.md.",
		"macOS and Linux only: a Windows platform gets none of the dependencies.",
	})
	if err != nil {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("cannot add pixi-lima to %s without changing what is there: %v", name, err),
			Hint: "add what pixi-lima's README (Use it in your workspace) lists by hand"}
	}
	if !edit.Changed() {
		s.printf("%s has all pixi-lima needs already; nothing to add", name)
		return nil
	}
	if dryRun {
		fmt.Fprint(s.stdout, manifest.Diff(name, string(old), string(out)))
		s.printf("--dry-run: %s not changed", name)
		return nil
	}
	if err := writeKeepingMode(path, out); err != nil {
		return err
	}
	s.printf("added the feature %q to %s (its dependencies, activation and tasks) and to the default environment; next: pixi run docker ps", feature, name)
	for _, c := range channelsWithout(edit, pixi, "conda-forge") {
		s.printf("note: pixi-lima's packages come from conda-forge, which %s's channels (%s) do not list", name, c)
	}
	return nil
}

// checkout is what adopt takes from pixi-lima's own workspace.
type checkout struct {
	dir      string
	manifest *manifest.Edit
	deps     map[string]any
	scripts  []string
	tasks    map[string]task
}

type task struct {
	Cmd         string   `toml:"cmd"`
	DependsOn   []string `toml:"depends-on"`
	Description string   `toml:"description"`
	Inputs      []string `toml:"inputs"`
	Outputs     []string `toml:"outputs"`
}

func readCheckout(dir string) (*checkout, error) {
	hint := "give the checkout: pixi-lima adopt --checkout DIR (or run DIR/install.sh --adopt)"
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, &Error{Code: ExitConfig, Msg: "no pixi-lima checkout at " + dir, Hint: hint}
	}
	dir = resolved
	data, err := os.ReadFile(filepath.Join(dir, env.Manifest))
	if err != nil {
		return nil, &Error{Code: ExitConfig, Msg: dir + " is not a pixi-lima checkout: " + err.Error(), Hint: hint}
	}
	var doc struct {
		Dependencies map[string]any
		Activation   struct{ Scripts []string }
		Tasks        map[string]task
	}
	m, err := manifest.Parse(data)
	if err == nil {
		err = toml.Unmarshal(data, &doc)
	}
	if err != nil || doc.Tasks["install"].Cmd == "" {
		return nil, &Error{Code: ExitConfig, Msg: fmt.Sprintf("%s is not a pixi-lima checkout: its pixi.toml has no install task (%v)", dir, err), Hint: hint}
	}
	return &checkout{dir: dir, manifest: m, deps: doc.Dependencies, scripts: doc.Activation.Scripts, tasks: doc.Tasks}, nil
}

// adopt adds pixi-lima's feature to the manifest: pixi's tables are under
// the path pixi ([] in pixi.toml, tool.pixi in pyproject.toml), the
// checkout is at rel from the workspace root.
func adopt(edit *manifest.Edit, pixi []string, src *checkout, rel string) error {
	at := func(path ...string) []string { return append(slices.Clone(pixi), path...) }
	unix := at("feature", feature, "target", "unix")
	var conflicts []string
	add := func(table []string, key string, value any) {
		if err := edit.Add(table, key, value); err != nil {
			conflicts = append(conflicts, err.Error())
		}
	}
	for _, dep := range src.manifest.Keys("dependencies") {
		if spec, ok := src.deps[dep].(string); ok {
			add(append(slices.Clone(unix), "dependencies"), dep, spec)
		}
	}
	var scripts []string
	for _, s := range src.scripts {
		scripts = append(scripts, rel+"/"+s)
	}
	add(append(slices.Clone(unix), "activation"), "scripts", scripts)

	// The install task and the tasks that use it, in the checkout's order.
	// A task of the user's own with the same name is fine when it runs the
	// same command; otherwise it is a clash, which adopt will not resolve.
	theirs := userTasks(edit, pixi)
	var clashes []string
	for _, name := range src.manifest.Keys("tasks") {
		t := src.tasks[name]
		t.DependsOn, t.Inputs = slices.Clone(t.DependsOn), slices.Clone(t.Inputs)
		if name != "install" && !slices.Contains(t.DependsOn, "install") {
			continue
		}
		if name == "install" {
			name = installTask
			t.Cmd = rel + "/install.sh"
			// pixi takes inputs relative to the workspace, and only inside
			// it. A checkout outside gets neither inputs nor outputs (with
			// outputs alone pixi could skip a needed rebuild), so pixi runs
			// the task every time, which install.sh makes a silent no-op of
			// about 60 ms.
			if rel == ".." || strings.HasPrefix(rel, "../") {
				t.Inputs, t.Outputs = nil, nil
			}
			for i, g := range t.Inputs {
				t.Inputs[i] = rel + "/" + g
			}
		}
		for i, d := range t.DependsOn {
			if d == "install" {
				t.DependsOn[i] = installTask
			}
		}
		if cmd, where, ok := theirs(name); ok {
			if cmd != t.Cmd {
				clashes = append(clashes, fmt.Sprintf("task %q in %s runs %q, pixi-lima's runs %q", name, where, cmd, t.Cmd))
			}
			continue
		}
		table := at("feature", feature, "tasks", name)
		add(table, "cmd", t.Cmd)
		if len(t.DependsOn) > 0 {
			add(table, "depends-on", t.DependsOn)
		}
		if t.Description != "" {
			add(table, "description", t.Description)
		}
		if len(t.Inputs) > 0 {
			add(table, "inputs", t.Inputs)
		}
		if len(t.Outputs) > 0 {
			add(table, "outputs", t.Outputs)
		}
	}
	if len(clashes) > 0 {
		return &Error{Code: ExitRefused, Msg: "pixi-lima's tasks clash with this workspace's:\n  " + strings.Join(clashes, "\n  "),
			Hint: "rename or remove yours (adopt changes nothing you wrote), then run pixi-lima adopt again"}
	}

	// The default environment: the default feature and ours.
	envs := at("environments")
	if have, ok := edit.Get(append(envs, "default")...); ok {
		if !slices.Contains(features(have), feature) {
			return &Error{Code: ExitRefused, Msg: fmt.Sprintf("[%s] default is %v, without the feature %q", strings.Join(envs, "."), have, feature),
				Hint: fmt.Sprintf("add %q to its features by hand (adopt changes nothing you wrote), then run pixi-lima adopt again", feature)}
		}
	} else {
		add(envs, "default", []string{feature})
	}
	if len(conflicts) > 0 {
		return &Error{Code: ExitRefused, Msg: "the manifest's [feature.pixi-lima] differs from what this pixi-lima adds:\n  " + strings.Join(conflicts, "\n  "),
			Hint: "remove the [feature.pixi-lima...] tables (an older pixi-lima's), then run pixi-lima adopt again"}
	}
	return nil
}

// userTasks looks a task up among the workspace's own: the default
// feature's tasks, its targets' and those of the other features of the
// default environment. It returns the task's command and where it is.
func userTasks(edit *manifest.Edit, pixi []string) func(name string) (cmd, where string, ok bool) {
	var places [][]string
	places = append(places, append(slices.Clone(pixi), "tasks"))
	for _, t := range edit.Keys(append(slices.Clone(pixi), "target")...) {
		places = append(places, append(slices.Clone(pixi), "target", t, "tasks"))
	}
	if have, ok := edit.Get(append(slices.Clone(pixi), "environments", "default")...); ok {
		for _, f := range features(have) {
			if f != feature {
				places = append(places, append(slices.Clone(pixi), "feature", f, "tasks"))
			}
		}
	}
	return func(name string) (string, string, bool) {
		for _, p := range places {
			v, ok := edit.Get(append(slices.Clone(p), name)...)
			if !ok {
				continue
			}
			if t, ok := v.(map[string]any); ok {
				v = t["cmd"]
			}
			cmd := fmt.Sprint(v)
			if list, ok := v.([]any); ok { // pixi takes a command as a list of words too
				cmd = strings.Trim(fmt.Sprint(list), "[]")
			}
			return cmd, "[" + strings.Join(p, ".") + "]", true
		}
		return "", "", false
	}
}

// features are the features of an [environments] entry: a list, or a
// table with a features list.
func features(env any) []string {
	if t, ok := env.(map[string]any); ok {
		env = t["features"]
	}
	var names []string
	if list, ok := env.([]any); ok {
		for _, f := range list {
			if s, ok := f.(string); ok {
				names = append(names, s)
			}
		}
	}
	return names
}

// channelsWithout lists the workspace's channels when they lack channel.
func channelsWithout(edit *manifest.Edit, pixi []string, channel string) []string {
	for _, table := range []string{"workspace", "project"} {
		v, ok := edit.Get(append(slices.Clone(pixi), table, "channels")...)
		if !ok {
			continue
		}
		list, _ := v.([]any)
		for _, c := range list {
			if reflect.DeepEqual(c, channel) || strings.HasSuffix(fmt.Sprint(c), "/"+channel) {
				return nil
			}
		}
		return []string{fmt.Sprint(list)}
	}
	return nil
}

// writeKeepingMode replaces path (through a symlink: its target) with
// data, atomically and with the file's mode.
func writeKeepingMode(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	tmp := target + ".pixi-lima-adopt"
	if err := os.WriteFile(tmp, data, info.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Chmod(tmp, info.Mode().Perm()); err != nil { // WriteFile's mode is masked by umask
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
