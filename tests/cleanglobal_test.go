package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCleanGlobal runs `pixi-lima clean-global` against a real global Lima
// home: instances made by the real limactl (create only, no boot) with
// LIMA_HOME unset under a sandbox HOME, beside a download cache holding a
// symlink out of it and a stray file of the user's in ~/.lima. The
// instances are Stopped; stopping one that is not is
// TestCleanGlobalStopsGracefully.
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

// TestCleanGlobalKeepsProtected: an instance protected with the real
// `limactl protect` is listed as kept and never stopped or deleted, and
// Lima's _config (its ssh key) and ~/.lima stay with it, while the rest of
// what is listed goes and the run succeeds.
func TestCleanGlobalKeepsProtected(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"cgp\"\n")
	limaHome, cache, limactl := globalInstances(t, p, "keep", "gone")
	p.MustRun(t, p.Command(limactl, "protect", "keep"))
	// limactl create makes no disk (start does, and there is no VM here):
	// a qcow2 stands in for the one Lima would have made.
	disk := filepath.Join(limaHome, "keep", "diffdisk")
	p.MustRun(t, p.Command("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"))
	must(t, os.MkdirAll(cache, 0o755))
	must(t, os.WriteFile(filepath.Join(cache, "image"), []byte("x"), 0o644))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), p.Home))
	clean := func(args ...string) (string, string, int) {
		return p.Run(t, p.Command(p.Bin("pixi-lima"), append([]string{"clean-global"}, args...)...))
	}
	keptLine := regexp.MustCompile(`(?m)^kept: instance keep is protected .*` + regexp.QuoteMeta(filepath.Join(limaHome, "keep")))

	out, errOut, code := clean()
	if code != 0 || !keptLine.MatchString(out) {
		t.Errorf("listing: exit %d, want 0 and keep listed as protected\n%s\n%s", code, out, errOut)
	}
	for _, re := range []string{`(?m)^\s+instance\s+keep\s`, `(?m)^\s+config\s`, `(?m)^\s+home\s`} {
		if regexp.MustCompile(re).MatchString(out) {
			t.Errorf("listed for deletion (%s), but a protected instance keeps it:\n%s", re, out)
		}
	}

	out, errOut, code = clean("--yes")
	if code != 0 || !keptLine.MatchString(out) {
		t.Errorf("--yes: exit %d, want 0 and keep reported as kept\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, `VM "keep"`) {
		t.Errorf("limactl was run on the protected instance:\n%s", errOut)
	}
	mustExist(t, filepath.Join(limaHome, "keep", "lima.yaml"), disk, filepath.Join(limaHome, "keep", "protected"),
		filepath.Join(limaHome, "_config", "user"))
	mustNotExist(t, filepath.Join(limaHome, "gone"), cache)
	for _, want := range []string{"removed instance " + filepath.Join(limaHome, "gone"), "removed cache " + cache} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if got := p.MustRun(t, p.Command(limactl, "list", "--format", "{{.Name}} {{.Protected}}")); strings.TrimSpace(got) != "keep true" {
		t.Errorf("limactl list: %q, want only the protected keep", got)
	}
}

