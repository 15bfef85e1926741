package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCleanGlobal runs `pixi-lima clean-global` against a real global Lima
// home: instances made by the real limactl (create only, no boot) with
// LIMA_HOME unset under a sandbox HOME, beside a download cache holding a
// symlink out of it and a stray file of the user's in ~/.lima. The
// instances are Stopped: a running one would need a VM boot, so the
// `limactl stop --force` step for running instances is not exercised here.
func TestCleanGlobal(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"cg\"\n")
	home := p.Home
	limaHome := filepath.Join(home, ".lima")
	cache := filepath.Join(home, ".cache", "lima")
	clean := func(args ...string) (string, string, int) {
		return p.Run(t, p.Command(p.Bin("pixi-lima"), append([]string{"clean-global"}, args...)...))
	}

	// Lima never used: nothing to clean, exit 0, even with --yes.
	for _, args := range [][]string{nil, {"--yes"}} {
		out, errOut, code := clean(args...)
		if code != 0 || !strings.Contains(out, "nothing to clean") {
			t.Fatalf("clean-global %v with no Lima state: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}

	// Two real instances in $HOME/.lima. A local qcow2 stands in for the
	// image Lima would download (no internet here).
	img := qcowImage(t, p)
	limactl := filepath.Join(p.Root, ".pixi", "pixi-lima", "bin", "limactl")
	for _, name := range []string{"a", "b"} {
		p.MustRun(t, p.Command(limactl, "--tty=false", "create", "--name="+name, "template://docker",
			"--set", localImage(img)))
	}
	for _, name := range []string{"a", "b"} {
		mustExist(t, filepath.Join(limaHome, name, "lima.yaml"))
	}
	// The cache: 1 MiB of image, and a symlink to a directory outside it.
	outside := filepath.Join(p.Root, "outside")
	must(t, os.MkdirAll(filepath.Join(cache, "download"), 0o755))
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(cache, "download", "image"), []byte(strings.Repeat("x", 1<<20)), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("not Lima's"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(cache, "link-out")))
	// The user's own file in ~/.lima: ~/.lima and Lima's _config must stay for it.
	stray := filepath.Join(limaHome, "notes.txt")
	must(t, os.WriteFile(stray, []byte("mine"), 0o644))
	run(t, exec.Command("chown", "-R", "-h", fmt.Sprintf("%d:%d", s.UID, s.GID), home))

	// Listing deletes nothing and names everything it would delete.
	out, errOut, code := clean()
	if code != 0 {
		t.Fatalf("clean-global: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\s+instance\s+a\s+Stopped\s.*` + regexp.QuoteMeta(filepath.Join(limaHome, "a")) + `$`),
		regexp.MustCompile(`(?m)^\s+instance\s+b\s+Stopped\s.*` + regexp.QuoteMeta(filepath.Join(limaHome, "b")) + `$`),
		regexp.MustCompile(`(?m)^\s+cache\s+lima\s.*` + regexp.QuoteMeta(cache) + `$`),
		regexp.MustCompile(`(?m)^kept: ` + regexp.QuoteMeta(limaHome) + ` also holds .*notes\.txt`),
	} {
		if !want.MatchString(out) {
			t.Errorf("listing lacks %s:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`(?m)^\s+config\s`).MatchString(out) {
		t.Errorf("Lima's _config must not be listed while ~/.lima keeps the user's file:\n%s", out)
	}
	if total := bytesOf(t, out, "total"); total < 1<<20 {
		t.Errorf("total %d is less than the 1 MiB cache file alone:\n%s", total, out)
	}
	if !strings.Contains(errOut, "clean-global --yes") {
		t.Errorf("listing does not say how to delete:\n%s", errOut)
	}
	mustExist(t, filepath.Join(limaHome, "a"), filepath.Join(limaHome, "b"), cache)

	// An instance that is not there is a usage error, and deletes nothing.
	if _, errOut, code := clean("--instance", "nope", "--yes"); code != 2 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("--instance nope: exit %d, want 2\n%s", code, errOut)
	}

	// --instance a --yes: exactly a goes, through limactl.
	out, errOut, code = clean("--instance", "a")
	if code != 0 || strings.Contains(out, "instance  b") || strings.Contains(out, cache) {
		t.Errorf("--instance a lists more than a: exit %d\n%s", code, out)
	}
	listed := bytesOf(t, out, "total")
	out, errOut, code = clean("--instance", "a", "--yes")
	if code != 0 {
		t.Fatalf("--instance a --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, `deleting global VM "a"`) {
		t.Errorf("a was not deleted through limactl:\n%s", errOut)
	}
	mustNotExist(t, filepath.Join(limaHome, "a"))
	mustExist(t, filepath.Join(limaHome, "b"), cache)
	if freed := bytesOf(t, out, "freed"); freed != listed || freed == 0 {
		t.Errorf("freed %d bytes, listed %d", freed, listed)
	}

	// --yes: b and the cache go; what the cache's symlink points to, the
	// user's file, Lima's _config and so ~/.lima itself all stay.
	out, _, _ = clean()
	listed = bytesOf(t, out, "total")
	out, errOut, code = clean("--yes")
	if code != 0 {
		t.Fatalf("--yes: exit %d\n%s\n%s", code, out, errOut)
	}
	mustNotExist(t, filepath.Join(limaHome, "b"), cache)
	mustExist(t, filepath.Join(outside, "keep"), stray, filepath.Join(limaHome, "_config", "user"))
	if freed := bytesOf(t, out, "freed"); freed != listed {
		t.Errorf("freed %d bytes, listed %d\n%s", freed, listed, out)
	}
	// limactl agrees: no instance left in the global home.
	if out := p.MustRun(t, p.Command(limactl, "list", "--format", "{{.Name}}")); strings.TrimSpace(out) != "" {
		t.Errorf("limactl still lists %q", out)
	}

	// Once the user's file is gone, Lima's generated _config is listed and
	// ~/.lima goes with it.
	must(t, os.Remove(stray))
	out, _, _ = clean()
	if !regexp.MustCompile(`(?m)^\s+config\s+_config\s`).MatchString(out) {
		t.Errorf("_config not listed once it is all that is left:\n%s", out)
	}
	out, errOut, code = clean("--yes")
	if code != 0 || !strings.Contains(out, "it was empty") {
		t.Fatalf("--yes on an empty home: exit %d\n%s\n%s", code, out, errOut)
	}
	mustNotExist(t, limaHome)
	mustExist(t, filepath.Join(outside, "keep"))
	if out, _, code := clean(); code != 0 || !strings.Contains(out, "nothing to clean") {
		t.Errorf("after cleaning: exit %d\n%s", code, out)
	}
}

// TestCleanGlobalRefusesProjectState: with XDG_CACHE_HOME pointing into
// .pixi, as pixi-lima sets it for the project's own limactl, the "global"
// cache is the project's. clean-global must refuse and touch nothing.
func TestCleanGlobalRefusesProjectState(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"cgr\"\n")
	projectCache := filepath.Join(p.Root, ".pixi", "pixi-lima", "cache")
	image := filepath.Join(projectCache, "lima", "download", "image")
	must(t, os.MkdirAll(filepath.Dir(image), 0o755))
	must(t, os.WriteFile(image, []byte("the project's"), 0o644))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), projectCache))

	for name, extra := range map[string]string{
		"XDG_CACHE_HOME": "XDG_CACHE_HOME=" + projectCache,
		"HOME":           "HOME=" + filepath.Join(p.Root, ".pixi", "pixi-lima", "home"),
	} {
		cmd := p.Command(p.Bin("pixi-lima"), "clean-global", "--yes")
		cmd.Env = append(withoutKey(cmd.Env, strings.SplitN(extra, "=", 2)[0]), extra)
		out, errOut, code := p.Run(t, cmd)
		if code != 4 || !strings.Contains(errOut, "refusing") {
			t.Errorf("%s inside .pixi: exit %d, want 4 (refused)\nstdout:\n%s\nstderr:\n%s", name, code, out, errOut)
		}
		mustExist(t, image)
	}
}

// bytesOf reads "<label>: N bytes" (listing) or "<label> N bytes" (report).
func bytesOf(t *testing.T, out, label string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + label + `:? (\d+) bytes`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", label, out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if _, err := os.Lstat(path); err != nil {
			t.Errorf("%s should exist: %v", path, err)
		}
	}
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("%s should be gone", path)
		}
	}
}

func withoutKey(environ []string, key string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
