package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// engine = "ssh://user@host:port" against real parts: Debian's sshd on a
// loopback port (its own config and host key, key logins for the test
// user), a real dockerd, and on the "remote" side the real docker CLI,
// which sshd's SetEnv points at that dockerd. The project's docker and
// Compose reach it only through ssh, as the docker CLI's ssh helper does
// it (`ssh … docker system dial-stdio`).
//
// OpenSSH reads ~/.ssh from the account's home in the passwd database,
// not from $HOME, so the client side runs in a mount namespace where
// that home is the project's sandbox HOME (sshClient): ssh finds there
// exactly the key and known_hosts the test put, as in a user's own home,
// and the test sees what ssh adds to it.

func TestSSH(t *testing.T) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "starting sshd and dockerd needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatal("sshd is not installed (tests/setup.sh installs openssh-server)")
	}
	port := freePort(t)
	engine := fmt.Sprintf("ssh://%s@127.0.0.1:%d", s.User, port)
	p := newProject(t, s, "[workspace]\nname = \"sh\"\n\n[tool.pixi-lima]\nengine = \""+engine+"\"\n")
	homeBefore := tree(t, p.Home)
	account, err := user.Lookup(s.User)
	must(t, err)
	accountBefore := tree(t, account.HomeDir) // the "remote" side logs in there

	// The remote side: dockerd on a socket of its own, and sshd whose
	// sessions find it; the remote docker's own config stays there too.
	remote := tempDirFor(t, s, "plr")
	sock := filepath.Join(remote, "d.sock")
	startDockerd(t, p, sock, "pixi-lima-test=ssh")
	want := strings.TrimSpace(string(rootDocker(t, remote, "version", "--format", "{{.Server.Version}}")))
	keys := newSSHKeys(t, s)
	startSSHD(t, s, keys, port, "SetEnv DOCKER_HOST=unix://"+sock+" DOCKER_CONFIG="+filepath.Join(remote, "config"))
	// A second sshd whose sessions find no docker on PATH.
	noDocker := freePort(t)
	startSSHD(t, s, keys, noDocker, "SetEnv PATH=/nonexistent")
	// The client side: the user's key and the host's key in known_hosts,
	// as after a first `ssh` to each port by hand.
	writeSSHHome(t, s, p.Home, keys.user, keys.knownHosts(port, noDocker))
	c := sshClient{p: p, home: p.Home}
	docker := func(args ...string) *exec.Cmd { return p.Command(p.Bin("docker"), args...) }

	t.Run("version", func(t *testing.T) {
		// The user's own engine selection must lose, as with the VM.
		cmd := docker("version", "--format", "{{.Server.Version}}")
		cmd.Env = append(cmd.Env, "DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_CONTEXT=mine")
		stdout, stderr, code := c.run(t, cmd)
		if code != 0 || strings.TrimSpace(stdout) != want || stderr != "" {
			t.Fatalf("docker version: exit %d, %q (want the remote engine's %q)\nstderr: %s", code, stdout, want, stderr)
		}
		stdout, _, _ = c.run(t, docker("context", "inspect", "--format", "{{.Endpoints.docker.Host}}"))
		if strings.TrimSpace(stdout) != engine {
			t.Errorf("docker's endpoint = %q, want %q", stdout, engine)
		}
	})

	t.Run("fast path", func(t *testing.T) {
		// No ping, no Lima: the next call becomes docker from package
		// fastpath's init (the Go runtime's init trace shows what ran).
		cmd := docker("version", "--format", "{{.Server.Version}}")
		cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1")
		stdout, stderr, code := c.run(t, cmd)
		if code != 0 || strings.TrimSpace(stdout) != want {
			t.Fatalf("docker version: exit %d, %q\n%s", code, stdout, tailLines(stderr, 20))
		}
		var shim []string
		runtimes := 0
		for _, line := range strings.Split(stderr, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
				if f[1] == "runtime" {
					if runtimes++; runtimes == 2 {
						break // docker's own inits begin
					}
				}
				shim = append(shim, f[1])
			}
		}
		if runtimes < 2 {
			t.Fatalf("the trace shows one process, not the shim and then docker:\n%s", tailLines(stderr, 20))
		}
		for _, pkg := range shim {
			if strings.HasPrefix(pkg, "github.com/lima-vm/") || pkg == "github.com/pixi-lima/pixi-lima/shim/fastpath" {
				t.Fatalf("the full path ran; the shim initialized %s", strings.Join(shim, " "))
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		st := c.status(t)
		if st["engine"] != "ssh" || st["state"] != "Remote" || st["socket"] != engine ||
			st["dockerAnswers"] != true || st["serverVersion"] != want || st["problems"] != nil {
			t.Errorf("status --json: %v", st)
		}
		stdout, _, code := c.run(t, p.Command(p.Bin("pixi-lima"), "status"))
		if code != 0 || !strings.Contains(stdout, "docker:    "+engine+" (answers, Docker "+want+")\n") {
			t.Errorf("status: exit %d\n%s", code, stdout)
		}
	})

	t.Run("doctor", func(t *testing.T) {
		r, code := c.doctor(t)
		for _, name := range []string{"ssh", "ssh-login", "remote-docker"} {
			if ok, detail, _ := r.check(t, name); !ok {
				t.Errorf("%s: %s", name, detail)
			}
		}
		if ok, detail, _ := r.check(t, "remote-docker"); ok && !strings.Contains(detail, want) {
			t.Errorf("remote-docker does not name the engine's version %s: %s", want, detail)
		}
		if _, detail, fix := r.check(t, "bind-mounts"); !strings.Contains(detail, "a directory on 127.0.0.1, not here") || fix == "" {
			t.Errorf("bind-mounts: %s / %s", detail, fix)
		}
		for _, c := range r.Checks {
			if c.Name == "limactl" || c.Name == "hypervisor" || c.Name == "instance" {
				t.Errorf("doctor checks the VM (%s) on the ssh engine", c.Name)
			}
		}
		if code != 0 || !r.OK {
			t.Errorf("doctor: exit %d, ok %v; want 0, true: %+v", code, r.OK, r.Checks)
		}
	})

	t.Run("build and run", func(t *testing.T) {
		sshBusybox(t, p, "pltest/sshbb")
		// The build context went through ssh; the image is on the remote engine.
		rootDocker(t, remote, "image", "inspect", "pltest/sshbb")
		stdout, stderr, code := c.run(t, docker("run", "--rm", "--network=none", "pltest/sshbb", "echo", "hello over ssh"))
		if code != 0 || stdout != "hello over ssh\n" || stderr != "" {
			t.Errorf("docker run: exit %d\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
		stdout, stderr, code = c.run(t, docker("run", "--rm", "--network=none", "pltest/sshbb", "sh", "-c", "echo out; echo err >&2; exit 7"))
		if code != 7 || stdout != "out\n" || stderr != "err\n" {
			t.Errorf("failing container: exit %d (want 7)\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
	})

	t.Run("compose", func(t *testing.T) {
		compose := "services:\n  app:\n    image: pltest/sshbb\n    network_mode: none\n" +
			"    command: [\"sh\", \"-c\", \"echo up >> /vol/log && sleep 300\"]\n    volumes: [\"vol:/vol\"]\nvolumes:\n  vol: {}\n"
		writeFileMode(t, p, "compose.yaml", compose, 0o644)
		c.mustRun(t, docker("compose", "-p", "plssh", "up", "-d"))
		stdout := c.mustRun(t, docker("ps", "--filter", "label=com.docker.compose.project=plssh", "--format", "{{.State}}"))
		if stdout != "running\n" {
			t.Errorf("after up -d: containers %q, want one running", stdout)
		}
		c.mustRun(t, p.Command(p.Bin("docker-compose"), "-p", "plssh", "down", "-v", "-t", "1"))
		if out := c.mustRun(t, docker("ps", "-aq", "--filter", "label=com.docker.compose.project=plssh")); out != "" {
			t.Errorf("containers after down: %q", out)
		}
		if out := c.mustRun(t, docker("volume", "ls", "-q")); out != "" {
			t.Errorf("volumes after down -v: %q", out)
		}
	})

	t.Run("no VM", func(t *testing.T) {
		for _, cmd := range []string{"init", "stop", "restart"} {
			_, stderr, code := c.run(t, p.Command(p.Bin("pixi-lima"), cmd))
			if code != 0 || !strings.Contains(stderr, "no VM to") {
				t.Errorf("%s: exit %d, %s", cmd, code, stderr)
			}
		}
		_, stderr, code := c.run(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
		if code != 4 || !strings.Contains(stderr, "deletes nothing on a remote engine") || !strings.Contains(stderr, "hint: ") {
			t.Errorf("delete --force: exit %d (want 4), %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(p.Root, ".pixi", "lima")); err == nil {
			t.Error("a LIMA_HOME was made for the ssh engine")
		}
	})

	// Each failure: docker's own error, with ssh's reason, and docker's exit
	// code through the shim (which says nothing itself); status says the
	// engine does not answer; doctor names the failing check and its fix.
	// Nothing waits for a prompt: each command is bounded by sshClient.
	wrongHome := tempDirFor(t, s, "plw")
	writeSSHHome(t, s, wrongHome, keys.wrong, keys.knownHosts(port))
	for _, tc := range []struct {
		name, engine, home string
		says               string // in docker's and status's error
		check, fix         string // doctor's failing check, and what its fix says
	}{
		{"wrong key", engine, wrongHome, "Permission denied", "ssh-login", fmt.Sprintf("ssh-copy-id -p %d %s@127.0.0.1", port, s.User)},
		// localhost is not in known_hosts: ssh cannot ask (no terminal).
		{"unknown host key", fmt.Sprintf("ssh://%s@localhost:%d", s.User, port), p.Home, "Host key verification failed", "ssh-login", "check and accept the key"},
		{"refused", fmt.Sprintf("ssh://%s@127.0.0.1:%d", s.User, freePort(t)), p.Home, "Connection refused", "ssh-login", "nothing answers ssh there"},
		{"remote without docker", fmt.Sprintf("ssh://%s@127.0.0.1:%d", s.User, noDocker), p.Home, "docker: command not found", "remote-docker", "install docker on 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sshClient{p: p, home: tc.home}
			withEngine := func(cmd *exec.Cmd) *exec.Cmd {
				cmd.Env = append(cmd.Env, "PIXI_LIMA_ENGINE="+tc.engine, "HOME="+tc.home)
				return cmd
			}
			// docker's codes: 1 for its own commands, 125 for run's.
			for form, want := range map[string]int{"docker version": 1, "docker run --rm pltest/sshbb true": 125, "docker-compose -p plssh ps": 1} {
				args := strings.Fields(form)
				_, stderr, code := c.run(t, withEngine(p.Command(p.Bin(args[0]), args[1:]...)))
				if code != want || !strings.Contains(stderr, tc.says) || strings.Contains(stderr, "pixi-lima") {
					t.Errorf("%s: exit %d (want %d), stderr does not say %q alone:\n%s", form, code, want, tc.says, stderr)
				}
			}
			st := c.statusWith(t, withEngine)
			if problems, _ := st["problems"].([]any); st["dockerAnswers"] != false || len(problems) != 1 ||
				!strings.Contains(fmt.Sprint(problems[0]), tc.engine+" does not answer: ") || !strings.Contains(fmt.Sprint(problems[0]), tc.says) {
				t.Errorf("status --json: %v", st)
			}
			cmd := withEngine(p.Command(p.Bin("pixi-lima"), "doctor", "--json"))
			r, code := c.doctorWith(t, cmd)
			ok, detail, fix := r.check(t, tc.check)
			if ok || code != 1 || r.OK || !strings.Contains(fix, tc.fix) {
				t.Errorf("doctor: exit %d, %s ok=%v: %s\nfix: %s (want it to say %q)", code, tc.check, ok, detail, fix, tc.fix)
			}
		})
	}

	// What the ssh engine leaves in HOME: nothing but what the test put
	// there for ssh (its key and known_hosts). ssh adds nothing when the
	// host is known; docker's config is the project's. On the remote side,
	// the account's own home is as it was too.
	t.Run("HOME", func(t *testing.T) {
		want := append(homeBefore, ".ssh/", ".ssh/id_ed25519", ".ssh/known_hosts")
		slices.Sort(want)
		got := tree(t, p.Home)
		t.Logf("HOME holds %q", got)
		if !slices.Equal(got, want) {
			t.Errorf("HOME holds %q, want %q", got, want)
		}
		if got := tree(t, wrongHome); !slices.Equal(got, []string{".ssh/", ".ssh/id_ed25519", ".ssh/known_hosts"}) {
			t.Errorf("the other HOME holds %q", got)
		}
		if got := tree(t, account.HomeDir); !slices.Equal(got, accountBefore) {
			t.Errorf("%s, the remote side's home, holds %q; before: %q", account.HomeDir, got, accountBefore)
		}
	})
}

// sshClient runs the test user's commands with home mounted over the
// user's home directory from the passwd database, where OpenSSH looks
// (it ignores $HOME), in a mount namespace of their own: nothing outside
// sees it. Every command is bounded: a hang is a failure, not a stuck test.
type sshClient struct {
	p    *Project
	home string
}

const sshCommandLimit = 90 * time.Second

func (c sshClient) run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	u, err := user.Lookup(c.p.s.User)
	must(t, err)
	if u.HomeDir == "" || u.HomeDir == "/" {
		t.Fatalf("the test user %s has no home directory to mount over", u.Username)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sshCommandLimit)
	defer cancel()
	wrapped := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$1" "$2" && shift 2 && exec "$@"`, "sh", c.home, u.HomeDir}, cmd.Args...)...)
	wrapped.Dir, wrapped.Env = cmd.Dir, cmd.Env
	var out, errs bytes.Buffer
	wrapped.Stdout, wrapped.Stderr = &out, &errs
	wrapped.WaitDelay = 5 * time.Second // ssh may outlive a killed docker for a moment
	begin := time.Now()
	err = wrapped.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %s: it hangs\nstderr: %s", strings.Join(cmd.Args[5:], " "), sshCommandLimit, errs.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	t.Logf("%s → exit %d in %s", strings.Join(cmd.Args[5:], " "), code, time.Since(begin).Round(time.Millisecond))
	return out.String(), errs.String(), code
}

func (c sshClient) mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stdout, stderr, code := c.run(t, cmd)
	if code != 0 {
		t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", cmd.Args[5:], code, stdout, stderr)
	}
	return stdout
}

func (c sshClient) status(t *testing.T) map[string]any {
	return c.statusWith(t, func(cmd *exec.Cmd) *exec.Cmd { return cmd })
}

// statusWith is `pixi-lima status --json`, decoded; it exits 0 whether or
// not the engine answers.
func (c sshClient) statusWith(t *testing.T, edit func(*exec.Cmd) *exec.Cmd) map[string]any {
	t.Helper()
	out := c.mustRun(t, edit(c.p.Command(c.p.Bin("pixi-lima"), "status", "--json")))
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	return st
}

func (c sshClient) doctor(t *testing.T) (doctorReport, int) {
	return c.doctorWith(t, c.p.Command(c.p.Bin("pixi-lima"), "doctor", "--json"))
}

func (c sshClient) doctorWith(t *testing.T, cmd *exec.Cmd) (doctorReport, int) {
	t.Helper()
	stdout, stderr, code := c.run(t, cmd)
	var r doctorReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("doctor --json printed no JSON: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	return r, code
}

// sshKeys are an sshd's host key and two user keys, one of them
// authorized, in a directory of their own.
type sshKeys struct {
	dir, user, wrong string
	hostKey          string // "ssh-ed25519 AAAA…", as known_hosts has it
}

func newSSHKeys(t *testing.T, s Setup) sshKeys {
	t.Helper()
	dir := tempDirFor(t, s, "plk")
	for _, name := range []string{"host", "user", "wrong"} {
		run(t, exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pixi-lima-test-"+name, "-f", filepath.Join(dir, name)))
	}
	pub, err := os.ReadFile(filepath.Join(dir, "user.pub"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644))
	host, err := os.ReadFile(filepath.Join(dir, "host.pub"))
	must(t, err)
	f := strings.Fields(string(host))
	return sshKeys{dir: dir, user: filepath.Join(dir, "user"), wrong: filepath.Join(dir, "wrong"), hostKey: f[0] + " " + f[1]}
}

// knownHosts are known_hosts lines for the host key at 127.0.0.1 on ports.
func (k sshKeys) knownHosts(ports ...int) string {
	var b strings.Builder
	for _, port := range ports {
		fmt.Fprintf(&b, "[127.0.0.1]:%d %s\n", port, k.hostKey)
	}
	return b.String()
}

// startSSHD runs Debian's sshd as root on 127.0.0.1:port in the
// foreground (-D), logging to a file (-e), with the host key and a config
// of its own: key logins for the test user only, and extra lines
// (sshd_config's SetEnv sets the remote session's environment). It returns
// once the port answers with sshd's banner, and stops at the test's end.
func startSSHD(t *testing.T, s Setup, keys sshKeys, port int, extra ...string) {
	t.Helper()
	config := filepath.Join(keys.dir, fmt.Sprintf("sshd_config.%d", port))
	must(t, os.WriteFile(config, []byte(strings.Join(append([]string{
		fmt.Sprintf("ListenAddress 127.0.0.1:%d", port),
		"HostKey " + filepath.Join(keys.dir, "host"),
		"PidFile none",
		"AuthorizedKeysFile " + filepath.Join(keys.dir, "authorized_keys"),
		"StrictModes no", // the keys live under /tmp, which is world-writable
		// The test user's password is locked ("!"), which sshd without PAM
		// refuses even for a key. Passwords stay allowed, as on most
		// servers: a wrong key must fail, not wait for one.
		"UsePAM yes",
		"AllowUsers " + s.User,
	}, extra...), "\n")+"\n"), 0o644))
	// sshd wants its privilege separation directory, which systemd would make.
	must(t, os.MkdirAll("/run/sshd", 0o755))
	logPath := config + ".log"
	logf, err := os.Create(logPath)
	must(t, err)
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		logf.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("sshd on port %d, its log:\n%s", port, tailLines(string(log), 40))
			}
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			banner := make([]byte, 8)
			_, err := conn.Read(banner)
			conn.Close()
			if err == nil && string(banner) == "SSH-2.0-" {
				return
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("sshd on port %d exited:\n%s", port, log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on port %d does not answer", port)
		}
	}
}

// writeSSHHome puts what ssh needs into home, as a user would have it:
// the key as ~/.ssh/id_ed25519 (the default name) and the host's key in
// ~/.ssh/known_hosts; owned by the test user, as ssh insists.
func writeSSHHome(t *testing.T, s Setup, home, key, knownHosts string) {
	t.Helper()
	dir := filepath.Join(home, ".ssh")
	must(t, os.MkdirAll(dir, 0o700))
	b, err := os.ReadFile(key)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "id_ed25519"), b, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(knownHosts), 0o644))
	run(t, exec.Command("chown", "-R", fmt.Sprintf("%d:%d", s.UID, s.GID), dir))
}

// sshBusybox builds a FROM scratch image with busybox-static (as
// buildBusybox in vm_test.go): its RUN makes the engine start a container.
func sshBusybox(t *testing.T, p *Project, tag string) {
	t.Helper()
	writeFileMode(t, p, "img/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n", 0o644)
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal("busybox is not installed (tests/setup.sh installs busybox-static)")
	}
	writeFileMode(t, p, "img/busybox", string(b), 0o755)
	c := sshClient{p: p, home: p.Home}
	// --network=none: the remote engine has no bridge (startDockerd), and
	// BuildKit runs RUN in the default network.
	if out := c.mustRun(t, p.Command(p.Bin("docker"), "build", "-q", "--network=none", "-t", tag, filepath.Join(p.Root, "img"))); !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("docker build printed %q, want an image ID", out)
	}
}

// tempDirFor is a short directory under /tmp that the test user owns,
// removed at the test's end.
func tempDirFor(t *testing.T, s Setup, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chown(dir, s.UID, s.GID))
	return dir
}

// freePort is a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tree lists the paths under dir, directories with a trailing slash.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	must(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			rel += "/"
		}
		paths = append(paths, rel)
		return nil
	}))
	slices.Sort(paths)
	return paths
}

// rootDocker is the real docker, as root, straight on the remote engine's
// socket in dir (not through ssh), its client config there too.
func rootDocker(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	docker, err := exec.LookPath("docker")
	must(t, err)
	cmd := exec.Command(docker, append([]string{"-H", "unix://" + filepath.Join(dir, "d.sock")}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "config"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return out
}
