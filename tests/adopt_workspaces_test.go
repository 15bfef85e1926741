package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdoptWorkspaces follows README's "Use it in your workspace" on the
// workspaces people have (tests/testdata/adopt, and the first with CRLF
// line endings): environments as tables in a solve group and one without
// the default feature, a pyproject.toml with [tool.pixi.environments].
// pixi-lima's build starts from the suite's (only the links are new);
// what is under test is the manifest and where each environment's docker
// goes: `pixi run -e test docker ps` reaches the engine through the shim,
// while an environment without the default feature keeps its own.
func TestAdoptWorkspaces(t *testing.T) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "starting dockerd needs root")
	}
	blocks := readmeCommands(t)
	base, err := os.MkdirTemp("/tmp", "pl")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	origin := filepath.Join(base, "o")
	run(t, exec.Command("cp", "-a", s.Src, origin))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), base))
	envs, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "testdata", "adopt", "environments.pixi.toml"))
	must(t, err)
	pyproject, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "testdata", "adopt", "pyproject.toml"))
	must(t, err)
	gitEnv := func(user []string) []string {
		return append(user, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=url."+origin+".insteadOf", "GIT_CONFIG_VALUE_0="+repoURL,
			"GIT_CONFIG_KEY_1=protocol.file.allow", "GIT_CONFIG_VALUE_1=always")
	}
	first := true
	for _, tc := range []struct{ name, file, text string }{
		{"environments", "pixi.toml", string(envs)},
		{"crlf", "pixi.toml", strings.ReplaceAll(string(envs), "\n", "\r\n")},
		{"pyproject", "pyproject.toml", string(pyproject)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(base, tc.name)
			home := filepath.Join(base, tc.name+"-h")
			for _, d := range []string{root, home} {
				must(t, os.MkdirAll(d, 0o755))
			}
			must(t, os.WriteFile(filepath.Join(root, tc.file), []byte(tc.text), 0o644))
			run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), root, home))
			p := &Project{Root: root, Home: home, s: s}
			// The suite's Go caches: nothing is built (the golden install's
			// stamps match), only linked.
			user := append(withoutKey(p.Env(), "PATH"), "PATH=/usr/local/go/bin:/usr/bin:/bin:/usr/sbin:/sbin")
			environ := pixiEnv(t, p, gitEnv(user))
			sh := func(line string) string {
				t.Helper()
				cmd := p.Command("bash", "-c", line)
				cmd.Env = environ
				out, errOut, code := p.Run(t, cmd)
				if code != 0 {
					t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errOut)
				}
				return out + errOut
			}
			if first {
				sh("cd " + origin + " && git init -q -b main && git add -A && git commit -q -m pixi-lima")
				first = false
			}
			sh("git init -q -b main && git add -A && git commit -q -m calc")
			must(t, os.MkdirAll(filepath.Join(root, ".pixi"), 0o755))
			run(t, exec.Command("cp", "-al", filepath.Join(s.Golden, ".pixi", "pixi-lima"), filepath.Join(root, ".pixi", "pixi-lima")))
			run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), filepath.Join(root, ".pixi")))

			var stopEngine func()
			var said []string
			for _, line := range blocks[0] {
				if strings.HasPrefix(line, "pixi run ") && stopEngine == nil {
					stopEngine = startEngine(t, p, "calc-docker")
				}
				said = append(said, sh(line))
			}
			if !strings.Contains(said[len(said)-1], "CONTAINER ID") {
				t.Errorf("the last command should list containers:\n%s", said[len(said)-1])
			}
			adopted, err := os.ReadFile(filepath.Join(root, tc.file))
			must(t, err)
			t.Logf("%s, adopted:\n%s", tc.file, adopted)
			if tc.name == "crlf" && strings.Count(string(adopted), "\n") != strings.Count(string(adopted), "\r\n") {
				t.Errorf("mixed line endings in %s:\n%q", tc.file, adopted)
			}
			if tc.file == "pixi.toml" && !strings.Contains(strings.Join(said, ""), `lint = { features = ["lint", "pixi-lima"], no-default-feature = true }`) {
				t.Errorf("adopt did not name the environment it left alone, with its line:\n%s", strings.Join(said, ""))
			}

			// The test environment, where Testcontainers runs: docker is
			// the shim, and the docker task reaches the engine.
			pixi := newPixiRunner(p, environ)
			if out, errOut, code := pixi(t, "-e", "test", "sh", "-c", "command -v docker"); code != 0 || out != p.Bin("docker")+"\n" {
				t.Errorf("pixi run -e test: docker is %q (exit %d), want the shim %s\n%s", out, code, p.Bin("docker"), errOut)
			}
			if out, errOut, code := pixi(t, "-e", "test", "docker", "ps"); code != 0 || !strings.Contains(out, "CONTAINER ID") {
				t.Errorf("pixi run -e test docker ps: exit %d\n%s%s", code, out, errOut)
			}
			if tc.file == "pixi.toml" {
				if out, _, _ := pixi(t, "-e", "lint", "sh", "-c", "command -v docker || true"); out == p.Bin("docker")+"\n" {
					t.Errorf("pixi run -e lint: docker is the shim, but lint has no default feature")
				}
			}
			// Adoption again: nothing to add.
			if out := sh(blocks[0][1]); !strings.Contains(out, "nothing to add") {
				t.Errorf("adoption again said:\n%s", out)
			}
			if again, _ := os.ReadFile(filepath.Join(root, tc.file)); string(again) != string(adopted) {
				t.Errorf("adoption again changed %s:\n%s", tc.file, again)
			}
			stopEngine()
		})
	}
}
