package manifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// A manifest the way people write them: comments above and beside keys,
// a multi-line array with a comment in it, a table without keys, a
// multi-line string that looks like TOML inside.
const sample = `# The shop.
[workspace]
name = "shop"
channels = ["conda-forge"] # only this one
platforms = [
  "linux-64",
  # "win-64", one day
  "osx-arm64",
]

[dependencies]
python = ">=3.12"

# About the environments.
[environments]

[tasks]
serve = "python -m shop"

# Tests.
[tasks.test]
cmd = """
[not.a.table]
pytest -q"""

# Last words.
`

// checkAdded fails unless new is old with lines added, and the documents
// parsed from them differ by exactly the additions (old's values all
// still there, as they were).
func checkAdded(t *testing.T, old, new string, additions map[string]any) {
	t.Helper()
	if _, ok := Added(old, new); !ok {
		t.Fatalf("not only added lines:\n%s", new)
	}
	var before, after map[string]any
	if err := toml.Unmarshal([]byte(old), &before); err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal([]byte(new), &after); err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, new)
	}
	if want := merge(clone(before), additions); !reflect.DeepEqual(after, want) {
		t.Errorf("parsed result\n%v\nwant\n%v", after, want)
	}
}

func TestAddKeepsEveryLine(t *testing.T) {
	e, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, add := range []struct {
		table []string
		key   string
		value any
	}{
		{[]string{"dependencies"}, "go", ">=1.25"},           // into a section with keys
		{[]string{"environments"}, "default", []string{"x"}}, // into an empty section
		{[]string{"tasks", "test"}, "description", "run the tests"},
		{[]string{"feature", "x", "tasks", "up"}, "cmd", `sh -c 'echo "$@"' up`}, // a new table
		{[]string{"feature", "x", "tasks", "up"}, "depends-on", []string{"serve"}},
		{[]string{"feature", "x", "dependencies"}, "docker-cli", "*"},
		{[]string{"dependencies"}, "python", ">=3.12"}, // there already: nothing
	} {
		if err := e.Add(add.table, add.key, add.value); err != nil {
			t.Fatalf("Add %v %s: %v", add.table, add.key, err)
		}
	}
	out, err := e.Result([]string{"added"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	checkAdded(t, sample, got, map[string]any{
		"dependencies": map[string]any{"go": ">=1.25"},
		"environments": map[string]any{"default": []any{"x"}},
		"tasks":        map[string]any{"test": map[string]any{"description": "run the tests"}},
		"feature": map[string]any{"x": map[string]any{
			"tasks":        map[string]any{"up": map[string]any{"cmd": `sh -c 'echo "$@"' up`, "depends-on": []any{"serve"}}},
			"dependencies": map[string]any{"docker-cli": "*"},
		}},
	})
	for _, want := range []string{
		"python = \">=3.12\"\ngo = \">=1.25\"\n\n# About the environments.\n", // after the last key, before the next table's comment
		"[environments]\ndefault = [\"x\"]\n\n[tasks]\n",
		"pytest -q\"\"\"\ndescription = \"run the tests\"\n\n# Last words.\n",
		"# Last words.\n\n# added\n[feature.x.tasks.up]\ncmd = '''sh -c 'echo \"$@\"' up'''\ndepends-on = [\"serve\"]\n\n[feature.x.dependencies]\ndocker-cli = \"*\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("result lacks %q:\n%s", want, got)
		}
	}

	// Again on the result: nothing to add, the same bytes.
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Add([]string{"feature", "x", "tasks", "up"}, "cmd", `sh -c 'echo "$@"' up`); err != nil {
		t.Fatal(err)
	}
	if same, err := again.Result([]string{"added"}); err != nil || again.Changed() || string(same) != got {
		t.Errorf("a second run changed it (%v)", err)
	}
}

func TestAddConflict(t *testing.T) {
	e, _ := Parse([]byte(sample))
	err := e.Add([]string{"dependencies"}, "python", "3.11.*")
	if c, ok := err.(*Conflict); !ok || !slices.Equal(c.Path, []string{"dependencies", "python"}) ||
		err.Error() != `dependencies.python is ">=3.12", not "3.11.*"` {
		t.Errorf("err = %v", err)
	}
	e.Add([]string{"a"}, "b", []string{"x"})
	if err := e.Add([]string{"a"}, "b", []string{"y"}); err == nil {
		t.Error("two different additions of one key: no conflict")
	}
}

// Where a [header] cannot extend a table, Result refuses rather than
// write a manifest pixi would reject or read differently.
func TestResultRefuses(t *testing.T) {
	for _, text := range []string{
		"environments.test = [\"t\"]\n[tasks]\n", // dotted keys
	} {
		e, err := Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Add([]string{"environments"}, "default", []string{"x"}); err != nil {
			t.Fatal(err)
		}
		if out, err := e.Result(nil); err == nil {
			t.Errorf("%q: no error, got\n%s", text, out)
		}
	}
}

func TestKeysInOrder(t *testing.T) {
	e, _ := Parse([]byte(sample))
	if got := e.Keys("tasks"); !slices.Equal(got, []string{"serve", "test"}) {
		t.Errorf("Keys(tasks) = %v", got)
	}
	if got := e.Keys("workspace"); !slices.Equal(got, []string{"name", "channels", "platforms"}) {
		t.Errorf("Keys(workspace) = %v", got)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"*", `a "b"`, `it's`, `it's "x"`, "it's\n", `ends'`, `back\slash`, "tab\there", "\x01"} {
		var doc struct{ V string }
		text := "v = " + quote(s) + "\n"
		if err := toml.Unmarshal([]byte(text), &doc); err != nil || doc.V != s {
			t.Errorf("quote(%q) = %s: reads back as %q (%v)", s, quote(s), doc.V, err)
		}
	}
}

// The diff is one patch(1) applies: the dry run shows exactly what the
// real run writes.
func TestDiffApplies(t *testing.T) {
	needPatch(t)
	e, _ := Parse([]byte(sample))
	e.Add([]string{"dependencies"}, "go", "*")
	e.Add([]string{"environments"}, "default", []string{"x"})
	e.Add([]string{"feature", "x", "tasks"}, "up", "echo up")
	out, err := e.Result([]string{"added"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pixi.toml")
	os.WriteFile(file, []byte(sample), 0o644)
	diff := Diff("pixi.toml", sample, string(out))
	cmd := exec.Command("patch", "-s", "-p0")
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(diff)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v\n%s\n%s", err, msg, diff)
	}
	if patched, _ := os.ReadFile(file); string(patched) != string(out) {
		t.Errorf("patched:\n%s\nwant:\n%s\ndiff:\n%s", patched, out, diff)
	}
	if _, ok := Added(sample, strings.Replace(string(out), "python", "pithon", 1)); ok {
		t.Error("Added missed a changed line")
	}
}

// needPatch skips a test without patch(1), or fails it under tests/run.sh
// (PIXI_LIMA_TEST_REQUIRE=1), which installs it.
func needPatch(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("patch"); err == nil {
		return
	}
	if os.Getenv("PIXI_LIMA_TEST_REQUIRE") == "1" {
		t.Fatal("patch is not installed (tests/setup.sh installs it)")
	}
	t.Skip("patch is not installed (tests/setup.sh installs it)")
}
