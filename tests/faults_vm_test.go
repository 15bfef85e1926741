package tests

// Cases 1 and 2 of the fault suite: they boot the offline guest image, so
// they run only with PIXI_LIMA_E2E_TEMPLATE (tests/setup.sh without
// --no-image sets it; tests/run.sh then requires them to run).

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func faultVMProject(t *testing.T, name string) (*Project, string) {
	t.Helper()
	s := requireSetup(t)
	if s.Template == "" {
		t.Skip("needs the offline guest image: PIXI_LIMA_E2E_TEMPLATE (tests/setup.sh without --no-image)")
	}
	p := newProject(t, s, fmt.Sprintf("[workspace]\nname = %q\n\n[tool.pixi-lima]\ntemplate = %q\nmemory = \"1GiB\"\ncpus = 2\ndisk = \"4GiB\"\n", name, s.Template))
	t.Cleanup(func() { p.Run(t, p.Command(p.Bin("pixi-lima"), "stop", "--force")) })
	return p, name + "-docker"
}

// faultStarts counts the `limactl start` runs pixi-lima recorded.
func faultStarts(t *testing.T, p *Project, instance string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Root, ".pixi", "pixi-lima", "log", instance+".log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte(" limactl --tty=false start "))
}

// concurrently runs 16 copies of argv and fails on any non-zero exit.
func concurrently(t *testing.T, p *Project, argv ...string) {
	t.Helper()
	var wg sync.WaitGroup
	type result struct {
		stderr string
		err    error
	}
	results := make([]result, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr bytes.Buffer
			cmd := p.Command(argv[0], argv[1:]...)
			cmd.Stderr = &stderr
			results[i] = result{"", cmd.Run()}
			results[i].stderr = stderr.String()
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Errorf("call %d of %v: %v\n%s", i, argv, r.err, r.stderr)
		}
	}
}

// Case 1: 16 concurrent callers on a stopped VM: one boot, 16 successes.
func TestFaultVMConcurrentStarts(t *testing.T) {
	p, inst := faultVMProject(t, "fc")
	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "init"))
	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))

	before := faultStarts(t, p, inst)
	concurrently(t, p, p.Bin("docker"), "ps")
	if n := faultStarts(t, p, inst) - before; n != 1 {
		t.Errorf("16 concurrent docker ps on a stopped VM ran limactl start %d times, want 1", n)
	}

	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
	before = faultStarts(t, p, inst)
	concurrently(t, p, p.Bin("pixi-lima"), "init")
	if n := faultStarts(t, p, inst) - before; n != 1 {
		t.Errorf("16 concurrent pixi-lima init on a stopped VM ran limactl start %d times, want 1", n)
	}
	p.MustRun(t, p.Command(p.Bin("docker"), "ps"))
}

// waitForFile polls until path exists: readiness, not a timing assertion.
func waitForFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}

// Case 2: SIGKILL of the shim, then of Lima's host agent, in the middle of
// a boot. The next `pixi-lima init` recovers and the VM's disk is the same.
func TestFaultVMKillMidBoot(t *testing.T) {
	p, inst := faultVMProject(t, "fk")
	dir := filepath.Join(p.Root, ".pixi", "lima", inst)
	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "init"))
	p.MustRun(t, p.Command(p.Bin("docker"), "volume", "create", "keep"))
	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
	disk := filepath.Join(dir, "diffdisk")
	ino, size := inodeOf(t, disk), fileSize(t, disk)

	midBoot := func(kill func(cmd *exec.Cmd)) {
		cmd := p.Command(p.Bin("pixi-lima"), "init")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		must(t, cmd.Start())
		// The host agent writes ha.pid once the boot is under way.
		waitForFile(t, filepath.Join(dir, "ha.pid"), 5*time.Minute)
		kill(cmd)
		err := cmd.Wait()
		t.Logf("killed init: %v\n%s", err, stderr.String())

		_, stderr2, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "init"))
		t.Logf("next init:\n%s", stderr2)
		if code != 0 {
			t.Fatalf("the next init did not recover: exit %d", code)
		}
		if out := p.MustRun(t, p.Command(p.Bin("docker"), "volume", "ls", "-q")); !strings.Contains(out, "keep") {
			t.Errorf("the volume is gone after the recovery: %q", out)
		}
		if inodeOf(t, disk) != ino || fileSize(t, disk) < size {
			t.Errorf("the VM's disk was replaced or truncated")
		}
		p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
	}

	t.Run("shim", func(t *testing.T) {
		// setpriv execs pixi-lima, so the process is the shim itself.
		midBoot(func(cmd *exec.Cmd) { cmd.Process.Signal(syscall.SIGKILL) })
	})
	t.Run("host agent", func(t *testing.T) {
		midBoot(func(cmd *exec.Cmd) {
			b, err := os.ReadFile(filepath.Join(dir, "ha.pid"))
			must(t, err)
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			must(t, err)
			must(t, syscall.Kill(pid, syscall.SIGKILL))
		})
	})
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	must(t, err)
	return info.Size()
}
