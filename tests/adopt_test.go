package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/pixi-lima/pixi-lima/shim/manifest"
)

// The fixture: a workspace of its own, with dependencies, tasks in
// [tasks] and as [tasks.x] tables, comments, and an activation script.
const shopManifest = `# The shop: a web app and its database.
[workspace]
name = "shop"
channels = ["conda-forge"]
platforms = ["linux-64", "osx-arm64"]

[dependencies]
python = ">=3.12"  # the app
postgresql = "16.*"

# Our own setup: SHOP_GREETING for the tasks.
[activation]
scripts = ["scripts/env.sh"]

[tasks]
greet = "echo $SHOP_GREETING from the shop"

# The checks greet first.
[tasks.check]
cmd = "test -f pixi.toml"
depends-on = ["greet"]
`

const repoURL = "https://github.com/pixi-lima/pixi-lima"

// readmeCommands are the commands of README's "Use it in your workspace":
// the lines of each ```sh block, in order.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	must(t, err)
	_, section, ok := strings.Cut(string(data), "\n## Use it in your workspace\n")
	if !ok {
		t.Fatal(`README has no "## Use it in your workspace"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks [][]string
	for _, part := range strings.Split(section, "```sh\n")[1:] {
		code, _, _ := strings.Cut(part, "```")
		var lines []string
		for _, l := range strings.Split(code, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		blocks = append(blocks, lines)
	}
	if len(blocks) == 0 || len(blocks[0]) > 3 {
		t.Fatalf("README's first block should be at most three commands: %v", blocks)
	}
	return blocks
}

// TestAdoptReadme follows README's "Use it in your workspace" literally,
// as the test user with an empty HOME and none of Go's variables set but
// GOPROXY, on the fixture
// workspace in a git repository. pixi is tests/pixistub; the GitHub
// repository is a git repository of the sources, which git's url.insteadOf
// puts in its place (this machine reaches no GitHub). Then: the manifest
// gained lines and lost none, and parsed gained only the feature and the
// default environment; the user's own tasks and activation still work;
// adoption again changes nothing; every added task runs in pixi's task
// shell against a real dockerd; an update of the checkout is rebuilt by
// the next task; HOME is still empty; deleting .pixi removes it all.
func TestAdoptReadme(t *testing.T) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "starting dockerd needs root")
	}
	blocks := readmeCommands(t)
	base, err := os.MkdirTemp("/tmp", "pl")
	must(t, err)
	t.Cleanup(func() {
		if !t.Failed() || os.Getenv("PIXI_LIMA_TEST_KEEP") == "" {
			os.RemoveAll(base)
		}
	})
	root, home, origin := filepath.Join(base, "shop"), filepath.Join(base, "h"), filepath.Join(base, "o")
	for _, d := range []string{root, home, filepath.Join(root, "scripts")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(root, "pixi.toml"), []byte(shopManifest), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "scripts", "env.sh"), []byte("export SHOP_GREETING=hello\n"), 0o644))
	run(t, exec.Command("cp", "-a", s.Src, origin))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), base))
	p := &Project{Root: root, Home: home, s: s}

	// The user's environment: PATH, HOME, USER, LANG, and of Go's
	// variables only the module proxy this machine uses.
	proxy, err := exec.Command("go", "env", "GOPROXY").Output()
	must(t, err)
	user := []string{
		"PATH=/usr/local/go/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + home, "USER=" + s.User, "LANG=C.UTF-8",
		"GOPROXY=" + strings.TrimSpace(string(proxy)),
	}
	// The stand-ins: GitHub's repository, pixi.
	gitAs := append(user, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=url."+origin+".insteadOf", "GIT_CONFIG_VALUE_0="+repoURL,
		"GIT_CONFIG_KEY_1=protocol.file.allow", "GIT_CONFIG_VALUE_1=always")
	environ := pixiEnv(t, p, gitAs)
	sh := func(dir, line string, environ []string) (string, string, int) {
		t.Helper()
		cmd := p.Command("bash", "-c", line)
		cmd.Dir, cmd.Env = dir, environ
		return p.Run(t, cmd)
	}
	mustSh := func(dir, line string, environ []string) string {
		t.Helper()
		out, errOut, code := sh(dir, line, environ)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errOut)
		}
		return out + errOut
	}
	mustSh(origin, "git init -q -b main && git add -A && git commit -q -m pixi-lima", gitAs)
	mustSh(root, "git init -q -b main && git add -A && git commit -q -m shop", gitAs)
	// Go's build cache in .pixi starts as a copy of the suite's: a cold
	// build of limactl takes 8 minutes on CI's 2 cores, and what is under
	// test is where Go keeps its caches, not how fast it compiles. The
	// module cache starts empty: install.sh downloads into .pixi.
	seeded := filepath.Join(root, ".pixi", "pixi-lima", "go", "cache")
	must(t, os.MkdirAll(filepath.Dir(seeded), 0o755))
	run(t, exec.Command("cp", "-a", filepath.Join(s.UserGo, "cache"), seeded))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), filepath.Join(root, ".pixi")))

	// README's commands. Before the first `pixi run`, the engine's stand-in:
	// the instance created by the real limactl (install.sh built it by
	// then), and a dockerd on its socket.
	instance := "shop-docker"
	var stopEngine func()
	var outputs []string
	begin := time.Now()
	for _, line := range blocks[0] {
		if strings.HasPrefix(line, "pixi run ") && stopEngine == nil {
			t.Logf("README's commands so far took %s", time.Since(begin).Round(time.Second))
			stopEngine = startEngine(t, p, instance)
		}
		outputs = append(outputs, mustSh(root, line, environ))
	}
	if !strings.Contains(outputs[len(outputs)-1], "CONTAINER ID") {
		t.Errorf("the last command should list containers:\n%s", outputs[len(outputs)-1])
	}
	if stopEngine == nil {
		t.Fatal("README's commands never run a task")
	}
	homeEmpty := func(when string) {
		t.Helper()
		if entries, _ := os.ReadDir(home); len(entries) > 0 {
			var names []string
			filepath.WalkDir(home, func(path string, _ os.DirEntry, _ error) error {
				if len(names) < 20 {
					names = append(names, path)
				}
				return nil
			})
			t.Errorf("%s, HOME has %s", when, strings.Join(names, " "))
		}
	}
	homeEmpty("after README's commands")
	mustExist(t, filepath.Join(root, ".pixi", "pixi-lima", "go", "mod", "cache", "download"))
	// The build used Go's build cache in .pixi (install.sh removes only
	// that one, and only when its build used it), then removed it: only
	// the next update could use it.
	mustNotExist(t, seeded)

	// The manifest: lines added, none changed; parsed, only the feature
	// and the default environment are new, the rest as it was.
	adopted, err := os.ReadFile(filepath.Join(root, "pixi.toml"))
	must(t, err)
	if _, ok := manifest.Added(shopManifest, string(adopted)); !ok {
		t.Fatalf("adoption changed a line of pixi.toml:\n%s", adopted)
	}
	t.Logf("the fixture's pixi.toml, adopted:\n%s", manifest.Diff("pixi.toml", shopManifest, string(adopted)))
	var before, after map[string]any
	must(t, toml.Unmarshal([]byte(shopManifest), &before))
	must(t, toml.Unmarshal(adopted, &after))
	for k, v := range before {
		if !reflect.DeepEqual(after[k], v) {
			t.Errorf("[%s] was %v, is %v", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && k != "feature" && k != "environments" {
			t.Errorf("adoption added [%s]", k)
		}
	}

	// The workspace's own activation and tasks still work, after ours.
	pixi := newPixiRunner(p, environ)
	if out, errOut, code := pixi(t, "check"); code != 0 || out != "hello from the shop\n" {
		t.Errorf("pixi run check: exit %d\n%s%s", code, out, errOut)
	}

	// Adoption again, as README says it: nothing built, nothing added.
	if out := mustSh(root, blocks[0][1], environ); !strings.Contains(out, "nothing to add") || strings.Contains(out, "building") {
		t.Errorf("adoption again said:\n%s", out)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "pixi.toml")); string(again) != string(adopted) {
		t.Errorf("adoption again changed pixi.toml:\n%s", again)
	}

	// Every added task, in pixi's task shell.
	runEveryTask(t, p, pixi, newPixiRunner(p, append(environ, "PIXI_STUB_KEEP_DASHDASH=1")),
		"pixi-lima-install", instance, stopEngine)

	// An update of the checkout: README's second block rebuilds pixi-lima,
	// and then a task says nothing again.
	mustSh(origin, "echo '// an update' >> main.go && git commit -q -am update", gitAs)
	var said string
	for _, line := range blocks[1] {
		said += mustSh(root, line, environ)
	}
	if !strings.Contains(said, "install.sh: building pixi-lima") || strings.Contains(said, "building limactl") {
		t.Errorf("after the update, README's second block said:\n%s", said)
	}
	if _, errOut, code := pixi(t, "container-status"); code != 0 || errOut != "" {
		t.Errorf("container-status after the rebuild: exit %d\n%s", code, errOut)
	}
	for i := 0; i < 3; i++ {
		begin := time.Now()
		pixi(t, "pixi-lima-install")
		t.Logf("pixi run pixi-lima-install with nothing to do: %s", time.Since(begin).Round(time.Millisecond))
	}

	homeEmpty("at the end")
	mustSh(root, "rm -rf .pixi", user)
	mustNotExist(t, filepath.Join(root, ".pixi"))
}
