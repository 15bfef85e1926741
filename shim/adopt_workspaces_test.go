package shim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/shim/manifest"
)

// The workspaces people have (tests/testdata/adopt): environments as
// tables with solve groups, one without the default feature, a
// pyproject.toml with [tool.pixi.environments], CRLF line endings. Each
// environment with the default feature gets pixi-lima by one item in its
// features; the rest of the user's lines stay; a re-run changes nothing.
func TestAdoptWorkspaces(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "tests", "testdata", "adopt", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	envs := read("environments.pixi.toml")
	for _, tc := range []struct {
		name, file, text string
		removed, added   []string // the user's lines changed, and what they became
		note             string   // what adopt says of an environment it leaves alone
	}{
		{"environments", "pixi.toml", envs,
			[]string{`default = { solve-group = "main" }`, `test = { features = ["test"], solve-group = "main" }`},
			[]string{`default = { solve-group = "main", features = ["pixi-lima"] }`, `test = { features = ["test", "pixi-lima"], solve-group = "main" }`},
			"note: the environment \"lint\" has no-default-feature = true and stays without pixi-lima; for docker there, make it\n" +
				"  lint = { features = [\"lint\", \"pixi-lima\"], no-default-feature = true }\n"},
		{"CRLF", "pixi.toml", strings.ReplaceAll(envs, "\n", "\r\n"),
			[]string{"default = { solve-group = \"main\" }\r", "test = { features = [\"test\"], solve-group = \"main\" }\r"},
			[]string{"default = { solve-group = \"main\", features = [\"pixi-lima\"] }\r", "test = { features = [\"test\", \"pixi-lima\"], solve-group = \"main\" }\r"},
			"lint = { features = [\"lint\", \"pixi-lima\"], no-default-feature = true }"},
		{"pyproject", "pyproject.toml", read("pyproject.toml"),
			[]string{`test = ["test"]`}, []string{`test = ["test", "pixi-lima"]`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			checkoutIn(t, root)
			diff, stderr, err := adoptSession(t, root, tc.file, tc.text, "--dry-run")
			if err != nil {
				t.Fatalf("--dry-run: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, tc.note) {
				t.Errorf("adopt said\n%s\nwant\n%s", stderr, tc.note)
			}
			if _, stderr, err = adoptSession(t, root, tc.file, tc.text); err != nil {
				t.Fatalf("adopt: %v\n%s", err, stderr)
			}
			out, _ := os.ReadFile(filepath.Join(root, tc.file))
			if got := manifest.Diff(tc.file, tc.text, string(out)); got != diff {
				t.Errorf("the dry run's diff\n%s\nis not the change\n%s", diff, got)
			}
			removed, added := manifest.Changed(tc.text, string(out))
			if !slices.Equal(removed, tc.removed) || len(added) < len(tc.added) || !slices.Equal(added[:len(tc.added)], tc.added) {
				t.Errorf("changed %q\ninto %q\nwant %q\ninto %q", removed, added, tc.removed, tc.added)
			}
			if strings.Contains(tc.text, "\r\n") && strings.Count(string(out), "\n") != strings.Count(string(out), "\r\n") {
				t.Errorf("mixed line endings:\n%q", out)
			}
			// Every environment but lint has the feature; the build
			// environment has only its own.
			pixi := parse(t, out)
			if tc.file == "pyproject.toml" {
				pixi = pixi["tool"].(map[string]any)["pixi"].(map[string]any)
			}
			for name, env := range pixi["environments"].(map[string]any) {
				has := slices.Contains(features(env), feature)
				if want := name != "lint" && name != buildEnv; has != want {
					t.Errorf("environment %s: %v, has pixi-lima %v, want %v", name, env, has, want)
				}
			}
			if got := features(pixi["environments"].(map[string]any)[buildEnv]); !slices.Equal(got, []string{buildEnv}) {
				t.Errorf("the build environment's features: %v", got)
			}
			// Again: nothing to add, the same bytes.
			if _, stderr, err := adoptSession(t, root, tc.file, string(out)); err != nil || !strings.Contains(stderr, "nothing to add") {
				t.Errorf("re-run: %v\n%s", err, stderr)
			}
			if again, _ := os.ReadFile(filepath.Join(root, tc.file)); string(again) != string(out) {
				t.Errorf("re-run changed it:\n%s", again)
			}
		})
	}
}

// An environment of the user's that has a task of pixi-lima's name that
// runs something else is a clash, named; the same name in an environment
// without the default feature is not.
func TestAdoptClashInEnvironment(t *testing.T) {
	root := t.TempDir()
	checkoutIn(t, root)
	data, _ := os.ReadFile(filepath.Join("..", "tests", "testdata", "adopt", "environments.pixi.toml"))
	m := strings.Replace(string(data), `test = "pytest -q"`, "test = \"pytest -q\"\ndocker = \"docker compose run tests\"", 1)
	_, _, err := adoptSession(t, root, "pixi.toml", m)
	if err == nil || !strings.Contains(err.Error(), `task "docker" in [feature.test.tasks]`) {
		t.Errorf("err = %v", err)
	}
	m = strings.Replace(string(data), `lint = "ruff check ."`, "lint = \"ruff check .\"\ndocker = \"hadolint Dockerfile\"", 1)
	if _, stderr, err := adoptSession(t, root, "pixi.toml", m); err != nil {
		t.Errorf("a task in lint, which stays without pixi-lima: %v\n%s", err, stderr)
	}
}
