package dockerconfig

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fixture is a project's docker config dir and a user's, in a temp dir.
type fixture struct {
	o    options
	home string // the user's docker config dir
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{home: filepath.Join(dir, "home", ".docker")}
	f.o = options{
		dir:     filepath.Join(dir, "repo", ".pixi", "docker"),
		bin:     filepath.Join(dir, "repo", ".pixi", "bin"),
		userDir: f.home,
		inherit: true,
		// One that exists, one that does not.
		systemDirs: []string{filepath.Join(dir, "brew"), filepath.Join(dir, "missing")},
	}
	for _, d := range []string{f.home, f.o.bin, f.o.dir, filepath.Join(dir, "brew")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	// userConfig's helpers are installed.
	installHelper(t, &f, "osxkeychain")
	installHelper(t, &f, "ecr-login")
	return f
}

func (f fixture) userConfig(t *testing.T, config string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(f.home, "config.json"), []byte(config), 0o600))
}

func (f fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.o.sync(); err != nil {
		t.Fatal(err)
	}
}

// project reads the project's config.json.
func (f fixture) project(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.o.dir, "config.json"))
	must(t, err)
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, data)
	}
	return doc
}

func (f fixture) writeProject(t *testing.T, config string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(f.o.dir, "config.json"), []byte(config), 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const userConfig = `{
	"auths": {"ghcr.io": {"auth": "c2VjcmV0OnNlY3JldA=="}},
	"credsStore": "osxkeychain",
	"credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
	"cliPluginsExtraDirs": ["/opt/colima/plugins"],
	"currentContext": "colima"
}`

// TestInherit: the project gets the user's credential helpers and plugin
// directories, in docker's search order with the project's own first, and
// nothing else of theirs: no auths, no context.
func TestInherit(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	f.sync(t)
	got := f.project(t)
	want := map[string]any{
		"credsStore":  "osxkeychain",
		"credHelpers": map[string]any{"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
		"cliPluginsExtraDirs": []any{
			filepath.Join(f.o.dir, "cli-plugins"), filepath.Join(f.home, "cli-plugins"),
			"/opt/colima/plugins", f.o.systemDirs[0],
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("project config = %v\nwant %v", got, want)
	}
	data, _ := os.ReadFile(filepath.Join(f.o.dir, "config.json"))
	if strings.Contains(string(data), "c2VjcmV0") {
		t.Error("the user's auths reached the project")
	}
	if !strings.HasPrefix(string(data), "{\n\t\"") {
		t.Errorf("not docker's tab indentation:\n%s", data)
	}
	if info, _ := os.Stat(filepath.Join(f.o.dir, "config.json")); info.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want 0600 as docker writes it", info.Mode())
	}
}

// TestMerge: the rules, key by key. What the user wrote into the project's
// config themselves stays; what pixi-lima wrote follows the user's config,
// and goes when it goes; every other key is kept byte for byte.
func TestMerge(t *testing.T) {
	f := newFixture(t)
	installHelper(t, &f, "gcloud")
	installHelper(t, &f, "quay")
	f.userConfig(t, userConfig)
	// A project login and a setting of the user's, before the first sync.
	f.writeProject(t, `{"auths": {"reg.example": {"auth": "cHJvamVjdA=="}}, "detachKeys": "ctrl-x,<&>", "credsStore": "pass"}`)
	f.sync(t)
	got := f.project(t)
	if got["credsStore"] != "pass" {
		t.Errorf("the project's own credsStore was replaced: %v", got["credsStore"])
	}
	if got["credHelpers"] == nil || got["cliPluginsExtraDirs"] == nil {
		t.Errorf("keys the project had not set were not inherited: %v", got)
	}
	data, _ := os.ReadFile(filepath.Join(f.o.dir, "config.json"))
	for _, kept := range []string{`"ctrl-x,<&>"`, `"cHJvamVjdA=="`} {
		if !strings.Contains(string(data), kept) {
			t.Errorf("%s did not survive:\n%s", kept, data)
		}
	}

	// The user's config changes: what pixi-lima wrote follows.
	f.userConfig(t, `{"credHelpers": {"gcr.io": "gcloud"}}`)
	f.sync(t)
	got = f.project(t)
	if h, _ := got["credHelpers"].(map[string]any); len(h) != 1 || h["gcr.io"] != "gcloud" {
		t.Errorf("credHelpers = %v, want the user's new one alone", got["credHelpers"])
	}
	if got["credsStore"] != "pass" {
		t.Errorf("credsStore = %v, want the project's own still", got["credsStore"])
	}

	// The user edits an inherited key in the project: it is theirs now.
	f.writeProject(t, `{"credHelpers": {"mine.example": "mine"}, "credsStore": "pass"}`)
	f.userConfig(t, `{"credHelpers": {"gcr.io": "gcloud", "quay.io": "quay"}}`)
	f.sync(t)
	if h, _ := f.project(t)["credHelpers"].(map[string]any); len(h) != 1 || h["mine.example"] != "mine" {
		t.Errorf("credHelpers = %v, want the user's edit kept", h)
	}
	// and when they remove it, pixi-lima fills it in again.
	f.writeProject(t, `{"credsStore": "pass"}`)
	f.sync(t)
	if h, _ := f.project(t)["credHelpers"].(map[string]any); len(h) != 2 {
		t.Errorf("credHelpers = %v, want the inherited ones back", h)
	}

	// docker login rewrites the file its own way (spacing, key order): the
	// values are still the ones pixi-lima wrote, so they still follow.
	var doc map[string]any
	data, _ = os.ReadFile(filepath.Join(f.o.dir, "config.json"))
	must(t, json.Unmarshal(data, &doc))
	compact, _ := json.Marshal(doc)
	f.writeProject(t, string(compact))
	f.userConfig(t, `{}`)
	f.sync(t)
	if got := f.project(t); got["credHelpers"] != nil || got["credsStore"] != "pass" {
		t.Errorf("after the user's helpers went: %v, want credHelpers gone and the project's credsStore kept", got)
	}
}

// TestInheritOff: inherit-docker-config = false removes what was inherited,
// keeps what the user wrote, and keeps the buildx link.
func TestInheritOff(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	bx := fakeBuildx(t, &f)
	f.sync(t)
	f.writeProject(t, strings.Replace(string(readFile(t, filepath.Join(f.o.dir, "config.json"))), "{", `{"detachKeys": "ctrl-q", `, 1))
	f.o.inherit = false
	f.sync(t)
	if got := f.project(t); !reflect.DeepEqual(got, map[string]any{"detachKeys": "ctrl-q"}) {
		t.Errorf("project config = %v, want only the user's own key", got)
	}
	if target, _ := os.Readlink(filepath.Join(f.o.dir, "cli-plugins", "docker-buildx")); target != bx {
		t.Errorf("buildx link -> %q, want %q", target, bx)
	}
}

// TestNoChangeNoWrite: a sync with nothing new leaves the file alone.
func TestNoChangeNoWrite(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	f.sync(t)
	file := filepath.Join(f.o.dir, "config.json")
	before, _ := os.Stat(file)
	f.sync(t)
	after, _ := os.Stat(file)
	if !os.SameFile(before, after) {
		t.Error("config.json was rewritten though nothing changed")
	}
}

// TestInvalidProjectConfig: a config.json that is not JSON is never
// rewritten; the error says so, and the buildx link is still made.
func TestInvalidProjectConfig(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	bx := fakeBuildx(t, &f)
	f.writeProject(t, `{"auths": {`)
	err := f.o.sync()
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("error %v, want one saying the project's config is not valid JSON", err)
	}
	if got := string(readFile(t, filepath.Join(f.o.dir, "config.json"))); got != `{"auths": {` {
		t.Errorf("the invalid config.json was rewritten: %q", got)
	}
	if target, _ := os.Readlink(filepath.Join(f.o.dir, "cli-plugins", "docker-buildx")); target != bx {
		t.Errorf("buildx link -> %q, want %q", target, bx)
	}
}

// TestNeverWritesUser: the user's directory is read, never written.
func TestNeverWritesUser(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	must(t, os.Chmod(f.home, 0o500))
	defer os.Chmod(f.home, 0o755)
	before := readFile(t, filepath.Join(f.home, "config.json"))
	f.sync(t)
	f.sync(t)
	if after := readFile(t, filepath.Join(f.home, "config.json")); string(after) != string(before) {
		t.Error("the user's config.json changed")
	}
	entries, _ := os.ReadDir(f.home)
	if len(entries) != 1 {
		t.Errorf("the user's docker dir has %d entries, want config.json alone", len(entries))
	}
}

// TestBuildx: the link follows the docker-buildx on PATH, skipping the
// project's .pixi/bin; a plugin the user put there is never touched.
func TestBuildx(t *testing.T) {
	f := newFixture(t)
	link := filepath.Join(f.o.dir, "cli-plugins", "docker-buildx")
	// One in .pixi/bin is skipped; the environment's is linked.
	must(t, os.WriteFile(filepath.Join(f.o.bin, "docker-buildx"), []byte("#!/bin/sh\n"), 0o755))
	bx := fakeBuildx(t, &f)
	f.o.path = f.o.bin + ":" + f.o.path
	f.sync(t)
	if target, _ := os.Readlink(link); target != bx {
		t.Fatalf("buildx link -> %q, want %q", target, bx)
	}
	// The environment's buildx moves: the link follows.
	other := filepath.Join(filepath.Dir(f.o.bin), "envs", "dev", "bin")
	must(t, os.MkdirAll(other, 0o755))
	must(t, os.Rename(bx, filepath.Join(other, "docker-buildx")))
	f.o.path = other
	f.sync(t)
	if target, _ := os.Readlink(link); target != filepath.Join(other, "docker-buildx") {
		t.Errorf("buildx link -> %q after the move", target)
	}
	// It goes away: so does the link.
	f.o.path = ""
	f.sync(t)
	if _, err := os.Lstat(link); err == nil {
		t.Error("the link to a buildx that went away is still there")
	}
	// The user's own link and the Compose link are theirs.
	must(t, os.Symlink("/somewhere/docker-buildx", link))
	must(t, os.Symlink("../../bin/docker-compose", filepath.Join(f.o.dir, "cli-plugins", "docker-compose")))
	f.o.path = other
	f.sync(t)
	if target, _ := os.Readlink(link); target != "/somewhere/docker-buildx" {
		t.Errorf("the user's buildx link was replaced: -> %q", target)
	}
	if target, _ := os.Readlink(filepath.Join(f.o.dir, "cli-plugins", "docker-compose")); target != "../../bin/docker-compose" {
		t.Errorf("the Compose link changed: -> %q", target)
	}
}

// TestConcurrent: many syncs at once leave valid JSON with every key.
func TestConcurrent(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	f.writeProject(t, `{"detachKeys": "ctrl-q"}`)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.o.sync(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := f.project(t); got["detachKeys"] != "ctrl-q" || got["credsStore"] != "osxkeychain" {
		t.Errorf("after concurrent syncs: %v", got)
	}
}

// TestNoPixiDir: a project without .pixi gets nothing created.
func TestNoPixiDir(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, userConfig)
	must(t, os.RemoveAll(filepath.Dir(f.o.dir)))
	f.sync(t)
	if _, err := os.Stat(filepath.Dir(f.o.dir)); err == nil {
		t.Error(".pixi was created")
	}
}

// TestUserDir: which directory is the user's.
func TestUserDir(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/h"}, "/h/.docker"},
		{map[string]string{"HOME": "/h", "DOCKER_CONFIG": "/cfg"}, "/cfg"},
		{map[string]string{"HOME": "/h", "DOCKER_CONFIG": "/repo/.pixi/docker"}, "/h/.docker"},
		{map[string]string{"HOME": "/h", "DOCKER_CONFIG": "/repo/.pixi/docker/", UserVar: "/cfg/"}, "/cfg"},
		{map[string]string{"HOME": "/h", "DOCKER_CONFIG": "/cfg2", UserVar: "/cfg"}, "/cfg2"},
		{map[string]string{}, ""},
	} {
		if got := UserDir(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("UserDir(%v) = %q, want %q", c.env, got, c.want)
		}
	}
}

// fakeBuildx puts an executable docker-buildx in a directory of its own
// and that directory first on f's PATH.
func fakeBuildx(t *testing.T, f *fixture) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(f.o.bin), "envs", "default", "bin")
	must(t, os.MkdirAll(dir, 0o755))
	bx := filepath.Join(dir, "docker-buildx")
	must(t, os.WriteFile(bx, []byte("#!/bin/sh\n"), 0o755))
	f.o.path = dir + ":" + f.o.path
	return bx
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	return data
}
