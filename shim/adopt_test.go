package shim

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/pixi-lima/pixi-lima/shim/manifest"
)

// A workspace of its own: dependencies, an activation script, tasks both
// in [tasks] and as [tasks.x] tables, comments everywhere.
const userManifest = `# The shop: a web app and its database.
[workspace]
name = "shop"
channels = ["conda-forge"]
platforms = ["linux-64", "osx-arm64"]

[dependencies]
python = ">=3.12"  # the app
postgresql = "16.*"

# Our own setup.
[activation]
scripts = ["scripts/env.sh"]

[tasks]
serve = "python -m shop"
lint = { cmd = "ruff check .", description = "lint it" }

# The tests need the database.
[tasks.test]
cmd = "pytest -q"
depends-on = ["lint"]
`

// adoptSession runs `pixi-lima adopt ARGS` in a workspace at root with the
// given manifest and a pixi-lima checkout (this repository, copied) in
// root/pixi-lima.
func adoptSession(t *testing.T, root, file, manifest string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, file), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	s := newSession(nil, &out, &errOut)
	s.getenv = func(k string) string {
		if k == "PIXI_PROJECT_ROOT" {
			return root
		}
		return ""
	}
	err = s.cmdAdopt(args)
	return out.String(), errOut.String(), err
}

func checkoutIn(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "pixi-lima")
	if err := os.MkdirAll(filepath.Join(dir, "env"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "pixi.toml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pixi.toml"), data, 0o644)
	return dir
}

func parse(t *testing.T, text []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := toml.Unmarshal(text, &doc); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return doc
}

