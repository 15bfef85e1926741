package tests

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/shim/dockerconfig"
)

// TestDockerConfig: the project's DOCKER_CONFIG (.pixi/docker) gives the
// real docker CLI the user's CLI plugins and credential helpers from their
// own ~/.docker, read-only and without a secret. Against a real
// dockerd, through the project's shim, as the test user with a sandboxed
// HOME.
func TestDockerConfig(t *testing.T) {
	p, _ := dockerdProject(t, "dc")
	userDocker := filepath.Join(p.Home, ".docker")
	projectConfig := filepath.Join(p.Root, ".pixi", "docker", "config.json")

	// The user's own docker setup, as Homebrew, Colima or Docker Desktop
	// leave it: a plugin in ~/.docker/cli-plugins, one in a directory their
	// config lists, a Compose of their own that must not beat the
	// project's, a credential store, a helper for one registry, and a login
	// whose secret must never leave HOME.
	// says must not hold a single quote.
	plugin := func(name, says string) string {
		return "#!/bin/sh\ncase \"$1\" in\n" +
			"docker-cli-plugin-metadata) echo '{\"SchemaVersion\":\"0.1.0\",\"Vendor\":\"pltest\",\"Version\":\"1\",\"ShortDescription\":\"hi\"}' ;;\n" +
			name + ") echo '" + says + "' ;;\n*) echo \"unexpected: $*\" >&2; exit 3 ;;\nesac\n"
	}
	const secret = "cGx0ZXN0OnMzY3JldC1uZXZlci1jb3BpZWQ=" // pltest:s3cret-never-copied
	extraDir := filepath.Join(p.Home, "colima", "cli-plugins")
	files := map[string]string{
		filepath.Join(userDocker, "cli-plugins", "docker-hello"):   plugin("hello", "hello from a plugin in HOME"),
		filepath.Join(userDocker, "cli-plugins", "docker-compose"): plugin("compose", "a Compose in HOME, not the project one"),
		filepath.Join(extraDir, "docker-extra"):                    plugin("extra", "hello from an extra dir"),
	}
	for path, text := range files {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, []byte(text), 0o755))
	}
	writeUserConfig := func(helpers string) {
		t.Helper()
		must(t, os.WriteFile(filepath.Join(userDocker, "config.json"), []byte(`{
	"auths": {"secret.invalid.example": {"auth": "`+secret+`"}},
	"credsStore": "pltest",
	"credHelpers": {`+helpers+`},
	"cliPluginsExtraDirs": ["`+extraDir+`"],
	"currentContext": "colima"
}`), 0o600))
	}
	writeUserConfig(`"helper.invalid.example": "pltest"`)

	// docker's credential helpers are programs named docker-credential-*
	// on PATH, and pixi-lima inherits only those it finds there. A fake one
	// stands in for the keychain here: the registry a real helper would
	// serve cannot be reached from this machine, so what is checked is that
	// docker asks it, with what, and that the project's config names it. It
	// logs outside HOME, which must stay as it is.
	helperDir := filepath.Join(p.Root, "helpers")
	credLog := filepath.Join(p.Root, "cred.log")
	must(t, os.MkdirAll(helperDir, 0o755))
	for _, name := range []string{"pltest", "xdg"} {
		must(t, os.WriteFile(filepath.Join(helperDir, "docker-credential-"+name), []byte(`#!/bin/sh
input=$(cat)
printf '%s %s\n' "$1" "$input" >> `+credLog+`
case "$1" in
get) printf '{"ServerURL":"%s","Username":"pltest","Secret":"fake-token"}\n' "$input" ;;
list) echo '{}' ;;
esac
`), 0o755))
	}
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", p.s.UID, p.s.GID), p.Home, p.Root))
	docker := func(args ...string) *exec.Cmd {
		cmd := p.Command(p.Bin("docker"), args...)
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "PATH=") {
				cmd.Env[i] = "PATH=" + p.Bin("") + ":" + helperDir + ":" + strings.TrimPrefix(kv, "PATH="+p.Bin("")+":")
			}
		}
		return cmd
	}
	// A key of the project's own and a project login, written before the
	// first call: pixi-lima must keep both as they are.
	must(t, os.WriteFile(projectConfig, []byte(`{
	"auths": {"project.invalid.example": {"auth": "cHJvamVjdDpsb2dpbg=="}},
	"detachKeys": "ctrl-x,<&>"
}`), 0o600))
	run(t, exec.Command("chown", fmt.Sprintf("%d:%d", p.s.UID, p.s.GID), projectConfig))

	// HOME is checked unchanged after every step that runs the shim.
	home := contentSnapshot(t, p.Home)
	homeUnchanged := func(t *testing.T) {
		t.Helper()
		if diff := snapshotDiff(home, contentSnapshot(t, p.Home)); diff != "" {
			t.Errorf("pixi-lima changed the user's HOME:\n%s", diff)
		}
	}
	readProject := func(t *testing.T) (map[string]any, string) {
		t.Helper()
		data, err := os.ReadFile(projectConfig)
		must(t, err)
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf(".pixi/docker/config.json is not valid JSON: %v\n%s", err, data)
		}
		return doc, string(data)
	}
	ownKeys := func(t *testing.T) {
		t.Helper()
		doc, text := readProject(t)
		if doc["detachKeys"] != "ctrl-x,<&>" || !strings.Contains(text, `"cHJvamVjdDpsb2dpbg=="`) {
			t.Errorf("the project's own key or login was lost:\n%s", text)
		}
	}

	t.Run("the user's plugins run", func(t *testing.T) {
		for args, want := range map[string]string{"hello": "hello from a plugin in HOME\n", "extra": "hello from an extra dir\n"} {
			stdout, stderr, code := p.Run(t, docker(args))
			if code != 0 || stdout != want || stderr != "" {
				t.Errorf("docker %s: exit %d\nstdout: %q (want %q)\nstderr: %s", args, code, stdout, want, stderr)
			}
		}
		// The project's Compose link comes first; the user's never runs.
		stdout, stderr, code := p.Run(t, docker("compose", "version"))
		if code != 0 || !strings.HasPrefix(stdout, "Docker Compose version") {
			t.Errorf("docker compose version: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		homeUnchanged(t)
	})

	t.Run("the project's config inherits, without secrets", func(t *testing.T) {
		doc, text := readProject(t)
		if doc["credsStore"] != "pltest" {
			t.Errorf("credsStore = %v, want the user's pltest", doc["credsStore"])
		}
		if h, _ := doc["credHelpers"].(map[string]any); len(h) != 1 || h["helper.invalid.example"] != "pltest" {
			t.Errorf("credHelpers = %v, want the user's", doc["credHelpers"])
		}
		dirs, _ := doc["cliPluginsExtraDirs"].([]any)
		want := []string{filepath.Join(p.Root, ".pixi", "docker", "cli-plugins"), filepath.Join(userDocker, "cli-plugins"), extraDir}
		if len(dirs) < len(want) || fmt.Sprint(dirs[:len(want)]) != fmt.Sprint(want) {
			t.Errorf("cliPluginsExtraDirs = %v, want it to begin %v", dirs, want)
		}
		for _, leak := range []string{secret, "secret.invalid.example", "currentContext"} {
			if strings.Contains(text, leak) {
				t.Errorf("%s reached the project's config:\n%s", leak, text)
			}
		}
		ownKeys(t)
		if info, err := os.Stat(projectConfig); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("config.json: %v, mode %v; want 0600 as docker writes it", err, info.Mode())
		}
	})

	t.Run("a private pull asks the user's credential helper", func(t *testing.T) {
		const image = "registry.invalid.example:5000/private/app:1"
		stdout, stderr, code := p.Run(t, docker("pull", image))
		// The registry does not exist: docker's own failure, docker's code.
		if code != 1 || strings.Contains(stderr, "pixi-lima") {
			t.Errorf("docker pull: exit %d (want docker's 1)\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		log, err := os.ReadFile(credLog)
		if err != nil || !strings.Contains(string(log), "get registry.invalid.example:5000\n") {
			t.Errorf("the credential helper was not asked for the registry: %v\n%s", err, log)
		}
		homeUnchanged(t)
	})

	t.Run("the environment's buildx is a plugin", func(t *testing.T) {
		bx := filepath.Join(p.s.Tools, "docker-buildx")
		if _, err := os.Stat(bx); err != nil {
			skipUnlessRequired(t, "the setup's tools have no docker-buildx")
		}
		if target, err := os.Readlink(filepath.Join(p.Root, ".pixi", "docker", "cli-plugins", "docker-buildx")); target != bx {
			t.Errorf("cli-plugins/docker-buildx -> %q (%v), want %s", target, err, bx)
		}
		stdout, stderr, code := p.Run(t, docker("buildx", "version"))
		if code != 0 || !strings.Contains(stdout, "buildx") {
			t.Errorf("docker buildx version: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})

	t.Run("concurrent calls keep the config valid", func(t *testing.T) {
		// Every call takes the full path (PIXI_LIMA_FORCE_ARG0), and every
		// other one turns inheriting off: 16 shims rewriting at once.
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := docker("ps", "-q")
				cmd.Env = append(cmd.Env, "PIXI_LIMA_FORCE_ARG0=docker", fmt.Sprintf("PIXI_LIMA_INHERIT_DOCKER_CONFIG=%t", i%2 == 0))
				if stdout, stderr, code := p.Run(t, cmd); code != 0 || stdout != "" || stderr != "" {
					t.Errorf("docker ps: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
			}()
		}
		wg.Wait()
		readProject(t)
		ownKeys(t)
		p.MustRun(t, docker("ps"))
		if doc, _ := readProject(t); doc["credsStore"] != "pltest" {
			t.Errorf("after the concurrent calls, a plain call left credsStore = %v", doc["credsStore"])
		}
		homeUnchanged(t)
	})

	t.Run("an edit of the user's config reaches the project at the next call", func(t *testing.T) {
		p.MustRun(t, docker("ps")) // the fast path's record is fresh
		writeUserConfig(`"helper.invalid.example": "pltest", "new.invalid.example": "pltest"`)
		later := time.Now().Add(2 * time.Second)
		must(t, os.Chtimes(filepath.Join(userDocker, "config.json"), later, later))
		home = contentSnapshot(t, p.Home)
		p.MustRun(t, docker("ps"))
		doc, _ := readProject(t)
		if h, _ := doc["credHelpers"].(map[string]any); h["new.invalid.example"] != "pltest" {
			t.Errorf("credHelpers = %v, want the user's new entry", doc["credHelpers"])
		}
		homeUnchanged(t)
	})

	t.Run("the user's own DOCKER_CONFIG, through docker compose", func(t *testing.T) {
		// docker runs the Compose link with the project's DOCKER_CONFIG; that
		// shim must inherit from the user's directory too, not flip the
		// project back to ~/.docker's.
		xdg := filepath.Join(p.Home, ".config", "docker")
		must(t, os.MkdirAll(xdg, 0o755))
		must(t, os.WriteFile(filepath.Join(xdg, "config.json"), []byte(`{"credsStore": "xdg"}`), 0o600))
		run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", p.s.UID, p.s.GID), filepath.Join(p.Home, ".config")))
		home = contentSnapshot(t, p.Home)
		for i := 0; i < 2; i++ {
			cmd := docker("compose", "version")
			cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+xdg)
			if stdout := p.MustRun(t, cmd); !strings.HasPrefix(stdout, "Docker Compose version") {
				t.Errorf("docker compose version: %s", stdout)
			}
			if doc, _ := readProject(t); doc["credsStore"] != "xdg" {
				t.Errorf("call %d: credsStore = %v, want xdg from the user's DOCKER_CONFIG", i+1, doc["credsStore"])
			}
		}
		homeUnchanged(t)
		p.MustRun(t, docker("ps")) // back to ~/.docker
	})

	t.Run("a helper that is not on PATH is left out, with one warning", func(t *testing.T) {
		// Docker Desktop was uninstalled; its credsStore stays behind.
		userConfig := filepath.Join(userDocker, "config.json")
		must(t, os.WriteFile(userConfig, []byte(`{"credsStore": "desktop", "credHelpers": {"helper.invalid.example": "pltest"}}`), 0o600))
		later := time.Now().Add(4 * time.Second)
		must(t, os.Chtimes(userConfig, later, later))
		home = contentSnapshot(t, p.Home)
		warning := "pixi-lima: warning: credential helper docker-credential-desktop is not on PATH; docker login stores credentials in " +
			projectConfig + ` instead (install it, or remove "credsStore" from ` + userConfig + ")\n"
		for i, want := range []string{warning, ""} {
			cmd := docker("ps", "-q")
			cmd.Env = append(cmd.Env, "PIXI_LIMA_FORCE_ARG0=docker") // the full path, which syncs, both times
			if stdout, stderr, code := p.Run(t, cmd); code != 0 || stdout != "" || stderr != want {
				t.Errorf("call %d: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", i+1, code, stdout, stderr, want)
			}
		}
		doc, text := readProject(t)
		if _, ok := doc["credsStore"]; ok {
			t.Errorf("credsStore is in the project's config:\n%s", text)
		}
		if h, _ := doc["credHelpers"].(map[string]any); h["helper.invalid.example"] != "pltest" {
			t.Errorf("credHelpers = %v, want the helper that is on PATH", doc["credHelpers"])
		}
		ownKeys(t)
		homeUnchanged(t)
		writeUserConfig(`"helper.invalid.example": "pltest"`)
		later = later.Add(2 * time.Second)
		must(t, os.Chtimes(userConfig, later, later))
		home = contentSnapshot(t, p.Home)
		p.MustRun(t, docker("ps"))
	})

	t.Run("inherit-docker-config = false removes what was inherited", func(t *testing.T) {
		off := func(cmd *exec.Cmd) *exec.Cmd {
			cmd.Env = append(cmd.Env, "PIXI_LIMA_INHERIT_DOCKER_CONFIG=false")
			return cmd
		}
		p.MustRun(t, off(docker("ps")))
		doc, text := readProject(t)
		for _, key := range []string{"credsStore", "credHelpers", "cliPluginsExtraDirs"} {
			if _, ok := doc[key]; ok {
				t.Errorf("%s is still there:\n%s", key, text)
			}
		}
		ownKeys(t)
		if _, stderr, code := p.Run(t, off(docker("hello"))); code == 0 || !strings.Contains(stderr, "unknown command") {
			t.Errorf("docker hello with inheriting off: exit %d, stderr %s", code, stderr)
		}
		homeUnchanged(t)
	})

	// What the shim recorded for docker's calls back into it.
	if rec, err := os.ReadFile(filepath.Join(p.Root, ".pixi", "pixi-lima", "fastpath")); err != nil ||
		!strings.Contains(string(rec), "set "+dockerconfig.UserVar+"="+userDocker+"\n") {
		t.Errorf("the fast path's record does not pass the user's docker config on: %v\n%s", err, rec)
	}
}

// contentSnapshot is snapshotTree with each file's content too: the
// user's files must stay the same byte for byte, not only by mtime.
func contentSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for rel, e := range snapshotTree(t, root) {
		s := e.String()
		if e.mode.IsRegular() {
			data, err := os.ReadFile(filepath.Join(root, rel))
			must(t, err)
			s += fmt.Sprintf(", sha256 %x", sha256.Sum256(data))
		}
		out[rel] = s
	}
	return out
}

// snapshotDiff lists what differs between two snapshots; "" when nothing.
func snapshotDiff(before, after map[string]string) string {
	return strings.Join(treeDiff(before, after), "\n")
}
