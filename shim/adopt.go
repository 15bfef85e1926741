package shim

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/atomicfile"
	"github.com/pixi-lima/pixi-lima/shim/manifest"
)

// feature is the pixi feature adopt puts what running docker needs in,
// and adds to every environment that has the default feature. A feature,
// not the workspace's own [dependencies], [activation] and [tasks]: pixi
// runs the activation scripts of every feature of an environment, but a
// target's scripts list replaces the feature's own, so the user's list
// stays theirs.
const feature = "pixi-lima"

// buildEnv is the feature and the environment of install.sh's tools (Go,
// bash), apart from the user's environments: there GNU tools would shadow
// macOS's own in every task, and pixi-lima's Go would have to solve
// with the workspace's.
const buildEnv = "pixi-lima-build"

// installTask is what pixi-lima's own install task is called in a user's
// workspace, where "install" is likely taken (pip install -e ., say).
const installTask = "pixi-lima-install"

// The checkout's own names for them.
const (
	checkoutBuild   = "build"
	checkoutInstall = "install"
)

// cmdAdopt adds to the workspace's manifest what pixi-lima needs, taken
// from the checkout's own pixi.toml: its dependencies, its activation
// script and the tasks that use the install (the install task pointed at
// the checkout), and the feature to the user's environments. Of what the
// user wrote only environments' feature lists change, by one item; a
// re-run adds nothing.
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
	envs, err := adopt(edit, pixi, src, rel)
	if err != nil {
		return err
	}
	out, err := edit.Result([]string{
		"pixi-lima: this workspace's own Docker engine, in a Lima VM whose state",
		"stays in .pixi/ (pixi run docker ps; pixi run container-status). Added by",
		"`pixi-lima adopt` from the pixi-lima checkout in " + rel + "/; see its README.md.",
		"macOS and Linux only: a Windows platform gets none of the dependencies.",
		"install.sh's Go and bash are in the environment " + buildEnv + " alone.",
	})
	if err != nil {
		return &Error{Code: ExitConfig, Msg: fmt.Sprintf("cannot add pixi-lima to %s without changing what is there: %v", name, err),
			Hint: "add what pixi-lima's README (Use it in your workspace) lists by hand"}
	}
	for _, w := range envs.without {
		s.printf("note: the environment %q has no-default-feature = true and stays without pixi-lima; for docker there, make it\n  %s", w.name, w.line)
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
	s.printf("added the feature %q to %s (its dependencies, activation and tasks) and to the environments %s, and the environment %s for install.sh; next: pixi run docker ps",
		feature, name, strings.Join(envs.with, ", "), buildEnv)
	for _, c := range channelsWithout(edit, pixi, "conda-forge") {
		s.printf("note: pixi-lima's packages come from conda-forge, which %s's channels (%s) do not list", name, c)
	}
	return nil
}

// checkout is what adopt takes from pixi-lima's own workspace.
type checkout struct {
	dir      string
	manifest *manifest.Edit
	deps     map[string]any // the default feature's: what running docker needs
	build    map[string]any // the build feature's: install.sh's tools
	scripts  []string
	tasks    map[string]task // the default feature's, and install
}

type task struct {
	Cmd         string   `toml:"cmd"`
	DependsOn   []any    `toml:"depends-on"` // a task's name, or {task, environment}
	Description string   `toml:"description"`
	Inputs      []string `toml:"inputs"`
	Outputs     []string `toml:"outputs"`
}

// needs is the names of the tasks t depends on.
func (t task) needs() []string {
	var names []string
	for _, d := range t.DependsOn {
		if m, ok := d.(map[string]any); ok {
			d = m["task"]
		}
		names = append(names, fmt.Sprint(d))
	}
	return names
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
	type features struct {
		Dependencies map[string]any
		Tasks        map[string]task
	}
	var doc struct {
		Dependencies map[string]any
		Activation   struct{ Scripts []string }
		Tasks        map[string]task
		Feature      map[string]features
	}
	m, err := manifest.Parse(data)
	if err == nil {
		err = toml.Unmarshal(data, &doc)
	}
	install := doc.Feature[checkoutBuild].Tasks[checkoutInstall]
	if err != nil || install.Cmd == "" {
		return nil, &Error{Code: ExitConfig, Msg: fmt.Sprintf("%s is not a pixi-lima checkout: its pixi.toml has no install task in the feature %q (%v)", dir, checkoutBuild, err), Hint: hint}
	}
	tasks := maps.Clone(doc.Tasks)
	if tasks == nil {
		tasks = map[string]task{}
	}
	tasks[checkoutInstall] = install
	return &checkout{dir: dir, manifest: m, deps: doc.Dependencies, build: doc.Feature[checkoutBuild].Dependencies,
		scripts: doc.Activation.Scripts, tasks: tasks}, nil
}