// TestAdopt: only lines added, the parsed document gains exactly the
// feature and the default environment, the user's own tables are as they
// were, a re-run changes nothing, --dry-run writes nothing.
func TestAdopt(t *testing.T) {
	root := t.TempDir()
	checkoutIn(t, root)
	stdout, stderr, err := adoptSession(t, root, "pixi.toml", userManifest, "--dry-run")
	if err != nil || !strings.HasPrefix(stdout, "--- pixi.toml\n+++ pixi.toml\n@@ ") || !strings.Contains(stderr, "not changed") {
		t.Fatalf("--dry-run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "pixi.toml")); string(data) != userManifest {
		t.Fatal("--dry-run wrote the manifest")
	}
	diff := stdout

	if _, stderr, err = adoptSession(t, root, "pixi.toml", userManifest); err != nil {
		t.Fatalf("adopt: %v\n%s", err, stderr)
	}
	out, _ := os.ReadFile(filepath.Join(root, "pixi.toml"))
	if _, ok := manifest.Added(userManifest, string(out)); !ok {
		t.Fatalf("adopt changed a line:\n%s", out)
	}
	if got := manifest.Diff("pixi.toml", userManifest, string(out)); got != diff {
		t.Errorf("the dry run's diff\n%s\nis not the change\n%s", diff, got)
	}
	before, after := parse(t, []byte(userManifest)), parse(t, out)
	added := map[string]any{}
	for k, v := range after {
		if !reflect.DeepEqual(before[k], v) {
			added[k] = v
		}
	}
	for k := range before {
		if !reflect.DeepEqual(before[k], after[k]) && k != "feature" && k != "environments" {
			t.Errorf("[%s] changed: %v → %v", k, before[k], after[k])
		}
	}
	if keys := slices.Sorted(maps.Keys(added)); !slices.Equal(keys, []string{"environments", "feature"}) {
		t.Errorf("added %v, want only [environments] and [feature]", keys)
	}
	if got, want := after["environments"], map[string]any{
		"default":         []any{"pixi-lima"},
		"pixi-lima-build": map[string]any{"features": []any{"pixi-lima-build"}, "no-default-feature": true},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("environments = %v, want %v", got, want)
	}
	f := after["feature"].(map[string]any)["pixi-lima"].(map[string]any)
	unix := f["target"].(map[string]any)["unix"].(map[string]any)
	if got := unix["activation"]; !reflect.DeepEqual(got, map[string]any{"scripts": []any{"pixi-lima/env/activate.sh"}}) {
		t.Errorf("activation = %v", got)
	}
	// The user's environments get only what running docker needs; Go and
	// bash are the build environment's alone.
	if deps := unix["dependencies"].(map[string]any); !slices.Equal(slices.Sorted(maps.Keys(deps)), []string{"docker-buildx", "docker-cli", "docker-compose"}) {
		t.Errorf("the feature's dependencies are %v", deps)
	}
	build := after["feature"].(map[string]any)["pixi-lima-build"].(map[string]any)
	buildDeps := build["target"].(map[string]any)["unix"].(map[string]any)["dependencies"].(map[string]any)
	if !slices.Equal(slices.Sorted(maps.Keys(buildDeps)), []string{"bash", "go"}) {
		t.Errorf("the build feature's dependencies are %v", buildDeps)
	}
	tasks := f["tasks"].(map[string]any)
	want := []string{"container-init", "container-stop", "container-delete", "container-status",
		"container-clean-global", "docker", "compose", "compose-up", "compose-down"}
	if keys := slices.Sorted(maps.Keys(tasks)); !slices.Equal(keys, slices.Sorted(slices.Values(want))) {
		t.Errorf("tasks %v, want %v", keys, want)
	}
	buildTasks := build["tasks"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(buildTasks)); !slices.Equal(keys, []string{"pixi-lima-install"}) {
		t.Errorf("the build feature's tasks are %v", keys)
	}
	install := buildTasks["pixi-lima-install"].(map[string]any)
	if install["cmd"] != "pixi-lima/install.sh" || !slices.Contains(install["inputs"].([]any), any("pixi-lima/go.mod")) ||
		!slices.Contains(install["outputs"].([]any), any(".pixi/bin/docker")) {
		t.Errorf("install task %v", install)
	}
	needs := []any{map[string]any{"task": "pixi-lima-install", "environment": "pixi-lima-build"}}
	if got := tasks["docker"].(map[string]any)["depends-on"]; !reflect.DeepEqual(got, needs) {
		t.Errorf("docker depends on %v, want %v", got, needs)
	}

	// A re-run finds everything there: the same bytes.
	if _, stderr, err := adoptSession(t, root, "pixi.toml", string(out)); err != nil || !strings.Contains(stderr, "nothing to add") {
		t.Errorf("re-run: %v\n%s", err, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "pixi.toml")); !bytes.Equal(again, out) {
		t.Errorf("re-run changed it:\n%s", again)
	}
}

func TestAdoptRefusesClash(t *testing.T) {
	root := t.TempDir()
	checkoutIn(t, root)
	for _, m := range []string{
		userManifest + "\n[tasks.docker]\ncmd = \"docker build .\"\n",
		strings.Replace(userManifest, "serve = ", "docker = \"docker build .\"\nserve = ", 1),
		userManifest + "\n[target.linux-64.tasks]\ndocker = [\"docker\", \"build\", \".\"]\n",
	} {
		_, _, err := adoptSession(t, root, "pixi.toml", m)
		var e *Error
		if !errors.As(err, &e) || e.Code != ExitRefused || !strings.Contains(e.Msg, `task "docker"`) ||
			!strings.Contains(e.Msg, "docker build .") {
			t.Errorf("err = %v, want exit 4 naming the task and its command", err)
		}
		if data, _ := os.ReadFile(filepath.Join(root, "pixi.toml")); string(data) != m {
			t.Error("refused, but wrote the manifest")
		}
	}
	// A task of the same name that runs the same command is not a clash:
	// it stays the user's, and pixi-lima adds the rest.
	same := userManifest + "\n[tasks.compose-up]\ncmd = '\"$PIXI_PROJECT_ROOT/.pixi/bin/docker-compose\" up -d'\n"
	if _, _, err := adoptSession(t, root, "pixi.toml", same); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(root, "pixi.toml"))
	if strings.Contains(string(out), "[feature.pixi-lima.tasks.compose-up]") || !strings.Contains(string(out), "[feature.pixi-lima.tasks.compose-down]") {
		t.Errorf("the user's own compose-up: got\n%s", out)
	}
}