// TestCleanGlobalStopsGracefully: an instance that is not Stopped is
// stopped with `limactl stop NAME`; only --force escalates to `limactl
// stop --force` when that fails, and until then nothing it runs is killed,
// the failure names what was kept and why (exit 1), and Lima's _config and
// ~/.lima stay. No VM boots here, so two `sleep` processes of the test user
// stand in for the host agent and QEMU (ha.pid, qemu.pid): the real limactl
// then sees an instance whose processes run but whose host agent does not
// answer ("Broken"), and its graceful stop really fails. The path where a
// graceful stop succeeds needs a real VM and is not exercised here.
func TestCleanGlobalStopsGracefully(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"cgs\"\n")
	limaHome, cache, _ := globalInstances(t, p, "stuck", "idle")
	hostAgent, hostAgentAlive := standIn(t, p)
	driver, driverAlive := standIn(t, p)
	must(t, os.WriteFile(filepath.Join(limaHome, "stuck", "ha.pid"), []byte(strconv.Itoa(hostAgent)), 0o644))
	must(t, os.WriteFile(filepath.Join(limaHome, "stuck", "qemu.pid"), []byte(strconv.Itoa(driver)), 0o644))
	must(t, os.MkdirAll(cache, 0o755))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), p.Home))
	clean := func(args ...string) (string, string, int) {
		return p.Run(t, p.Command(p.Bin("pixi-lima"), append([]string{"clean-global"}, args...)...))
	}
	logFile := filepath.Join(p.Root, ".pixi", "pixi-lima", "log", "clean-global.log")

	out, errOut, code := clean()
	if !regexp.MustCompile(`(?m)^\s+instance\s+stuck\s+Broken\s`).MatchString(out) {
		t.Fatalf("stuck is not listed as Broken (exit %d):\n%s\n%s", code, out, errOut)
	}

	// Without --force: the graceful stop fails, stuck and everything it
	// needs stay, the rest goes, and the error says which is which.
	out, errOut, code = clean("--yes")
	if code != 1 {
		t.Errorf("--yes with a VM that does not stop: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !hostAgentAlive() || !driverAlive() {
		t.Errorf("without --force a process of the instance was killed")
	}
	mustExist(t, filepath.Join(limaHome, "stuck", "lima.yaml"), filepath.Join(limaHome, "_config", "user"))
	mustNotExist(t, filepath.Join(limaHome, "idle"), cache)
	for _, want := range []string{"removed instance " + filepath.Join(limaHome, "idle"), "removed cache " + cache} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "removed config") || strings.Contains(out, "it was empty") {
		t.Errorf("stdout says _config or ~/.lima went:\n%s", out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`instance ` + regexp.QuoteMeta(filepath.Join(limaHome, "stuck")) + ` was not removed: .*limactl stop.*Broken`),
		regexp.MustCompile(`config ` + regexp.QuoteMeta(filepath.Join(limaHome, "_config")) + ` was not removed: .*stuck`),
		regexp.MustCompile(regexp.QuoteMeta(limaHome) + ` was not removed`),
		regexp.MustCompile(`hint: .*clean-global --yes --force`),
	} {
		if !want.MatchString(errOut) {
			t.Errorf("stderr lacks %s:\n%s", want, errOut)
		}
	}
	logged, _ := os.ReadFile(logFile)
	if !strings.Contains(string(logged), "limactl --tty=false stop stuck\n") || strings.Contains(string(logged), "--force") {
		t.Errorf("limactl runs, want a graceful stop and no --force:\n%s", logged)
	}

	// --force: the failed graceful stop escalates to a kill; then stuck,
	// Lima's _config and the emptied ~/.lima all go.
	out, errOut, code = clean("--yes", "--force")
	if code != 0 {
		t.Errorf("--yes --force: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	for i := 0; i < 50 && (hostAgentAlive() || driverAlive()); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if hostAgentAlive() || driverAlive() {
		t.Errorf("--force did not kill the instance's processes")
	}
	mustNotExist(t, limaHome)
	logged, _ = os.ReadFile(logFile)
	if !regexp.MustCompile(`limactl --tty=false stop stuck\n(?s:.*)limactl --tty=false stop --force stuck\n`).Match(logged) {
		t.Errorf("limactl runs, want a graceful stop, then stop --force:\n%s", logged)
	}
}

// TestCleanGlobalRefusesRoot: limactl refuses root, so clean-global --yes
// as root must refuse (exit 3) before it deletes anything, the cache too.
// Listing stays allowed: it runs no limactl.
func TestCleanGlobalRefusesRoot(t *testing.T) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "needs root")
	}
	p := newProject(t, s, "[workspace]\nname = \"cgroot\"\n")
	cache := filepath.Join(p.Home, ".cache", "lima")
	must(t, os.MkdirAll(cache, 0o755))
	must(t, os.WriteFile(filepath.Join(cache, "image"), []byte("x"), 0o644))
	asRoot := func(args ...string) (string, int) {
		cmd := exec.Command(p.Bin("pixi-lima"), append([]string{"clean-global"}, args...)...)
		cmd.Dir, cmd.Env = p.Root, p.Env()
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := asRoot(); code != 0 || !strings.Contains(out, cache) {
		t.Errorf("listing as root: exit %d, want 0 and the cache listed\n%s", code, out)
	}
	if out, code := asRoot("--yes"); code != 3 || !strings.Contains(out, "refuses to run as root") {
		t.Errorf("--yes as root: exit %d, want 3 (refused as root)\n%s", code, out)
	}
	mustExist(t, filepath.Join(cache, "image"))
}

// standIn starts a process of the test user that stands in for one of an
// instance's (a host agent, QEMU) and returns its pid and whether it still
// runs. It is reaped as soon as it ends, so that Lima does not see a zombie
// as running.
func standIn(t *testing.T, p *Project) (int, func() bool) {
	t.Helper()
	cmd := p.Command("sleep", "600")
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd.Process.Pid, func() bool {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
}

// globalInstances creates instances in the sandbox HOME's ~/.lima with the
// real limactl, as a global Lima setup leaves them, and returns Lima's
// home, its cache directory and the limactl binary.
func globalInstances(t *testing.T, p *Project, names ...string) (limaHome, cache, limactl string) {
	t.Helper()
	limaHome = filepath.Join(p.Home, ".lima")
	cache = filepath.Join(p.Home, ".cache", "lima")
	limactl = filepath.Join(p.Root, ".pixi", "pixi-lima", "bin", "limactl")
	img := qcowImage(t, p)
	for _, name := range names {
		p.MustRun(t, p.Command(limactl, "--tty=false", "create", "--name="+name, "template://docker", "--set", localImage(img)))
	}
	return limaHome, cache, limactl
}