// environments is what adopt does with the user's environments: the
// names of those that get the feature (or have it), and those it leaves
// alone, each with the line that would give it the feature.
type environments struct {
	with    []string
	without []struct{ name, line string }
}

// adopt adds pixi-lima's features to the manifest: pixi's tables are under
// the path pixi ([] in pixi.toml, tool.pixi in pyproject.toml), the
// checkout is at rel from the workspace root.
func adopt(edit *manifest.Edit, pixi []string, src *checkout, rel string) (*environments, error) {
	at := func(path ...string) []string { return append(slices.Clone(pixi), path...) }
	var conflicts []string
	add := func(table []string, key string, value any) {
		if err := edit.Add(table, key, value); err != nil {
			conflicts = append(conflicts, err.Error())
		}
	}
	envs, grow, err := planEnvironments(edit, pixi)
	if err != nil {
		return nil, err
	}

	unix := at("feature", feature, "target", "unix")
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

	// The tasks that use the install, in the checkout's order, then the
	// install task, in the build feature. A task of the user's own with
	// the same name is fine when it runs the same command; otherwise it is
	// a clash, which adopt will not resolve.
	theirs := userTasks(edit, pixi, envs.with)
	var clashes []string
	var tables [][]string
	var tasks []task
	for _, name := range append(src.manifest.Keys("tasks"), checkoutInstall) {
		t := src.tasks[name]
		table := at("feature", feature, "tasks", name)
		if name == checkoutInstall {
			name, table = installTask, at("feature", buildEnv, "tasks", installTask)
			t.Cmd = rel + "/install.sh"
			// pixi takes inputs relative to the workspace, and only inside
			// it. A checkout outside gets neither inputs nor outputs (with
			// outputs alone pixi could skip a needed rebuild), so pixi runs
			// the task every time, which install.sh makes a silent no-op of
			// about 60 ms.
			if rel == ".." || strings.HasPrefix(rel, "../") {
				t.Inputs, t.Outputs = nil, nil
			}
			t.Inputs = slices.Clone(t.Inputs)
			for i, g := range t.Inputs {
				t.Inputs[i] = rel + "/" + g
			}
		} else if !slices.Contains(t.needs(), checkoutInstall) {
			continue
		}
		// install runs in the build environment, whichever environment
		// the task that needs it runs in.
		var needs []any
		for _, d := range t.needs() {
			if d == checkoutInstall {
				needs = append(needs, manifest.Inline{{Key: "task", Value: installTask}, {Key: "environment", Value: buildEnv}})
			} else {
				needs = append(needs, d)
			}
		}
		t.DependsOn = needs
		if cmd, where, ok := theirs(name); ok {
			if cmd != t.Cmd {
				clashes = append(clashes, fmt.Sprintf("task %q in %s runs %q, pixi-lima's runs %q", name, where, cmd, t.Cmd))
			}
			continue
		}
		tables, tasks = append(tables, table), append(tasks, t)
	}
	if len(clashes) > 0 {
		return nil, &Error{Code: ExitRefused, Msg: "pixi-lima's tasks clash with this workspace's:\n  " + strings.Join(clashes, "\n  "),
			Hint: "rename or remove yours, then run pixi-lima adopt again"}
	}
	addTask := func(table []string, t task) {
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
	for i, t := range tasks {
		if tables[i][len(tables[i])-1] != installTask {
			addTask(tables[i], t)
		}
	}

	// install.sh's tools and the install task, in their own feature.
	for _, dep := range src.manifest.Keys("feature", checkoutBuild, "dependencies") {
		if spec, ok := src.build[dep].(string); ok {
			add(at("feature", buildEnv, "target", "unix", "dependencies"), dep, spec)
		}
	}
	for i, t := range tasks {
		if tables[i][len(tables[i])-1] == installTask {
			addTask(tables[i], t)
		}
	}

	// The environments: the feature to each that has the default feature,
	// and the build environment.
	if err := grow(); err != nil {
		return nil, err
	}
	add(at("environments"), buildEnv, manifest.Inline{{Key: "features", Value: []string{buildEnv}}, {Key: "no-default-feature", Value: true}})
	if len(conflicts) > 0 {
		return nil, &Error{Code: ExitRefused, Msg: "the manifest's [feature.pixi-lima] differs from what this pixi-lima adds:\n  " + strings.Join(conflicts, "\n  "),
			Hint: "remove the [feature.pixi-lima...] tables (an older pixi-lima's), then run pixi-lima adopt again"}
	}
	return envs, nil
}

// planEnvironments decides which of the workspace's environments get the
// feature: the default environment, and every other one that has the
// default feature. grow makes those edits: one item more in a features
// list (or a features key in an environment's table), or a default
// environment when there is none.
func planEnvironments(edit *manifest.Edit, pixi []string) (*environments, func() error, error) {
	table := append(slices.Clone(pixi), "environments")
	names := edit.Keys(table...)
	if all, ok := edit.Get(table...); ok {
		if m, ok := all.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if !slices.Contains(names, k) {
					names = append(names, k)
				}
			}
		}
	}
	if !slices.Contains(names, "default") {
		names = append([]string{"default"}, names...)
	}
	envs := &environments{}
	var edits []func(*manifest.Edit) error
	for _, name := range names {
		path := append(slices.Clone(table), name)
		v, ok := edit.Get(path...)
		if name == buildEnv || slices.Contains(features(v), feature) {
			if name != buildEnv {
				envs.with = append(envs.with, name)
			}
			continue
		}
		var grow func(*manifest.Edit) error
		t, isTable := v.(map[string]any)
		switch {
		case !ok:
			grow = func(e *manifest.Edit) error { return e.Add(table, name, []string{feature}) }
		case isTable && t["features"] == nil:
			grow = func(e *manifest.Edit) error { return e.Add(path, "features", []string{feature}) }
		case isTable:
			grow = func(e *manifest.Edit) error { return e.Append(append(slices.Clone(path), "features"), feature) }
		default:
			grow = func(e *manifest.Edit) error { return e.Append(path, feature) }
		}
		// The default environment gets it in any case: it is where `pixi
		// run docker` runs.
		if isTable && t["no-default-feature"] == true && name != "default" {
			envs.without = append(envs.without, struct{ name, line string }{name, suggest(edit, grow)})
			continue
		}
		envs.with = append(envs.with, name)
		edits = append(edits, func(e *manifest.Edit) error {
			if err := grow(e); err != nil {
				return &Error{Code: ExitRefused, Msg: fmt.Sprintf("cannot add %q to the environment %q: %v", feature, name, err),
					Hint: fmt.Sprintf("add %q to its features by hand, then run pixi-lima adopt again", feature)}
			}
			return nil
		})
	}
	return envs, func() error {
		for _, f := range edits {
			if err := f(edit); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// suggest is the line (or lines) of the manifest as grow would change it.
func suggest(edit *manifest.Edit, grow func(*manifest.Edit) error) string {
	old := edit.Text()
	scratch, err := manifest.Parse(old)
	if err != nil || grow(scratch) != nil {
		return fmt.Sprintf("(add %q to its features)", feature)
	}
	out, err := scratch.Result(nil)
	if err != nil {
		return fmt.Sprintf("(add %q to its features)", feature)
	}
	_, added := manifest.Changed(string(old), string(out))
	return strings.Join(added, "\n  ")
}

// userTasks looks a task up among the workspace's own: the default
// feature's tasks, its targets' and those of the other features of envs,
// the environments that get pixi-lima's. It returns the task's command and
// where it is.
func userTasks(edit *manifest.Edit, pixi []string, envs []string) func(name string) (cmd, where string, ok bool) {
	var places [][]string
	owners := [][]string{slices.Clone(pixi)}
	for _, name := range envs {
		have, _ := edit.Get(append(slices.Clone(pixi), "environments", name)...)
		for _, f := range features(have) {
			if f != feature && f != buildEnv {
				owners = append(owners, append(slices.Clone(pixi), "feature", f))
			}
		}
	}
	for _, o := range owners {
		if slices.ContainsFunc(places, func(p []string) bool { return slices.Equal(p, append(slices.Clone(o), "tasks")) }) {
			continue
		}
		places = append(places, append(slices.Clone(o), "tasks"))
		for _, t := range edit.Keys(append(slices.Clone(o), "target")...) {
			places = append(places, append(slices.Clone(o), "target", t, "tasks"))
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
// data, atomically, durably and with the file's mode.
func writeKeepingMode(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(target, data, info.Mode().Perm())
}
