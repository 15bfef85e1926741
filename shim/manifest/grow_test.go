package manifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An item appended to a list keeps the list's layout: on its line, or on
// a line of its own indented as the one before, with the list's commas.
func TestAppendKeepsLayout(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"one line", "[environments]\ntest = [\"test\"] # ours\n", "[environments]\ntest = [\"test\", \"x\"] # ours\n"},
		{"in an inline table",
			"[environments]\ntest = { features = ['test'], solve-group = \"main\" }\n",
			"[environments]\ntest = { features = ['test', \"x\"], solve-group = \"main\" }\n"},
		{"empty", "[environments]\ntest = []\n", "[environments]\ntest = [\"x\"]\n"},
		{"trailing comma on one line", "[environments]\ntest = [\"a\",]\n", "[environments]\ntest = [\"a\", \"x\",]\n"},
		{"brackets in strings", "[environments]\ntest = [\"a]#\", 'b[' ]\n", "[environments]\ntest = [\"a]#\", 'b[', \"x\" ]\n"},
		{"one a line, trailing comma, comments",
			"[environments.test]\nfeatures = [\n    \"test\",  # pytest\n    'docs',\n    # \"lint\",\n]\nsolve-group = \"main\"\n",
			"[environments.test]\nfeatures = [\n    \"test\",  # pytest\n    'docs',\n    \"x\",\n    # \"lint\",\n]\nsolve-group = \"main\"\n"},
		{"one a line, no trailing comma",
			"[environments]\ntest = [\n  \"a\",\n  \"b\" # the last\n]\n",
			"[environments]\ntest = [\n  \"a\",\n  \"b\", # the last\n  \"x\"\n]\n"},
		{"there already", "[environments]\ntest = [\"x\", \"a\"]\n", "[environments]\ntest = [\"x\", \"a\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := []string{"environments", "test"}
			if strings.Contains(tc.text, "[environments.test]") || strings.Contains(tc.text, "features =") {
				path = append(path, "features")
			}
			for _, eol := range []string{"\n", "\r\n"} {
				text := strings.ReplaceAll(tc.text, "\n", eol)
				e, err := Parse([]byte(text))
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Append(path, "x"); err != nil {
					t.Fatal(err)
				}
				out, err := e.Result(nil)
				if want := strings.ReplaceAll(tc.want, "\n", eol); err != nil || string(out) != want {
					t.Errorf("%q: got (%v)\n%q\nwant\n%q", eol, err, out, want)
				}
				if e.Changed() != (tc.text != tc.want) {
					t.Errorf("Changed() = %v", e.Changed())
				}
			}
		})
	}
}

func TestAppendRefusesWhatIsNoList(t *testing.T) {
	e, _ := Parse([]byte("[environments]\ntest = \"x\"\n"))
	if err := e.Append([]string{"environments", "test"}, "y"); err == nil {
		t.Error("a string: no error")
	}
	if err := e.Append([]string{"environments", "none"}, "y"); err == nil {
		t.Error("nothing there: no error")
	}
}

// A key added to an inline table goes inside its braces.
func TestAddInline(t *testing.T) {
	for text, want := range map[string]string{
		"[environments]\ndefault = { solve-group = \"main\" }\n": "[environments]\ndefault = { solve-group = \"main\", features = [\"x\"] }\n",
		"[environments]\ndefault = {}\n":                         "[environments]\ndefault = { features = [\"x\"] }\n",
		"environments = { test = [\"t\"] }\n":                    "environments = { test = [\"t\"], default = [\"x\"] }\n",
	} {
		e, _ := Parse([]byte(text))
		table, key := []string{"environments", "default"}, "features"
		if strings.HasPrefix(text, "environments =") {
			table, key = []string{"environments"}, "default"
		}
		if err := e.Add(table, key, []string{"x"}); err != nil {
			t.Fatal(err)
		}
		if out, err := e.Result(nil); err != nil || string(out) != want {
			t.Errorf("%q: got (%v)\n%s", text, err, out)
		}
	}
}

// What adopt writes: inline tables, and lists of them.
func TestRenderInline(t *testing.T) {
	e, _ := Parse([]byte("[environments]\n"))
	e.Add([]string{"environments"}, "build", Inline{{"features", []string{"build"}}, {"no-default-feature", true}})
	e.Add([]string{"tasks", "up"}, "depends-on", []any{Inline{{"task", "install"}, {"environment", "build"}}})
	out, err := e.Result(nil)
	for _, want := range []string{
		"build = { features = [\"build\"], no-default-feature = true }\n",
		"depends-on = [{ task = \"install\", environment = \"build\" }]\n",
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("got (%v)\n%s\nwant a line %q", err, out, want)
		}
	}
	// Again: nothing to add.
	again, _ := Parse(out)
	if err := again.Add([]string{"tasks", "up"}, "depends-on", []any{Inline{{"task", "install"}, {"environment", "build"}}}); err != nil || again.Changed() {
		t.Errorf("a re-run: %v, changed %v", err, again.Changed())
	}
}

// A manifest with CRLF line endings keeps them in every line added.
func TestCRLF(t *testing.T) {
	text := strings.ReplaceAll(sample, "\n", "\r\n")
	e, _ := Parse([]byte(text))
	e.Add([]string{"dependencies"}, "go", "*")
	e.Add([]string{"feature", "x", "tasks"}, "up", "echo up")
	e.Append([]string{"workspace", "platforms"}, "linux-aarch64")
	out, err := e.Result([]string{"added"})
	if err != nil {
		t.Fatal(err)
	}
	if bare := strings.Count(string(out), "\n") - strings.Count(string(out), "\r\n"); bare != 0 {
		t.Errorf("%d lines end in LF alone:\n%q", bare, out)
	}
}

// The diff of a change, not only of additions, is one patch(1) applies,
// and Changed names the lines changed.
func TestDiffChangedLines(t *testing.T) {
	needPatch(t)
	old := strings.Replace(sample, "[environments]\n", "[environments]\ndefault = { features = [\"dev\"], solve-group = \"main\" }\ntest = [\n  \"test\"\n]\n", 1)
	e, err := Parse([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	e.Append([]string{"environments", "default", "features"}, "x")
	e.Append([]string{"environments", "test"}, "x")
	e.Add([]string{"dependencies"}, "go", "*")
	out, err := e.Result(nil)
	if err != nil {
		t.Fatal(err)
	}
	removed, added := Changed(old, string(out))
	if want := []string{`default = { features = ["dev"], solve-group = "main" }`, `  "test"`}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if want := []string{`go = "*"`, `default = { features = ["dev", "x"], solve-group = "main" }`, `  "test",`, `  "x"`}; !slices.Equal(added, want) {
		t.Errorf("added %q, want %q", added, want)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pixi.toml")
	os.WriteFile(file, []byte(old), 0o644)
	diff := Diff("pixi.toml", old, string(out))
	cmd := exec.Command("patch", "-s", "-p0")
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(diff)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v\n%s\n%s", err, msg, diff)
	}
	if patched, _ := os.ReadFile(file); string(patched) != string(out) {
		t.Errorf("patched:\n%s\nwant:\n%s\ndiff:\n%s", patched, out, diff)
	}
}
