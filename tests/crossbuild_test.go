package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrossBuild builds pixi-lima for every platform pixi.toml lists, with
// cgo off (a cross build has no C toolchain for the target). macOS cannot
// run here; this proves at least that nothing Linux-only crept into the
// shim or the parts of Lima it imports.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles four times")
	}
	repo := repoRoot(t)
	for _, target := range []string{"darwin/arm64", "darwin/amd64", "linux/amd64", "linux/arm64"} {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(target, "/")
			out := filepath.Join(t.TempDir(), "pixi-lima")
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build: %v\n%s", goos, goarch, err, msg)
			}
		})
	}
}

// TestShellcheck checks every shell script users and CI run.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		skipUnlessRequired(t, "shellcheck is not installed (tests/setup.sh installs it)")
	}
	repo := repoRoot(t)
	scripts, err := filepath.Glob(filepath.Join(repo, "tests", "*.sh"))
	must(t, err)
	scripts = append([]string{filepath.Join(repo, "install.sh"), filepath.Join(repo, "env", "activate.sh")}, scripts...)
	cmd := exec.Command("shellcheck", scripts...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck %s: %v\n%s", strings.Join(scripts, " "), err, out)
	}
}

// repoRoot is the checkout the tests run from (go test runs in tests/).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	must(t, err)
	return filepath.Dir(wd)
}
