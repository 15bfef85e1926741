package dockerconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// installHelper puts an executable docker-credential-<name> in a directory
// of f's PATH, as a real helper's package would, and returns its path.
func installHelper(t *testing.T, f *fixture, name string) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(f.home), "helpers")
	must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "docker-credential-"+name)
	must(t, os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	if !strings.Contains(":"+f.o.path+":", ":"+dir+":") {
		f.o.path = strings.TrimSuffix(dir+":"+f.o.path, ":")
	}
	return path
}

// TestMissingHelperNotInherited: a helper of the user's that is not on PATH
// (Docker Desktop's "desktop", left behind when Docker Desktop went) is not
// copied into the project: docker login there would fail to store its
// credentials. The helpers that are on PATH are.
func TestMissingHelperNotInherited(t *testing.T) {
	f := newFixture(t)
	installHelper(t, &f, "ecr-login")
	f.userConfig(t, `{
	"credsStore": "desktop",
	"credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login", "gcr.io": "gcloud"}
}`)
	_ = f.o.sync() // the warning is TestMissingHelperWarnsOnce's
	got := f.project(t)
	if _, ok := got["credsStore"]; ok {
		t.Errorf("credsStore = %v, want none: docker-credential-desktop is not on PATH", got["credsStore"])
	}
	want := map[string]any{"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}
	if !reflect.DeepEqual(got["credHelpers"], want) {
		t.Errorf("credHelpers = %v, want only the helper on PATH: %v", got["credHelpers"], want)
	}
	if got["cliPluginsExtraDirs"] == nil {
		t.Error("the plugin directories were not inherited")
	}
}

// TestMissingHelperWarnsOnce: the user hears once per helper that it was
// left out, what that means and what to do; again only if it comes back
// and goes again.
func TestMissingHelperWarnsOnce(t *testing.T) {
	f := newFixture(t)
	f.userConfig(t, `{"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}`)
	err := f.o.sync()
	project := filepath.Join(f.o.dir, "config.json")
	user := filepath.Join(f.home, "config.json")
	for _, want := range []string{
		"credential helper docker-credential-desktop is not on PATH; docker login stores credentials in " + project +
			` instead (install it, or remove "credsStore" from ` + user + ")",
		"credential helper docker-credential-gcloud is not on PATH; docker login stores credentials for gcr.io in " + project +
			` instead (install it, or remove "gcr.io" from "credHelpers" in ` + user + ")",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("first sync: %v\nwant a warning %q", err, want)
		}
	}
	if err := f.o.sync(); err != nil {
		t.Errorf("second sync warned again: %v", err)
	}

	// desktop is installed, then removed again: a new warning.
	helper := installHelper(t, &f, "desktop")
	if err := f.o.sync(); err != nil {
		t.Errorf("with docker-credential-desktop installed: %v", err)
	}
	if got := f.project(t)["credsStore"]; got != "desktop" {
		t.Errorf("credsStore = %v once docker-credential-desktop is on PATH, want desktop", got)
	}
	must(t, os.Remove(helper))
	if err := f.o.sync(); err == nil || !strings.Contains(err.Error(), "docker-credential-desktop is not on PATH") || strings.Contains(err.Error(), "gcloud") {
		t.Errorf("after docker-credential-desktop went again: %v, want a warning about it alone", err)
	}
}

// TestRemovedHelperStaysRemoved: doctor tells the user to remove a helper
// that is not on PATH from the project's config.json; the next sync must
// not put it back. One pixi-lima had inherited drops out by itself.
func TestRemovedHelperStaysRemoved(t *testing.T) {
	f := newFixture(t)
	helper := installHelper(t, &f, "desktop")
	f.userConfig(t, `{"credsStore": "desktop"}`)
	f.sync(t)
	if got := f.project(t)["credsStore"]; got != "desktop" {
		t.Fatalf("credsStore = %v, want desktop inherited while it is on PATH", got)
	}
	// Docker Desktop is uninstalled; its entry in ~/.docker stays.
	must(t, os.Remove(helper))
	_ = f.o.sync()
	if got, ok := f.project(t)["credsStore"]; ok {
		t.Errorf("credsStore = %v after docker-credential-desktop went, want it dropped", got)
	}
	// doctor's fix, done by hand on a config that still names it.
	f.writeProject(t, `{"credsStore": "desktop", "detachKeys": "ctrl-q"}`)
	_ = f.o.sync()
	f.writeProject(t, `{"detachKeys": "ctrl-q"}`)
	_ = f.o.sync()
	if got := f.project(t); got["credsStore"] != nil || got["detachKeys"] != "ctrl-q" {
		t.Errorf("after the user removed credsStore: %v, want it to stay removed", got)
	}
}

// TestMissingHelperWarnsTruly: the warning says where docker keeps the
// credentials instead, and there is none for a helper docker would not
// have used anyway. A helper found only through a relative PATH entry is
// missing: docker's os/exec refuses to run it (exec.ErrDot).
func TestMissingHelperWarnsTruly(t *testing.T) {
	f := newFixture(t) // docker-credential-osxkeychain is on PATH
	relDir := filepath.Join(filepath.Dir(f.home), "relative")
	must(t, os.MkdirAll(relDir, 0o755))
	must(t, os.WriteFile(filepath.Join(relDir, "docker-credential-gcloud"), []byte("#!/bin/sh\n"), 0o755))
	rel, err := filepath.Rel(mustGetwd(t), relDir)
	must(t, err)
	f.o.path = rel + ":" + f.o.path
	f.userConfig(t, `{"credsStore": "osxkeychain", "credHelpers": {"gcr.io": "gcloud", "us.gcr.io": "gcloud"}}`)
	err = f.o.sync()
	want := "credential helper docker-credential-gcloud is not on PATH; docker login stores credentials for gcr.io, us.gcr.io with docker-credential-osxkeychain instead" +
		` (install it, or remove "gcr.io" and "us.gcr.io" from "credHelpers" in ` + filepath.Join(f.home, "config.json") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("sync: %v\nwant %s", err, want)
	}
	if got := f.project(t); got["credsStore"] != "osxkeychain" || got["credHelpers"] != nil {
		t.Errorf("project config %v, want osxkeychain alone", got)
	}

	// The project's own credsStore and credHelpers: the user's are not
	// used there, present or not.
	g := newFixture(t)
	g.writeProject(t, `{"credsStore": "pass", "credHelpers": {"mine.example": "mine"}}`)
	g.userConfig(t, `{"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}`)
	if err := g.o.sync(); err != nil {
		t.Errorf("sync with the project's own helpers: %v, want no warning", err)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	must(t, err)
	return wd
}