func TestAdoptEnvironments(t *testing.T) {
	root := t.TempDir()
	checkoutIn(t, root)
	// Other environments: the default one is added to their table.
	m := userManifest + "\n[environments]\nlint = [\"lint\"]\n\n[feature.lint.dependencies]\nruff = \"*\"\n"
	if _, _, err := adoptSession(t, root, "pixi.toml", m); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(root, "pixi.toml"))
	if !strings.Contains(string(out), "[environments]\nlint = [\"lint\", \"pixi-lima\"]\ndefault = [\"pixi-lima\"]\npixi-lima-build = ") {
		t.Errorf("got\n%s", out)
	}
	// A default environment of the user's own: the feature joins its list.
	m = userManifest + "\n[environments]\ndefault = [\"dev\"]\n\n[feature.dev.dependencies]\nipython = \"*\"\n"
	if _, _, err := adoptSession(t, root, "pixi.toml", m); err != nil {
		t.Fatal(err)
	}
	out, _ = os.ReadFile(filepath.Join(root, "pixi.toml"))
	if !strings.Contains(string(out), "[environments]\ndefault = [\"dev\", \"pixi-lima\"]\n") {
		t.Errorf("got\n%s", out)
	}
	// It already lists the feature (added by hand): fine.
	m = userManifest + "\n[environments]\ndefault = { features = [\"dev\", \"pixi-lima\"] }\n\n[feature.dev.dependencies]\nipython = \"*\"\n"
	if _, _, err := adoptSession(t, root, "pixi.toml", m); err != nil {
		t.Errorf("default with the feature: %v", err)
	}
}

// A pyproject.toml workspace gets the same under [tool.pixi].
func TestAdoptPyproject(t *testing.T) {
	root := t.TempDir()
	checkoutIn(t, root)
	m := "[project]\nname = \"shop\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n\n[tool.pixi.tasks]\nserve = \"python -m shop\"\n"
	if _, stderr, err := adoptSession(t, root, "pyproject.toml", m); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, _ := os.ReadFile(filepath.Join(root, "pyproject.toml"))
	if _, ok := manifest.Added(m, string(out)); !ok {
		t.Fatalf("changed a line:\n%s", out)
	}
	doc := parse(t, out)
	pixi := doc["tool"].(map[string]any)["pixi"].(map[string]any)
	if pixi["environments"] == nil || pixi["feature"].(map[string]any)["pixi-lima"] == nil || doc["feature"] != nil || doc["environments"] != nil {
		t.Errorf("not under [tool.pixi]:\n%s", out)
	}
}

// A checkout outside the workspace: its path is relative, and the install
// task has no inputs (pixi takes only the workspace's files) and so no
// outputs either: pixi runs it each time, a silent no-op.
func TestAdoptCheckoutOutside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "shop")
	os.Mkdir(root, 0o755)
	checkoutIn(t, base)
	if _, stderr, err := adoptSession(t, root, "pixi.toml", userManifest, "--checkout", filepath.Join(base, "pixi-lima")); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, _ := os.ReadFile(filepath.Join(root, "pixi.toml"))
	install := parse(t, out)["feature"].(map[string]any)["pixi-lima-build"].(map[string]any)["tasks"].(map[string]any)["pixi-lima-install"].(map[string]any)
	if install["cmd"] != "../pixi-lima/install.sh" || install["inputs"] != nil || install["outputs"] != nil {
		t.Errorf("install task %v", install)
	}
	if !strings.Contains(string(out), `scripts = ["../pixi-lima/env/activate.sh"]`) {
		t.Errorf("activation:\n%s", out)
	}
	// No checkout where it was said to be: exit 3 with the way to say it.
	_, _, err := adoptSession(t, root, "pixi.toml", userManifest)
	var e *Error
	if !errors.As(err, &e) || e.Code != ExitConfig || !strings.Contains(e.Hint, "--checkout") || !strings.Contains(e.Msg, filepath.Join(root, "pixi-lima")) {
		t.Errorf("no checkout: %v", err)
	}
}
