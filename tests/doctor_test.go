package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// doctorReport is `pixi-lima doctor --json`.
type doctorReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Warning bool   `json:"warning"`
		Detail  string `json:"detail"`
		Fix     string `json:"fix"`
	} `json:"checks"`
}

func runDoctor(t *testing.T, p *Project, cmd *exec.Cmd) (doctorReport, int) {
	t.Helper()
	stdout, stderr, code := p.Run(t, cmd)
	var r doctorReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("doctor --json printed no JSON: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	return r, code
}

// check returns the named check, failing the test when doctor did not run it.
func (r doctorReport) check(t *testing.T, name string) (ok bool, detail, fix string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c.OK, c.Detail, c.Fix
		}
	}
	t.Fatalf("doctor has no %q check: %+v", name, r.Checks)
	return
}

// A freshly installed project on a host with QEMU, docker and Compose:
// every check passes (KVM may be a warning), exit 0.
func TestDoctorHealthy(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"dh\"\n")
	r, code := runDoctor(t, p, p.Command(p.Bin("pixi-lima"), "doctor", "--json"))
	for _, c := range r.Checks {
		t.Logf("%-14s ok=%v warning=%v %s", c.Name, c.OK, c.Warning, c.Detail)
		if !c.OK {
			t.Errorf("%s: %s (fix: %s)", c.Name, c.Detail, c.Fix)
		}
	}
	if code != 0 || !r.OK {
		t.Errorf("exit %d, ok %v; want 0, true", code, r.OK)
	}
	for _, name := range []string{"user", "project", "paths", "socket-path", "limactl", "hypervisor", "kvm",
		"docker", "docker-compose", "compose-plugin", "credentials", "path-order", "instance", "disk"} {
		r.check(t, name)
	}
	if _, detail, _ := r.check(t, "socket-path"); !strings.Contains(detail, "of at most 107 bytes") {
		t.Errorf("socket-path does not give the numbers: %s", detail)
	}
	if _, detail, _ := r.check(t, "limactl"); !strings.Contains(detail, "as pinned") || !strings.Contains(detail, "guest agent and templates") {
		t.Errorf("limactl: %s", detail)
	}
	if _, detail, _ := r.check(t, "instance"); !strings.Contains(detail, "does not exist yet") {
		t.Errorf("instance: %s", detail)
	}
	if _, err := os.Stat(filepath.Join(p.Root, ".pixi", "lima")); !os.IsNotExist(err) {
		t.Errorf("doctor created .pixi/lima: %v", err)
	}
}

// Several problems at once: each is reported with its own fix, exit 1.
func TestDoctorFindsProblems(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"dp\"\n")
	other := newProject(t, s, "[workspace]\nname = \"do\"\n")
	// A credential helper that is not installed.
	must(t, os.WriteFile(filepath.Join(p.Root, ".pixi", "docker", "config.json"), []byte(`{"credsStore": "pixitest"}`), 0o644))
	// The Compose plugin link is gone.
	must(t, os.Remove(filepath.Join(p.Root, ".pixi", "docker", "cli-plugins", "docker-compose")))
	// Another repo's shims come first on PATH.
	path := "PATH=" + strings.Join([]string{filepath.Join(other.Root, ".pixi", "bin"), filepath.Join(p.Root, ".pixi", "bin"),
		s.Tools, "/usr/local/bin", "/usr/bin", "/bin"}, ":")
	r, code := runDoctor(t, p, replaceEnv(p.Command(p.Bin("pixi-lima"), "doctor", "--json"), path))
	if code != 1 || r.OK {
		t.Errorf("exit %d, ok %v; want 1, false", code, r.OK)
	}
	for name, want := range map[string][]string{
		"credentials":    {`"credsStore" in ` + filepath.Join(p.Root, ".pixi", "docker", "config.json") + " names docker-credential-pixitest, which is not on PATH", "install docker-credential-pixitest, or remove \"credsStore\""},
		"compose-plugin": {"cli-plugins/docker-compose is missing", "./install.sh " + p.Root},
		"path-order":     {"the first docker on PATH is " + other.Bin("docker") + ", another repo's pixi-lima", "export PATH=" + filepath.Join(p.Root, ".pixi", "bin") + ":$PATH"},
	} {
		ok, detail, fix := r.check(t, name)
		if ok || !strings.Contains(detail, want[0]) || !strings.Contains(fix, want[1]) {
			t.Errorf("%s: ok=%v\n detail: %s\n fix: %s\nwant %q and fix %q", name, ok, detail, fix, want[0], want[1])
		}
	}
	// The docker shim still finds the real docker behind both repos' shims.
	if ok, detail, _ := r.check(t, "docker"); !ok || detail != "/usr/local/bin/docker" {
		t.Errorf("docker: ok=%v %s", ok, detail)
	}
	// The text form says the same, with "problem" and "fix:" lines.
	stdout, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "doctor"), path))
	if code != 1 || !strings.Contains(stdout, "problem  credentials: ") || !strings.Contains(stdout, "         fix: install docker-credential-pixitest") ||
		!strings.Contains(stderr, "pixi-lima: doctor found 3 problem(s): compose-plugin, credentials, path-order") {
		t.Errorf("text form: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// As root, doctor reports root as the problem and still runs every other
// check; it starts nothing.
func TestDoctorAsRoot(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"dr\"\n")
	cmd := exec.Command(p.Bin("pixi-lima"), "doctor", "--json")
	cmd.Dir, cmd.Env = p.Root, append(p.Env(), "HOME=/root")
	var r doctorReport
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("doctor as root: %v, want exit 1", err)
	}
	must(t, json.Unmarshal(out, &r))
	if ok, detail, fix := r.check(t, "user"); ok || !strings.Contains(detail, "running as root") || !strings.Contains(fix, "PIXI_LIMA_ENGINE=host") {
		t.Errorf("user: ok=%v %s / %s", ok, detail, fix)
	}
	for _, name := range []string{"project", "limactl", "hypervisor", "docker", "instance", "disk"} {
		if ok, detail, _ := r.check(t, name); !ok {
			t.Errorf("%s fails as root: %s", name, detail)
		}
	}
}
