// Package macos holds the acceptance checks only a Mac can run
// (acceptance.sh); its test keeps the script sound where CI runs.
package macos

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestAcceptanceScript: acceptance.sh passes shellcheck, and on this
// machine, which is no Mac, lists its checks and exits 2 without doing
// anything else.
func TestAcceptanceScript(t *testing.T) {
	if sc, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("PIXI_LIMA_TEST_REQUIRE") != "" {
			t.Fatal("shellcheck is not on PATH (tests/setup.sh installs it)")
		}
		t.Log("shellcheck is not on PATH: skipped that part")
	} else if out, err := exec.Command(sc, "acceptance.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck acceptance.sh: %v\n%s", err, out)
	}
	if runtime.GOOS == "darwin" {
		t.Skip("on a Mac the script runs its checks for real: tests/macos/acceptance.sh")
	}
	cmd := exec.Command("bash", "acceptance.sh")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("acceptance.sh on %s: %v, want exit 2\n%s", runtime.GOOS, err, out)
	}
	for _, want := range []string{"need a Mac", "vz-boot:", "rosetta:", "chown:", "time-machine:", "fast-path:", "lsof:", "spaces:", "case-path:", "deep-path:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("acceptance.sh does not say %q:\n%s", want, out)
		}
	}
}
