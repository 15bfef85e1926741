package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// TestVM is the end-to-end proof: install.sh, then a real Lima VM
// booted by pixi-lima under QEMU from the offline guest image, Docker in the
// guest answering through the forwarded socket, the real docker CLI and
// Compose v2 through the shim, stop, start on demand, concurrent first
// calls, delete. Everything runs through pixi-lima, never limactl directly,
// as an unprivileged user whose HOME is an empty directory that must stay
// empty. The steps share one VM: each boot takes minutes under TCG.
// hintLine matches a hint pixi-lima gives at the start of a line.
var hintLine = regexp.MustCompile(`(?m)^\s*hint: `)

func TestVM(t *testing.T) {
	s := requireSetup(t)
	if s.Template == "" {
		t.Skip("no guest image: tests/setup.sh ran with --no-image")
	}
	p := newProject(t, s, `[workspace]
name = "e2e"

[tool.pixi-lima]
template = "e2e.yaml"
`)
	// The project's template is the offline guest plus one fault: on its
	// first boot a copyToHost rule fails, so Lima really ends the start
	// "degraded" (as Lima can on a slow cold boot when the guest agent
	// comes up late). pixi-lima must recover by itself.
	writeFile(t, p, "e2e.yaml", fmt.Sprintf(`base:
- %s
provision:
- mode: system
  script: |
    #!/bin/sh
    # Present from the second boot on.
    if [ -e /var/lib/pixi-lima-e2e/booted ]; then touch /run/pixi-lima-e2e-second-boot; fi
    mkdir -p /var/lib/pixi-lima-e2e && touch /var/lib/pixi-lima-e2e/booted
    # One line in clean-shutdowns for each shutdown that ran systemd's stop
    # jobs: a killed QEMU adds none.
    cat >/etc/systemd/system/pixi-lima-e2e-shutdown.service <<'UNIT'
    [Service]
    Type=oneshot
    RemainAfterExit=yes
    ExecStart=/bin/true
    ExecStop=/bin/sh -c 'echo clean >>/var/lib/pixi-lima-e2e/clean-shutdowns; sync'
    [Install]
    WantedBy=multi-user.target
    UNIT
    systemctl daemon-reload && systemctl enable --now pixi-lima-e2e-shutdown.service
    # A shutdown that lingers 20 s after docker stopped, while the flag
    # file exists: the window in which a docker call meets a guest that
    # powers itself off. (Not Before=docker.socket: sockets start before
    # basic.target, which this unit comes after, and systemd would break
    # the cycle by dropping docker.socket's start.)
    cat >/etc/systemd/system/pixi-lima-e2e-slow-poweroff.service <<'UNIT'
    [Unit]
    Before=docker.service containerd.service user@{{.UID}}.service
    [Service]
    Type=oneshot
    RemainAfterExit=yes
    ExecStart=/bin/true
    ExecStop=/bin/sh -c 'if [ -e /var/lib/pixi-lima-e2e/slow-poweroff ]; then sleep 20; fi'
    [Install]
    WantedBy=multi-user.target
    UNIT
    systemctl daemon-reload && systemctl enable --now pixi-lima-e2e-slow-poweroff.service
copyToHost:
- guest: /run/pixi-lima-e2e-second-boot
  host: "{{.Dir}}/copied-from-guest"
`, s.Template))
	// A registry with a CA of the test's own, behind a proxy on the host.
	f := startNetFixture(t, p.Root)
	docker := p.Bin("docker")
	instance := "e2e-docker"
	instDir := filepath.Join(p.Root, ".pixi", "lima", instance)
	defer func() {
		if t.Failed() {
			// Leave no VM running behind a failed test, and show why.
			for _, log := range []string{"ha.stderr.log", "serial.log"} {
				if b, err := os.ReadFile(filepath.Join(instDir, log)); err == nil {
					t.Logf("%s (tail):\n%s", log, tailLines(string(b), 30))
				}
			}
			p.Run(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
		}
	}()

	t.Run("init boots the VM and recovers from a degraded start", func(t *testing.T) {
		_, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "init"))
		if code != 0 {
			t.Fatalf("init: exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"creating VM", "started degraded", "restarting it once", "is running"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("init's stderr lacks %q:\n%s", want, stderr)
			}
		}
		st := status(t, p)
		if st.State != "Running" || !st.DockerAnswers || st.Degraded {
			t.Fatalf("after init: %+v", st)
		}
		if want := filepath.Join(instDir, "sock", "docker.sock"); st.Socket != "unix://"+want {
			t.Errorf("socket %s, want under the project: %s", st.Socket, want)
		}
		if st.CPUs != 2 || st.Memory != 2<<30 || st.Disk != 20<<30 {
			t.Errorf("resources %d CPUs, %d memory, %d disk; want the defaults 2, 2GiB, 20GiB", st.CPUs, st.Memory, st.Disk)
		}
		// init is idempotent: a second call changes nothing and boots nothing.
		_, stderr, code = p.Run(t, p.Command(p.Bin("pixi-lima"), "init"))
		if code != 0 || strings.Contains(stderr, "starting VM") {
			t.Errorf("second init: exit %d, stderr:\n%s", code, stderr)
		}
	})

	t.Run("docker through the shim", func(t *testing.T) {
		stdout, stderr, code := p.Run(t, p.Command(docker, "version", "--format", "{{.Server.Os}}"))
		if code != 0 || strings.TrimSpace(stdout) != "linux" || stderr != "" {
			t.Fatalf("docker version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		stdout = p.MustRun(t, p.Command(docker, "info", "--format", "{{.OperatingSystem}}"))
		if !strings.Contains(stdout, "Debian") {
			t.Errorf("docker info says %q, want the Debian guest", stdout)
		}
		// BuildKit, as Docker >= 23 builds by default: the buildx plugin
		// from the environment (tests/setup.sh puts docker-buildx on PATH
		// as conda-forge's package does), the guest's engine as its builder.
		stderr = buildBusybox(t, p, "e2e-busybox")
		if !strings.Contains(stderr, "load build definition from Dockerfile") || strings.Contains(stderr, "legacy builder") {
			t.Errorf("docker build did not use BuildKit:\n%s", stderr)
		}
		if out := p.MustRun(t, p.Command(docker, "buildx", "ls")); !regexp.MustCompile(`default\*?\s+docker`).MatchString(out) || !strings.Contains(out, "running") {
			t.Errorf("docker buildx ls:\n%s", out)
		}
		stdout = p.MustRun(t, p.Command(docker, "run", "--rm", "e2e-busybox", "echo", "hello from the VM"))
		if strings.TrimSpace(stdout) != "hello from the VM" {
			t.Errorf("docker run printed %q", stdout)
		}
		if _, _, code := p.Run(t, p.Command(docker, "run", "--rm", "e2e-busybox", "sh", "-c", "exit 42")); code != 42 {
			t.Errorf("a container's exit 42 came back as %d", code)
		}
		// What the recovery from the degraded start is for: Lima's guest
		// agent runs, so a published port reaches the host.
		publishedPortAnswers(t, p, "127.0.0.1:18080", "127.0.0.1:18080")
		// Published on all interfaces, Lima forwards it to the host's
		// loopback only (its default portForwards rule, hostIP 127.0.0.1):
		// nobody else on the network reaches it.
		var elsewhere []string
		if ip := hostAddress(); ip != "" {
			elsewhere = append(elsewhere, net.JoinHostPort(ip, "18081"))
		}
		publishedPortAnswers(t, p, "18081", "127.0.0.1:18081", elsewhere...)
	})

	// guest runs a script in the guest as root, guestUser as Lima's user,
	// whose systemd runs the rootless dockerd.
	guest := func(t *testing.T, script string) string {
		t.Helper()
		return p.MustRun(t, p.Command(p.Bin("limactl-local"), "shell", "--workdir", "/", instance, "sudo", "sh", "-c", script))
	}
	guestUser := func(t *testing.T, script string) string {
		t.Helper()
		return p.MustRun(t, p.Command(p.Bin("limactl-local"), "shell", "--workdir", "/", instance, "sh", "-c", script))
	}
	t.Run("a silent engine is reported, not restarted; a guest command ends at its bound", func(t *testing.T) {
		before := countStarts(t, p, instance)
		guestUser(t, "systemctl --user stop docker.service")
		_, stderr, code := p.Run(t, p.Command(docker, "ps"))
		wantFail(t, "docker ps with the guest's dockerd stopped", code, stderr, 1,
			`VM "e2e-docker" is running, but docker has not answered`, "hint: pixi-lima restart")
		if st := status(t, p); st.State != "Running" || strings.Contains(stderr, "stopping VM") || countStarts(t, p, instance) != before {
			t.Errorf("the VM was restarted for a silent engine: state %s\n%s", st.State, stderr)
		}
		guestUser(t, "systemctl --user start docker.service")
		if _, stderr, code := p.Run(t, p.Command(docker, "ps")); code != 0 || stderr != "" {
			t.Errorf("docker ps once dockerd runs again: exit %d\n%s", code, stderr)
		}

		// The real limactl shell (and its ssh) running a command that
		// never ends, as a trim on a wedged guest would.
		l := lima.Limactl{Path: "setpriv", Env: append(p.Env(), "PIXI_PROJECT_ROOT="+p.Root), Stderr: io.Discard}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		err := l.Run(ctx, "a guest command that never ends", "--reuid="+strconv.Itoa(s.UID), "--regid="+strconv.Itoa(s.GID),
			"--init-groups", "--", p.Bin("limactl-local"), "shell", instance, "sleep", "86399")
		if took := time.Since(begin); err == nil || took > 15*time.Second {
			t.Errorf("limactl shell … sleep with a 5 s bound: %v after %s", err, took.Round(time.Second))
		}
		for deadline := time.Now().Add(5 * time.Second); hostProcessWith("sleep 86399"); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("a process running the guest command is left on the host")
				break
			}
		}
	})

	t.Run("rootless: the socket in containers, file ownership, privileged ports, host network", func(t *testing.T) {
		if got := guestUser(t, `test -S "/run/user/$(id -u)/docker.sock" && pgrep -u "$(id -u)" -x rootlesskit >/dev/null && echo rootless`); got != "rootless\n" {
			t.Fatalf("the guest's docker is not rootless Docker at /run/user/<uid>/docker.sock: %q", got)
		}
		socketInContainer(t, p, "rootless")
		// Containers' root is Lima's user: the project's files, the user's
		// on the host, belong to root in a container.
		if got := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", p.Root+":/w", "e2e-busybox", "stat", "-c", "%u", "/w/pixi.toml")); got != "0\n" {
			t.Errorf("the project's pixi.toml in a rootless container belongs to uid %q, want 0", got)
		}
		// Ports below 1024 publish as rootful: Lima's boot sets
		// net.ipv4.ip_unprivileged_port_start=0 in the guest.
		if _, stderr, code := p.Run(t, p.Command(docker, "run", "--rm", "-p", "127.0.0.1:80:8080", "e2e-busybox", "true")); code != 0 {
			t.Errorf("publishing port 80 rootless: exit %d\n%s", code, stderr)
		}
		// ping leaves through slirp4netns: Lima's boot allows it
		// (net.ipv4.ping_group_range).
		if _, stderr, code := p.Run(t, p.Command(docker, "run", "--rm", "e2e-busybox", "ping", "-c", "1", "-W", "5", "10.0.2.2")); code != 0 {
			t.Errorf("ping from a rootless container to rootlesskit's gateway: exit %d\n%s", code, stderr)
		}
		portReady(t, p, guest, 18110)
		// --network host is rootlesskit's network, not the VM's.
		p.MustRun(t, p.Command(docker, "run", "-d", "--name", "hostnet", "--network", "host", "e2e-busybox", "httpd", "-f", "-p", "127.0.0.1:18085", "-h", "/"))
		defer p.Run(t, p.Command(docker, "rm", "-f", "hostnet"))
		if got := guestConnects(t, guestUser, "127.0.0.1:18085"); got != "refused" {
			t.Errorf("a --network host server, from the VM: %s, want refused", got)
		}
	})

	t.Run("a published port that another process on the host holds is reported", func(t *testing.T) {
		portClash(t, p, docker)
	})

	t.Run("compose both ways, bind mount and named volume", func(t *testing.T) {
		writeFile(t, p, "compose.yaml", `name: e2e
services:
  writer:
    image: e2e-busybox
    command: ["sh", "-c", "echo $$MSG > /data/$$MSG.txt && echo $$MSG >> /vol/log && cat /vol/log"]
    environment: [MSG]
    volumes: ["./data:/data", "keep:/vol"]
  web:
    build: ./img
    image: e2e-web
    ports: ["127.0.0.1:18082:8080"]
    restart: unless-stopped
    command: ["sh", "-c", "mkdir -p /www && echo hello-compose >/www/index.html && exec httpd -f -p 8080 -h /www"]
volumes:
  keep: {}
`)
		// The bind mount's source exists, as in a checked-out project: a
		// missing one would make dockerd mkdir and chown it, and QEMU's 9p
		// share (Lima's default on Linux) refuses chown.
		writeFile(t, p, "data/.keep", "")
		for _, form := range [][]string{
			{p.Bin("docker-compose"), "run", "--rm", "-e", "MSG=standalone", "writer"},
			{docker, "compose", "run", "--rm", "-e", "MSG=plugin", "writer"},
		} {
			msg := strings.TrimPrefix(form[len(form)-2], "MSG=")
			p.MustRun(t, p.Command(form[0], form[1:]...))
			b, err := os.ReadFile(filepath.Join(p.Root, "data", msg+".txt"))
			if err != nil || strings.TrimSpace(string(b)) != msg {
				t.Errorf("%s: bind-mounted file on the host: %q, %v", form[0], b, err)
			}
		}
		// build: through BuildKit in both forms; up --build starts the
		// service, whose published port answers from the host.
		// Compose hands the build to `docker buildx bake`, which prints
		// its progress on stdout.
		stdout, stderr, code := p.Run(t, p.Command(p.Bin("docker-compose"), "--progress=plain", "build", "web"))
		if out := stdout + stderr; code != 0 || strings.Contains(out, "legacy builder") || !strings.Contains(out, "load build definition") {
			t.Errorf("docker-compose build: exit %d\n%s", code, out)
		}
		p.MustRun(t, p.Command(docker, "compose", "up", "--build", "-d", "web"))
		if !pageAnswers(t, "127.0.0.1:18082", "hello-compose") {
			t.Errorf("the compose service's port 127.0.0.1:18082 never answered from the host")
		}
		// The service stays up (restart: unless-stopped): the next step
		// checks that it comes back with the VM.
	})

	// One boot for both: a mount added to the settings of an existing VM,
	// and the project reached through a symlink (as /tmp is on macOS), are
	// both mounted by the next start.
	extra := userDir(t, p, "plx")
	writeFileAt(t, p, filepath.Join(extra, "hello"), "from the extra mount\n")
	// Mounts relative to the project, one read-only, one writable.
	roDir, rwDir := userDir(t, p, "plro"), userDir(t, p, "plrw")
	mountsTOML := fmt.Sprintf("mounts = [%q, %q, %q]\n", extra, "../"+filepath.Base(roDir), "../"+filepath.Base(rwDir)+":w")
	link := filepath.Join(os.TempDir(), "plk"+filepath.Base(p.Root))
	must(t, os.Symlink(p.Root, link))
	t.Cleanup(func() { os.Remove(link) })
	viaLink := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Dir = link
		return replaceEnv(cmd, "PWD="+link)
	}
	t.Run("stop, then docker starts the VM by itself with the changed settings; the volume survives", func(t *testing.T) {
		p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
		if st := status(t, p); st.State != "Stopped" {
			t.Fatalf("after stop: state %s", st.State)
		}
		writeFile(t, p, "pixi.toml", "[workspace]\nname = \"e2e\"\n\n[tool.pixi-lima]\ntemplate = \"e2e.yaml\"\n"+mountsTOML)
		// A template changed after the VM exists: only a new VM has it, and status says so.
		writeFile(t, p, "other.yaml", "base: [template://docker]\n")
		st := statusMap(t, p)
		drift := p.MustRun(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "status", "--json"), "PIXI_LIMA_TEMPLATE=other.yaml"))
		if !strings.Contains(fmt.Sprint(st["drift"]), "mounts") || !strings.Contains(drift, `"key": "template"`) ||
			!strings.Contains(drift, "pixi-lima delete, then pixi-lima init") {
			t.Errorf("status does not show the changed settings: %v\n%s", st["drift"], drift)
		}

		begin := time.Now()
		_, stderr, code := p.Run(t, viaLink(p.Command(docker, "ps")))
		if code != 0 || !strings.Contains(stderr, "starting VM") || !strings.Contains(stderr, "applying the changed mounts") {
			t.Fatalf("docker ps on a stopped VM: exit %d\n%s", code, stderr)
		}
		t.Logf("docker ps started the stopped VM and answered in %s", time.Since(begin).Round(time.Second))
		stdout := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", "e2e_keep:/vol", "e2e-busybox", "cat", "/vol/log"))
		if stdout != "standalone\nplugin\n" {
			t.Errorf("named volume after a restart holds %q", stdout)
		}
		if got := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", extra+":/m", "e2e-busybox", "cat", "/m/hello")); got != "from the extra mount\n" {
			t.Errorf("the added mount shows %q in a container", got)
		}
		// The read-only mount refuses a container's write, the writable one
		// takes it and the file is on the host.
		_, stderr, code = p.Run(t, p.Command(docker, "run", "--rm", "-v", roDir+":/ro", "e2e-busybox", "sh", "-c", "echo x > /ro/f"))
		if code == 0 || !strings.Contains(stderr, "Read-only file system") {
			t.Errorf("a write into the read-only mount: exit %d\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(roDir, "f")); err == nil {
			t.Errorf("the write into the read-only mount reached the host")
		}
		p.MustRun(t, p.Command(docker, "run", "--rm", "-v", rwDir+":/rw", "e2e-busybox", "sh", "-c", "echo from-container > /rw/f"))
		if b, err := os.ReadFile(filepath.Join(rwDir, "f")); err != nil || string(b) != "from-container\n" {
			t.Errorf("the writable mount's file on the host: %q, %v", b, err)
		}
		// The link to the rootless socket is there again after a boot.
		socketInContainer(t, p, "rootless-after-a-restart")
		// The compose service came back with the engine, and so did the
		// forward of its published port.
		if !pageAnswers(t, "127.0.0.1:18082", "hello-compose") {
			t.Errorf("after the start on demand, the compose service's port 127.0.0.1:18082 never answered")
		}
		p.MustRun(t, p.Command(docker, "compose", "down"))
		// Bind mounts as the shell spells them, from the symlinked path.
		if got := p.MustRun(t, viaLink(p.Command(docker, "run", "--rm", "-v", link+":/w", "e2e-busybox", "ls", "/w"))); !strings.Contains(got, "pixi.toml") {
			t.Errorf("the project through a symlink lists %q in a container, want its files", got)
		}
		if st := status(t, p); len(st.Drift) != 0 {
			t.Errorf("after the start, status still lists drift: %v", st.Drift)
		}
		// A second symlink, first used while the VM runs: the call works,
		// says that the VM does not mount this path yet, and every call
		// from it says so (the fast path hands such calls to the full path).
		link2 := link + "b"
		must(t, os.Symlink(p.Root, link2))
		defer os.Remove(link2)
		for range 2 {
			cmd := replaceEnv(p.Command(docker, "ps", "-q"), "PWD="+link2)
			cmd.Dir = link2
			_, stderr, code := p.Run(t, cmd)
			if code != 0 || !strings.Contains(stderr, "reaches the project as "+link2+", which VM \"e2e-docker\" does not mount yet") {
				t.Errorf("docker ps from an unmounted symlink: exit %d\n%s", code, stderr)
			}
		}
		if _, stderr, _ := p.Run(t, viaLink(p.Command(docker, "ps", "-q"))); stderr != "" {
			t.Errorf("docker ps from the mounted symlink says:\n%s", stderr)
		}
	})

	// The host agent dies while QEMU runs (Lima says Broken).
	// The next docker call must shut the guest down cleanly, not SIGKILL it.
	manifest := func(more string) string {
		return "[workspace]\nname = \"e2e\"\n\n[tool.pixi-lima]\ntemplate = \"e2e.yaml\"\n" + mountsTOML + more
	}
	t.Run("a Broken VM whose guest still runs is shut down cleanly, then started", func(t *testing.T) {
		before := cleanShutdowns(t, p)
		// The start that recovers also applies a short idle-stop, for the
		// idle step below (one boot fewer).
		writeFile(t, p, "pixi.toml", manifest("idle-stop = \"1m\"\n"))
		killHostAgent(t, instDir)
		if st := status(t, p); st.State != "Broken" {
			t.Fatalf("with the host agent killed: state %s, want Broken", st.State)
		}
		if ping.Engine(filepath.Join(instDir, "sock", "docker.sock"), 2*time.Second) {
			t.Fatalf("docker still answers with the host agent and its ssh killed (pids %v): the recovery would not be reached", sshOf(instDir))
		}
		_, stderr, code := p.Run(t, p.Command(docker, "ps"))
		t.Logf("docker ps on the Broken VM:\n%s", stderr)
		if code != 0 || !strings.Contains(stderr, "shutting it down cleanly") || !strings.Contains(stderr, "the guest shut down cleanly in") {
			t.Fatalf("docker ps on a Broken VM: exit %d\n%s", code, stderr)
		}
		if after := cleanShutdowns(t, p); after != before+1 {
			t.Errorf("the guest recorded %d clean shutdowns, want %d: it was killed", after, before+1)
		}
		if !strings.Contains(stderr, "applying the changed idle-stop") {
			t.Errorf("the recovering start did not apply idle-stop = 1m:\n%s", stderr)
		}
	})

	// What a container wrote and left behind goes back to the
	// host: prune removes it in Docker, then the guest trims its disk.
	t.Run("prune gives a removed container's data back to the host; volumes stay", func(t *testing.T) {
		p.MustRun(t, p.Command(docker, "run", "--name", "fat", "e2e-busybox",
			"sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=500 2>/dev/null && sync"))
		p.MustRun(t, p.Command(docker, "rm", "fat"))
		// A stopped container keeps what it wrote unless the user says so.
		p.MustRun(t, p.Command(docker, "run", "--name", "db", "e2e-busybox", "sh", "-c", "echo kept > /state"))
		before := status(t, p).DiskUsed
		stdout, stderr, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "prune"))
		t.Logf("prune:\n%s%s", stdout, stderr)
		after := status(t, p).DiskUsed
		if code != 0 || !strings.Contains(stdout, "freed ") || !strings.Contains(stderr, "trimming the disk") {
			t.Fatalf("prune: exit %d\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "kept 1 stopped containers (db)") {
			t.Errorf("prune did not say it kept the stopped container:\n%s", stderr)
		}
		if got := p.MustRun(t, p.Command(docker, "cp", "db:/state", "-")); !strings.Contains(got, "kept") {
			t.Errorf("the kept container's file: %q", got)
		}
		p.MustRun(t, p.Command(docker, "rm", "db"))
		if freed := before - after; freed < 400<<20 {
			t.Errorf("prune freed %d MiB on the host (%d → %d), want at least 400", freed>>20, before>>20, after>>20)
		}
		// Volumes go only when asked, and asked again on a terminal.
		_, stderr, code = p.Run(t, p.Command(p.Bin("pixi-lima"), "prune", "--volumes"))
		wantFail(t, "prune --volumes without a terminal", code, stderr, 4, "hint: pixi-lima prune --volumes --force")
		if got := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", "e2e_keep:/vol", "e2e-busybox", "cat", "/vol/log")); got != "standalone\nplugin\n" {
			t.Errorf("the named volume holds %q after prune", got)
		}
	})

	// With idle-stop, the VM powers itself off once nothing has happened
	// since the watcher's last look: never while a container runs, a
	// shell is open, or short docker calls come between its looks. An
	// IDE-like client on the wake socket, `docker events` held open and a
	// read-only poll every 5 s, neither keeps it up nor wakes it: while it
	// sleeps the wake socket answers them from the snapshot the guest took
	// before its poweroff. The Python SDK's containers.run then boots it
	// once (a docker call meanwhile waits for that boot), with its data, and
	// the event stream, open throughout, shows the new container.
	t.Run("idle-stop: not while in use, then by itself whatever reads; asleep, read-only calls do not wake it, the SDK's run does", func(t *testing.T) {
		if st := status(t, p); st.State != "Running" {
			t.Fatalf("state %s, want Running", st.State)
		}
		wake := filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")
		p.MustRun(t, p.Command(docker, "create", "--name", "kept-asleep", "e2e-busybox", "true"))
		events := activated(p, "/usr/bin/docker", "events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
		var eventsOut syncBuffer
		events.Stdout, events.Stderr = &eventsOut, &eventsOut
		must(t, events.Start())
		defer events.Process.Kill()
		poll := startPoll(wake, "/v1.41/containers/json?all=1", 5*time.Second)
		defer poll.stop()
		// Each phase lasts longer than the limit (1m) and the watcher's
		// 30 s period together.
		keptUp := func(what string, d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Second) {
				if st := status(t, p); st.State != "Running" {
					t.Fatalf("the VM went %s while %s", st.State, what)
				}
			}
		}
		calls := make(chan struct{})
		go func() {
			defer close(calls)
			for end := time.Now().Add(100 * time.Second); time.Now().Before(end); time.Sleep(40 * time.Second) {
				p.Run(t, p.Command(docker, "run", "--rm", "e2e-busybox", "true"))
			}
		}()
		keptUp("a short docker run came every 40 s", 100*time.Second)
		<-calls
		shell := p.Command(p.Bin("limactl-local"), "shell", instance, "sleep", "100")
		must(t, shell.Start())
		keptUp("a shell was open", 100*time.Second)
		shell.Wait()
		p.MustRun(t, p.Command(docker, "run", "-d", "--name", "sleeper", "e2e-busybox", "sleep", "3600"))
		keptUp("a container ran", 100*time.Second)
		guest(t, "touch /var/lib/pixi-lima-e2e/slow-poweroff")
		p.MustRun(t, p.Command(docker, "rm", "-f", "sleeper"))
		awake := responseBody(rawRequest(wake, "GET", "/v1.41/containers/json?all=1", ""))
		idleFrom := time.Now()
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
			if _, ok := lima.IdleStopped(instDir); ok && !ping.Engine(filepath.Join(instDir, "sock", "docker.sock"), time.Second) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the VM did not power itself off within 5 idle minutes with an event stream and a poll on the wake socket: %+v", status(t, p))
			}
		}
		idle := time.Since(idleFrom)
		t.Logf("idle with an event stream and a poll every 5 s: powering off %s after the last container went", idle.Round(time.Second))
		if idle > 2*time.Minute {
			t.Errorf("the VM powered off %s after the last container went, want within 2 min at a 1 min limit", idle.Round(time.Second))
		}
		// The guest lingers 20 s after docker stopped: Lima still says Running.
		if text := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status")); !strings.Contains(text, "stopping:  by itself at") {
			t.Errorf("status does not say the VM stops because it was idle:\n%s", text)
		}
		if st := status(t, p); st.State != "Running" || st.IdleStoppedAt == nil {
			t.Fatalf("the poweroff's window was missed: state %s, idle-stopped at %v", st.State, st.IdleStoppedAt)
		}
		for deadline := time.Now().Add(2 * time.Minute); status(t, p).State != "Stopped"; time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				t.Fatalf("the guest did not end its poweroff within 2 min: %+v", status(t, p))
			}
		}
		guestStopped := time.Now()
		// The later steps stop and start the VM at will: no idle stops there.
		writeFile(t, p, "pixi.toml", manifest("idle-stop = \"off\"\n"))
		before := countStarts(t, p, instance)
		stayStopped(t, p, instance, before, 2*time.Minute, func() {
			if info, stderr, code := p.Run(t, activated(p, "/usr/bin/docker", "info")); code != 0 || !strings.Contains(info+stderr, "asleep: answered by pixi-lima from the state of") {
				t.Errorf("docker info on the sleeping wake socket: exit %d\n%s\n%s", code, info, stderr)
			}
			if out, stderr, code := p.Run(t, activated(p, "/usr/bin/python3", "-c", "import docker; print(docker.from_env().version()['ApiVersion'])")); code != 0 || out == "" {
				t.Errorf("the Python SDK's version() asleep: exit %d\n%s%s", code, out, stderr)
			}
			if text := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status")); !regexp.MustCompile(`asleep: +answering read-only calls from the snapshot of`).MatchString(text) {
				t.Errorf("status does not say the wake socket answers asleep:\n%s", text)
			}
			if doc, _, _ := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor")); !strings.Contains(doc, "asleep: answering read-only calls from the snapshot of") {
				t.Errorf("doctor does not say the wake socket answers asleep:\n%s", doc)
			}
		})
		asleep := poll.since(guestStopped)
		if len(asleep) < 20 {
			t.Errorf("%d polls answered while the VM slept 2 min, want one every 5 s", len(asleep))
		}
		wantStates := containerStates(t, awake)
		for _, got := range asleep {
			if got != asleep[0] || containerStates(t, got) != wantStates {
				t.Fatalf("a poll while asleep answered\n%s\nwant the containers as they were:\n%s", got, awake)
			}
		}
		if !strings.Contains(wantStates, "/kept-asleep created") {
			t.Errorf("the containers before the sleep do not list the stopped one:\n%s", wantStates)
		}

		// The Python SDK in pixi run's environment, on the wake socket, boots
		// it; a docker call while it boots waits for that boot.
		begin := time.Now()
		// The SDK's default read timeout (60 s) is shorter than the boot
		// under TCG: the wake socket's interim 100 Continue answers every
		// 50 s keep it waiting.
		sdk := activated(p, "/usr/bin/python3", "-c", `import docker
print(docker.from_env().containers.run("e2e-busybox", ["echo", "woken"], name="woken", remove=True).decode(), end="")`)
		var sdkOut, sdkErr strings.Builder
		sdk.Stdout, sdk.Stderr = &sdkOut, &sdkErr
		must(t, sdk.Start())
		for deadline := time.Now().Add(time.Minute); countStarts(t, p, instance) == before; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the SDK's containers.run did not start the VM within a minute")
			}
		}
		_, stderr, code := p.Run(t, p.Command(docker, "ps"))
		if err := sdk.Wait(); err != nil || sdkOut.String() != "woken\n" {
			t.Fatalf("the Python SDK's containers.run on the sleeping VM: %v\nstdout: %q\nstderr: %s", err, sdkOut.String(), sdkErr.String())
		}
		t.Logf("the SDK's containers.run on the sleeping VM got its answer after %s", time.Since(begin).Round(time.Second))
		if code != 0 || !strings.Contains(stderr, "is busy") {
			t.Errorf("docker ps while the SDK woke the VM did not wait for that boot: exit %d\n%s", code, stderr)
		}
		if n := countStarts(t, p, instance) - before; n != 1 {
			t.Errorf("the VM was started %d times, want 1", n)
		}
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(eventsOut.String(), "container destroy woken"); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the event stream held across the sleep does not show the new container's events:\n%s", eventsOut.String())
			}
		}
		if err := events.Process.Signal(syscall.Signal(0)); err != nil || !strings.Contains(eventsOut.String(), "container start woken") {
			t.Errorf("the event stream (%v):\n%s", err, eventsOut.String())
		}
		guest(t, "rm /var/lib/pixi-lima-e2e/slow-poweroff")
		p.MustRun(t, p.Command(docker, "rm", "kept-asleep"))
		if got := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", "e2e_keep:/vol", "e2e-busybox", "cat", "/vol/log")); got != "standalone\nplugin\n" {
			t.Errorf("the named volume holds %q after the idle stop", got)
		}
		if st := status(t, p); st.IdleStoppedAt != nil {
			t.Errorf("a running VM still reports an idle stop: %v", st.IdleStoppedAt)
		}
	})

	// Restart applies changed resources; the guest's own kernel says so.
	// It also applies the project's CA and the proxy of the shell that
	// restarts it: before, a registry whose certificate comes from a CA
	// only this test makes is refused with docker's x509 error; after,
	// push and pull work directly and, by a name only the proxy resolves,
	// through the proxy, and a build's RUN fetches a page through it. The
	// proxy's password shows nowhere. The next step's start goes back to
	// the defaults, and a start from a shell without a proxy clears it.
	t.Run("restart applies changed cpus and memory, the project's CA and the shell's proxy", func(t *testing.T) {
		resources := func() (cpus int, memKiB int) {
			out := p.MustRun(t, p.Command(p.Bin("limactl-local"), "shell", instance, "sh", "-c", "nproc; grep MemTotal /proc/meminfo"))
			if _, err := fmt.Sscanf(out, "%d\nMemTotal: %d kB", &cpus, &memKiB); err != nil {
				t.Fatalf("nproc and MemTotal in the guest: %v\n%s", err, out)
			}
			return cpus, memKiB
		}
		cpus, mem := resources()
		if cpus != 2 || mem < 1800<<10 {
			t.Fatalf("before: the guest has %d CPUs and %d MiB, want 2 and about 2048", cpus, mem>>10)
		}
		untrustedRegistryFails(t, p, f)
		writeFile(t, p, "pixi.toml", manifest("idle-stop = \"off\"\ncpus = 1\nmemory = \"1.5GiB\"\nca-certs = [\""+filepath.Base(f.CAFile)+"\"]\n"))
		const password = "pl-s3cret"
		proxy := strings.Replace(f.ProxyURL, "http://", "http://pl:"+password+"@", 1)
		_, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "restart"), "HTTPS_PROXY="+proxy, "http_proxy="+proxy))
		if code != 0 {
			t.Fatalf("restart: exit %d\n%s", code, stderr)
		}
		registryWorks(t, p, f, true)
		buildThroughProxy(t, p, f)
		said := stderr + p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status")) + p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status", "--json"))
		doctor, doctorErr, _ := p.Run(t, p.Command(p.Bin("pixi-lima"), "doctor"))
		said += doctor + doctorErr
		if !strings.Contains(doctor, "ok       trust: the guest has the 1 CAs and the proxy http://pl:***@192.168.5.2:") {
			t.Errorf("doctor does not find the CA and the proxy in the guest:\n%s", doctor)
		}
		if !strings.Contains(said, "1 CA") || !strings.Contains(said, "http://pl:***@192.168.5.2:") {
			t.Errorf("status does not say the VM's CA and proxy:\n%s", said)
		}
		logs, _ := filepath.Glob(filepath.Join(p.Root, ".pixi", "pixi-lima", "log", "*"))
		for _, file := range logs {
			b, _ := os.ReadFile(file)
			said += string(b)
		}
		if strings.Contains(said, password) {
			t.Errorf("the proxy's password shows in pixi-lima's output or logs")
		}
		for _, file := range []string{filepath.Join(instDir, "lima.yaml"), filepath.Join(p.Root, ".pixi", "docker", "config.json")} {
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s holds the proxy's password: %v, want mode 0600", file, err)
			}
		}
		// MemTotal is the memory less what the kernel keeps for itself.
		if cpus, mem = resources(); cpus != 1 || mem > 1536<<10 || mem < 1300<<10 {
			t.Errorf("after restart with cpus = 1, memory = 1.5GiB: the guest has %d CPUs and %d MiB", cpus, mem>>10)
		}
		if st := status(t, p); st.CPUs != 1 || st.Memory != 1536<<20 {
			t.Errorf("status after restart: %d CPUs, %d bytes", st.CPUs, st.Memory)
		}
		writeFile(t, p, "pixi.toml", manifest("idle-stop = \"off\"\n"))
	})

	// The wake socket is the DOCKER_HOST that pixi run's activation gives
	// clients that never call the shim. stop ends its server; an activation
	// starts it again, but only a request that needs the engine starts the
	// VM: not an activation, status, or a connection that sends nothing.
	// A stop during a boot the wake socket began waits for it, then stops;
	// Debian's Python SDK, with its default 60 s timeout, then starts the
	// stopped VM and gets its answer.
	t.Run("the wake socket: only a request starts the stopped VM; a stop meanwhile wins", func(t *testing.T) {
		wake := filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")
		if st := status(t, p); st.State != "Running" || st.WakeSocketPID == 0 {
			t.Fatalf("before: state %s, wake socket served by pid %d", st.State, st.WakeSocketPID)
		}
		p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
		if st := status(t, p); st.State != "Stopped" || st.WakeSocketPID != 0 {
			t.Fatalf("after stop: state %s, wake socket served by pid %d", st.State, st.WakeSocketPID)
		}
		if _, err := os.Stat(wake); !os.IsNotExist(err) {
			t.Errorf("after stop the wake socket is still there: %v", err)
		}
		before := countStarts(t, p, instance)
		// (The idle step showed 2 min of sleep with polls; here 10 s will do.)
		stayStopped(t, p, instance, before, 10*time.Second, func() {
			if _, stderr, code := p.Run(t, activated(p, "true")); code != 0 || stderr != "" {
				t.Errorf("an activation after stop: exit %d\n%s", code, stderr)
			}
			p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status"))
			if st := status(t, p); st.WakeSocketPID == 0 {
				t.Errorf("the activation did not start the wake socket's server")
			}
			connectAndClose(t, wake, "")
			connectAndClose(t, wake, "\x16\x03\x01 not HTTP\r\n\r\n")
		})

		// A POST /containers/create starts the VM; a stop meanwhile waits
		// for that start, says so, and the VM ends stopped.
		create := make(chan string, 1)
		go func() {
			create <- rawRequest(wake, "POST", "/containers/create", `{"Image":"e2e-busybox","Cmd":["true"]}`)
		}()
		wakeLog := filepath.Join(p.Root, ".pixi", "pixi-lima", "log", "wake-socket.log")
		for deadline := time.Now().Add(time.Minute); countStarts(t, p, instance) == before; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(wakeLog)
				t.Fatalf("POST /containers/create on the wake socket did not start the VM within a minute:\n%s", log)
			}
		}
		begin := time.Now()
		_, stopSaid, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "stop"))
		t.Logf("stop during the wake socket's boot returned after %s; the client got %q", time.Since(begin).Round(time.Second), firstLine(<-create))
		if code != 0 || !strings.Contains(stopSaid, "is starting it for a request on the wake socket; waiting") ||
			!strings.Contains(stopSaid, `stopping VM "`+instance+`"`) || strings.Contains(stopSaid, "already stopped") {
			t.Errorf("stop during the wake socket's boot: exit %d\n%s", code, stopSaid)
		}
		if st := status(t, p); st.State != "Stopped" {
			t.Fatalf("after stop during the wake socket's boot: state %s", st.State)
		}
		before = countStarts(t, p, instance)
		sdk := `import docker
print(docker.from_env().containers.run("e2e-busybox", ["echo", "hi from the SDK"], remove=True).decode(), end="")`
		begin = time.Now()
		out, stderr, code := p.Run(t, activated(p, "/usr/bin/python3", "-c", sdk))
		if code != 0 || out != "hi from the SDK\n" {
			t.Fatalf("the Python SDK (default timeout) on the stopped VM: exit %d\nstdout: %q\nstderr: %s", code, out, stderr)
		}
		t.Logf("the first SDK call on the stopped VM got its answer in %s", time.Since(begin).Round(time.Second))
		if n := countStarts(t, p, instance) - before; n != 1 {
			t.Errorf("the SDK's call started the VM %d times, want 1", n)
		}
		if st := status(t, p); st.State != "Running" || st.WakeSocketPID == 0 {
			t.Errorf("after the wake: state %s, wake socket served by pid %d", st.State, st.WakeSocketPID)
		}
		if doc := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "doctor")); !strings.Contains(doc, "a client there starts the VM when it is down") {
			t.Errorf("doctor does not show the wake socket:\n%s", doc)
		}
		// Testcontainers for Go in pixi run (the stand-in, with the
		// activation listed in the manifest): a published port read on
		// 127.0.0.1 through Lima's forward, and Ryuk's socket path.
		withActivation(t, p)
		runTestcontainers(t, p, pixiEnv(t, p, p.Env()), "e2e-busybox")
	})

	// Four terminals call docker ps in a loop (30 calls each, 0.5 s apart)
	// through `pixi-lima stop` and the boot after it, and 16 docker calls
	// and 16 inits arrive as the stop begins: every call waits for the stop,
	// exactly one of them boots the VM, and none meets a daemon that is
	// gone, since no call trusts a ping while the stop holds the lock.
	t.Run("calls during a stop wait for it; four terminals and 32 concurrent first calls boot once", func(t *testing.T) {
		before := countStarts(t, p, instance)
		var mu sync.Mutex
		var loopErrs []string
		loopCodes := 0
		var loops sync.WaitGroup
		for range 4 {
			loops.Add(1)
			go func() {
				defer loops.Done()
				for range 30 {
					_, stderr, code := p.Run(t, p.Command(docker, "ps", "-q"))
					mu.Lock()
					loopErrs = append(loopErrs, stderr)
					if code != 0 {
						loopErrs[len(loopErrs)-1] = fmt.Sprintf("exit %d: %s", code, stderr)
						loopCodes++
					}
					mu.Unlock()
					time.Sleep(500 * time.Millisecond)
				}
			}()
		}
		time.Sleep(3 * time.Second)
		stop := p.Command(p.Bin("pixi-lima"), "stop")
		var stopSaid strings.Builder
		stopping, stopRead := make(chan struct{}), make(chan struct{})
		stopOut, w := io.Pipe()
		stop.Stderr = w
		go func() {
			defer close(stopRead)
			for lines := bufio.NewScanner(stopOut); lines.Scan(); {
				stopSaid.WriteString(lines.Text() + "\n")
				if strings.HasPrefix(lines.Text(), `pixi-lima: stopping VM "`+instance+`" …`) {
					close(stopping)
				}
			}
		}()
		must(t, stop.Start())
		stopped := make(chan error, 1)
		go func() { stopped <- stop.Wait(); w.Close() }()
		select {
		case <-stopping:
		case <-stopRead:
			t.Fatalf("pixi-lima stop never stopped the VM:\n%s", stopSaid.String())
		}
		var argvs [][]string
		for range 16 {
			argvs = append(argvs, []string{docker, "ps", "-q"}, []string{p.Bin("pixi-lima"), "init"})
		}
		stderrs, codes := concurrently(t, p, argvs)
		err := <-stopped
		<-stopRead
		if err != nil || strings.Contains(stopSaid.String(), "expected status") {
			t.Errorf("pixi-lima stop among docker calls: %v\n%s", err, stopSaid.String())
		}
		loops.Wait()
		// A call fails only on a connection the daemon's stop cut (a reset
		// or EOF), never because it was handed an engine that was gone.
		cut := 0
		failed := func(what, stderr string) {
			if strings.Contains(stderr, "pixi-lima:") || strings.Contains(stderr, "Cannot connect to the Docker daemon") ||
				!strings.Contains(stderr, "connection reset by peer") && !strings.Contains(stderr, "EOF") {
				t.Errorf("%s failed:\n%s", what, stderr)
				return
			}
			cut++
		}
		for i, stderr := range stderrs {
			if codes[i] != 0 {
				failed(fmt.Sprint(argvs[i]), stderr)
			}
		}
		for _, stderr := range loopErrs {
			if strings.HasPrefix(stderr, "exit ") {
				failed("a terminal's docker ps", stderr)
			}
		}
		concurrentOK := 0
		for _, code := range codes {
			if code == 0 {
				concurrentOK++
			}
		}
		t.Logf("%d of %d terminal calls and %d of %d concurrent calls succeeded; %d lost a connection the stop cut",
			len(loopErrs)-loopCodes, len(loopErrs), concurrentOK, len(codes), cut)
		said, waited := 0, 0
		for _, stderr := range append(stderrs, loopErrs...) {
			said += strings.Count(stderr, `pixi-lima: starting VM "`+instance+`" …`)
			if strings.Contains(stderr, "is stopping it for pixi-lima stop; waiting") {
				waited++
			}
			if strings.Contains(stderr, "pixi-lima: error") || hintLine.MatchString(stderr) {
				t.Errorf("a docker call during the stop failed in pixi-lima:\n%s", stderr)
			}
		}
		if started := countStarts(t, p, instance) - before; said != 1 || started != 1 {
			t.Errorf("%d calls said they start the VM, %d limactl starts logged; want exactly 1", said, started)
		}
		if waited == 0 {
			t.Errorf("no call said it waited for the stop")
		}
		t.Logf("%d calls waited for the stop", waited)
		if _, stderr, code := p.Run(t, p.Command(docker, "ps", "-q")); code != 0 || stderr != "" {
			t.Errorf("docker ps after it all: exit %d\n%s", code, stderr)
		}
	})

	// SIGKILL in the middle of a boot, of the shim and
	// of Lima's host agent. The next call recovers; the disk and the named
	// volume are the same as before.
	t.Run("SIGKILL of the shim mid-boot", func(t *testing.T) {
		killMidBoot(t, p, instDir, func(cmd *exec.Cmd) { must(t, cmd.Process.Signal(syscall.SIGKILL)) })
	})
	// The host agent killed mid-boot, after it started QEMU and before
	// QEMU wrote qemu.pid: Lima then says Stopped while that QEMU holds the
	// disk and the ssh port. The instant is made, not waited for: once QEMU
	// runs, the host agent is killed and qemu.pid removed. (A host agent
	// killed with qemu.pid written is the Broken VM of the step above, whose
	// recovery is the same at boot as later.)
	t.Run("SIGKILL of the host agent before Lima records QEMU", func(t *testing.T) {
		out := killMidBoot(t, p, instDir, func(*exec.Cmd) {
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(instDir, "qemu.pid")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("QEMU never wrote qemu.pid")
				}
			}
			killHostAgent(t, instDir)
			must(t, os.Remove(filepath.Join(instDir, "qemu.pid")))
		})
		if !strings.Contains(out, "that Lima lost track of") {
			t.Errorf("the next init did not deal with the QEMU Lima lost:\n%s", out)
		}
	})

	t.Run("delete --force leaves nothing of the instance; an activation creates nothing", func(t *testing.T) {
		p.MustRun(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
		if _, err := os.Stat(instDir); !os.IsNotExist(err) {
			t.Errorf("%s still exists after delete: %v", instDir, err)
		}
		if st := status(t, p); st.State != "Missing" {
			t.Errorf("after delete: state %s", st.State)
		}
		// client.env survives the delete: the next pixi run starts the
		// wake socket's server again, and a probe there creates nothing.
		stayStopped(t, p, instance, countStarts(t, p, instance), 10*time.Second, func() {
			if _, stderr, code := p.Run(t, activated(p, "true")); code != 0 || stderr != "" {
				t.Errorf("an activation after delete: exit %d\n%s", code, stderr)
			}
			p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status"))
			connectAndClose(t, filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock"), "")
		})
		if _, err := os.Stat(instDir); !os.IsNotExist(err) {
			t.Errorf("%s was made again after the delete: %v", instDir, err)
		}
	})

	// The rootful mode, in a VM of its own from Lima's
	// template://docker-rootful: what differs from rootless, and that
	// /var/run/docker.sock works in containers there too.
	t.Run("rootful: the socket in containers, file ownership, privileged ports, host network", func(t *testing.T) {
		rootful := filepath.Join(filepath.Dir(s.Template), "docker-rootful.yaml")
		writeFile(t, p, "pixi.toml", fmt.Sprintf("[workspace]\nname = \"e2e\"\n\n[tool.pixi-lima]\ntemplate = %q\nrootful = true\nidle-stop = \"off\"\nca-certs = [%q]\n", rootful, filepath.Base(f.CAFile)))
		defer func() {
			p.Run(t, p.Command(p.Bin("pixi-lima"), "delete", "--force"))
			// A docker call after the delete boots a new VM (a cleanup
			// did, once). Keep what tells why, and end it: it would slow
			// whatever runs next on the machine.
			if hostProcessWith(instDir + "/") {
				log, _ := os.ReadFile(filepath.Join(p.Root, ".pixi", "pixi-lima", "log", instance+".log"))
				keep := filepath.Join(os.TempDir(), "pixi-lima-vm-left-"+time.Now().Format("150405")+".log")
				os.WriteFile(keep, log, 0o644)
				t.Logf("a Lima process of the deleted VM is still running; pixi-lima's log is in %s", keep)
				exec.Command("pkill", "-9", "-f", "[/]"+strings.TrimPrefix(instDir, "/")+"/").Run()
			}
		}()
		begin := time.Now()
		if _, stderr, code := p.Run(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), "HTTPS_PROXY="+f.ProxyURL)); code != 0 {
			t.Fatalf("init of the rootful VM: exit %d\n%s", code, stderr)
		}
		t.Logf("the rootful VM was created and booted in %s", time.Since(begin).Round(time.Second))
		if got := guest(t, "stat -c %U /var/run/docker.sock; pgrep -x rootlesskit || echo none"); !strings.HasSuffix(got, "none\n") {
			t.Errorf("the rootful VM's docker socket and rootlesskit: %q", got)
		}
		buildBusybox(t, p, "e2e-busybox")
		// The CA and the proxy given at init, rootful.
		registryWorks(t, p, f, true)
		socketInContainer(t, p, "rootful")
		// The project's files keep the user's uid in a rootful container.
		if got := p.MustRun(t, p.Command(docker, "run", "--rm", "-v", p.Root+":/w", "e2e-busybox", "stat", "-c", "%u", "/w/pixi.toml")); got != strconv.Itoa(s.UID)+"\n" {
			t.Errorf("the project's pixi.toml in a rootful container belongs to uid %q, want %d", got, s.UID)
		}
		if _, stderr, code := p.Run(t, p.Command(docker, "run", "--rm", "-p", "127.0.0.1:80:8080", "e2e-busybox", "true")); code != 0 {
			t.Errorf("publishing port 80 rootful: exit %d\n%s", code, stderr)
		}
		portReady(t, p, guest, 18120)
		if _, stderr, code := p.Run(t, p.Command(docker, "run", "--rm", "e2e-busybox", "ping", "-c", "1", "-W", "5", "192.168.5.2")); code != 0 {
			t.Errorf("ping from a rootful container to the VM's gateway: exit %d\n%s", code, stderr)
		}
		p.MustRun(t, p.Command(docker, "run", "-d", "--name", "hostnet", "--network", "host", "e2e-busybox", "httpd", "-f", "-p", "127.0.0.1:18085", "-h", "/"))
		if got := guestConnects(t, guest, "127.0.0.1:18085"); got != "open" {
			t.Errorf("a --network host server, from the rootful VM: %s, want open", got)
		}
		// Switching the mode is a new VM: status says so, with the fix.
		drift := p.MustRun(t, replaceEnv(p.Command(p.Bin("pixi-lima"), "status", "--json"), "PIXI_LIMA_ROOTFUL=false"))
		if !strings.Contains(drift, `"key": "rootful"`) || !strings.Contains(drift, "pixi-lima delete, then pixi-lima init") {
			t.Errorf("status with rootful = false on a rootful VM:\n%s", drift)
		}
	})

	t.Run("HOME is untouched", func(t *testing.T) {
		entries, err := os.ReadDir(p.Home)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("pixi-lima, limactl or docker wrote %s into HOME", filepath.Join(p.Home, e.Name()))
		}
	})
}

// killHostAgent does to the instance what a crash of its host side does:
// SIGKILL of Lima's host agent and of the ssh master that forwards
// docker's socket (ControlPersist puts it in a session of its own), then
// waits until both are gone. QEMU, in a process group of its own, runs on.
func killHostAgent(t *testing.T, instDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(instDir, "ha.pid"))
	must(t, err)
	ha, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(t, err)
	pids := append([]int{ha}, sshOf(instDir)...)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		for deadline := time.Now().Add(time.Minute); alive(pid); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d did not die", pid)
			}
		}
	}
}

// sshOf lists the ssh processes that serve the instance: their command
// line names its directory (ControlPath=<dir>/ssh.sock; the mux master
// retitles itself "ssh: <dir>/ssh.sock [mux]", so the name is comm's).
func sshOf(instDir string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, _ := os.ReadFile(filepath.Join(d, "comm"))
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || strings.TrimSpace(string(comm)) != "ssh" || !strings.Contains(string(b), instDir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive: the process exists and is not a zombie waiting for its parent.
func alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// cleanShutdowns counts the guest's clean shutdowns (see e2e.yaml).
func cleanShutdowns(t *testing.T, p *Project) int {
	t.Helper()
	out := p.MustRun(t, p.Command(p.Bin("docker"), "run", "--rm", "-v", "/var/lib/pixi-lima-e2e:/m", "e2e-busybox",
		"sh", "-c", "cat /m/clean-shutdowns 2>/dev/null | wc -l"))
	n, err := strconv.Atoi(strings.TrimSpace(out))
	must(t, err)
	return n
}

// publishedPortAnswers runs busybox httpd in a container published as
// `-p <publish>:8080`, fetches its page from the host at addr, and finds
// nothing listening at each of notAt.
func publishedPortAnswers(t *testing.T, p *Project, publish, addr string, notAt ...string) {
	t.Helper()
	docker := p.Bin("docker")
	p.MustRun(t, p.Command(docker, "run", "-d", "--name", "web", "-p", publish+":8080", "e2e-busybox",
		"sh", "-c", "mkdir -p /www && echo hello-port >/www/index.html && exec httpd -f -p 8080 -h /www"))
	defer p.Run(t, p.Command(docker, "rm", "-f", "web"))
	if !pageAnswers(t, addr, "hello-port") {
		t.Errorf("the port published as %s never answered from the host at %s", publish, addr)
	}
	for _, other := range notAt {
		if c, err := net.DialTimeout("tcp", other, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the port published as %s answers at %s too", publish, other)
		}
	}
}

// portReady: Lima's guest agent looks for new ports with pixi-lima's tick,
// without running iptables at every look, so a port that starts listening
// in the guest is forwarded to the host within a second (Lima's own 3 s
// tick: up to 3.4 s here), and one that `docker run -d -p` publishes
// accepts connections from the host soon after docker returns. Medians of
// 5, each on a port of its own; bench/run.sh measures p95 of 20 against
// the guest's own view.
func portReady(t *testing.T, p *Project, guest func(*testing.T, string) string, firstPort int) {
	t.Helper()
	agent := guest(t, `systemctl show -p ExecStart --value lima-guestagent; journalctl -o cat _PID="$(systemctl show -p MainPID --value lima-guestagent)"`)
	if !strings.Contains(agent, "--tick=200ms") || !strings.Contains(agent, "monitoring netfilter audit events") {
		t.Errorf("the guest agent runs without pixi-lima's port tick, or runs iptables at every look:\n%s", agent)
	}
	median := func(what string, listen func(port int), bound time.Duration, port int) {
		t.Helper()
		var took []time.Duration
		for end := port + 5; port < end; port++ {
			listen(port)
			begin := time.Now()
			for {
				if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
					c.Close()
					break
				}
				if time.Since(begin) > 30*time.Second {
					t.Errorf("%s: port %d never accepted a connection from the host", what, port)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			took = append(took, time.Since(begin).Round(time.Millisecond))
		}
		sorted := slices.Clone(took)
		slices.Sort(sorted)
		t.Logf("%s: accepted from the host after %v", what, took)
		if sorted[len(sorted)/2] > bound {
			t.Errorf("%s: accepted from the host in a median %s, want ≤ %s", what, sorted[len(sorted)/2], bound)
		}
	}
	median("a port opened in the guest", func(port int) {
		guest(t, fmt.Sprintf("setsid systemd-socket-activate -l 127.0.0.1:%d true </dev/null >/dev/null 2>&1 &", port))
	}, time.Second, firstPort)
	// [s]: not the pattern in pkill's own sh -c, which it would kill.
	defer guest(t, "pkill -f '[s]ystemd-socket-activate -l 127' || true")
	docker := p.Bin("docker")
	// Removed before the step ends, not in t.Cleanup: that runs after the
	// step's deferred delete, and docker would boot a new VM for it.
	var names []string
	defer func() {
		if len(names) > 0 {
			p.Run(t, p.Command(docker, append([]string{"rm", "-f"}, names...)...))
		}
	}()
	median("a port published by docker run -d -p", func(port int) {
		name := "ready" + strconv.Itoa(port)
		p.MustRun(t, p.Command(docker, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "e2e-busybox", "httpd", "-f", "-p", "8080"))
		names = append(names, name)
	}, time.Second, firstPort+5)
}

// pageAnswers fetches http://addr/ from the host until its body is want.
// Lima's guest agent notices a published port and its host agent forwards
// it: a readiness loop, bounded so a missing forward fails instead of hanging.
func pageAnswers(t *testing.T, addr, want string) bool {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) == want {
			return true
		}
		last = fmt.Errorf("%s: %q", resp.Status, body)
	}
	t.Logf("http://%s/: %v", addr, last)
	return false
}

// hostAddress is an IPv4 address of this host other than loopback, "" if
// it has none.
func hostAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// userDir is a fresh directory of the test user's, outside the project.
func userDir(t *testing.T, p *Project, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chown(dir, p.s.UID, p.s.GID))
	must(t, os.Chmod(dir, 0o755))
	return dir
}

func writeFileAt(t *testing.T, p *Project, path, content string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(content), 0o644))
	must(t, os.Chown(path, p.s.UID, p.s.GID))
}

// statusJSON is the part of `pixi-lima status --json` the tests read.
type statusJSON struct {
	State         string     `json:"state"`
	Socket        string     `json:"socket"`
	DockerAnswers bool       `json:"dockerAnswers"`
	Degraded      bool       `json:"degraded"`
	CPUs          int        `json:"cpus"`
	Memory        int64      `json:"memoryBytes"`
	Disk          int64      `json:"diskBytes"`
	Drift         []any      `json:"drift"`
	DiskUsed      int64      `json:"diskUsedBytes"`
	IdleStoppedAt *time.Time `json:"idleStoppedAt"`
	WakeSocketPID int        `json:"wakeSocketPID"`
}

func status(t *testing.T, p *Project) statusJSON {
	t.Helper()
	var st statusJSON
	out := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status", "--json"))
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// activated is argv as `pixi run` starts it: in the project, after
// pixi-lima's activation script (env/activate.sh), with nothing else set.
func activated(p *Project, argv ...string) *exec.Cmd {
	script := filepath.Join(p.s.Src, "env", "activate.sh")
	cmd := p.Command("sh", append([]string{"-c", `. "$0"; exec "$@"`, script}, argv...)...)
	return replaceEnv(cmd, "PIXI_PROJECT_ROOT="+p.Root)
}

// countStarts counts the `limactl start` runs pixi-lima logged for the instance.
func countStarts(t *testing.T, p *Project, instance string) int {
	b, err := os.ReadFile(filepath.Join(p.Root, ".pixi", "pixi-lima", "log", instance+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return len(regexp.MustCompile(`(?m)^=== \S+ limactl --tty=false start `).FindAll(b, -1))
}

// concurrently runs every argv at once, as the test user, and returns each
// one's stderr and exit code.
func concurrently(t *testing.T, p *Project, argvs [][]string) ([]string, []int) {
	stderrs := make([]string, len(argvs))
	codes := make([]int, len(argvs))
	var wg sync.WaitGroup
	for i, argv := range argvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderrs[i], codes[i] = p.Run(t, p.Command(argv[0], argv[1:]...))
		}()
	}
	wg.Wait()
	return stderrs, codes
}

// killMidBoot stops the VM, starts `pixi-lima init`, kills something once
// the host agent is up (ha.pid written, boot under way), and checks that
// the next init recovers with the same disk and data.
func killMidBoot(t *testing.T, p *Project, instDir string, kill func(*exec.Cmd)) (next string) {
	p.MustRun(t, p.Command(p.Bin("pixi-lima"), "stop"))
	disk := filepath.Join(instDir, "diffdisk")
	before, err := os.Stat(disk)
	must(t, err)

	cmd := p.Command(p.Bin("pixi-lima"), "init")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(instDir, "ha.pid")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host agent never started:\n%s", stderr.String())
		}
	}
	kill(cmd)
	t.Logf("killed init: %v\n%s", cmd.Wait(), stderr.String())

	_, out, code := p.Run(t, p.Command(p.Bin("pixi-lima"), "init"))
	if code != 0 {
		t.Fatalf("the next init did not recover: exit %d\n%s", code, out)
	}
	t.Logf("the next init said:\n%s", out)
	after, err := os.Stat(disk)
	must(t, err)
	if !os.SameFile(before, after) || after.Size() < before.Size() {
		t.Errorf("the VM's disk was replaced or truncated: %v → %v", before, after)
	}
	if got := p.MustRun(t, p.Command(p.Bin("docker"), "run", "--rm", "-v", "e2e_keep:/vol", "e2e-busybox", "cat", "/vol/log")); got != "standalone\nplugin\n" {
		t.Errorf("the named volume holds %q after the recovery", got)
	}
	return out
}

// buildBusybox builds a FROM scratch image holding Debian's busybox-static,
// the only image this offline machine can have, and returns the build's
// progress output.
func buildBusybox(t *testing.T, p *Project, tag string) string {
	t.Helper()
	writeFile(t, p, "img/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n")
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	writeFileMode(t, p, "img/busybox", string(b), 0o755)
	_, stderr, code := p.Run(t, p.Command(p.Bin("docker"), "build", "--progress=plain", "-t", tag, filepath.Join(p.Root, "img")))
	if code != 0 {
		t.Fatalf("docker build: exit %d\n%s", code, stderr)
	}
	return stderr
}

func writeFile(t *testing.T, p *Project, rel, content string) {
	writeFileMode(t, p, rel, content, 0o644)
}

func writeFileMode(t *testing.T, p *Project, rel, content string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(p.Root, rel)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), mode))
	must(t, os.Chown(filepath.Dir(path), p.s.UID, p.s.GID))
	must(t, os.Chown(path, p.s.UID, p.s.GID))
}

// hostProcessWith says whether a process on this host has s in its command line.
func hostProcessWith(s string) bool {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			return true
		}
	}
	return false
}

// socketInContainer: a container given the VM's /var/run/docker.sock
// talks to the engine and sees itself, with a static docker CLI (the
// test machine's) as its only file.
func socketInContainer(t *testing.T, p *Project, name string) {
	t.Helper()
	cli := filepath.Join(p.Root, "cli")
	if _, err := os.Stat(filepath.Join(cli, "docker")); err != nil {
		must(t, os.MkdirAll(cli, 0o755))
		run(t, exec.Command("cp", realDocker(t), filepath.Join(cli, "docker")))
		writeFileMode(t, p, "cli/Dockerfile", "FROM scratch\nCOPY docker /docker\nENTRYPOINT [\"/docker\"]\n", 0o644)
		run(t, exec.Command("chown", "-R", p.s.User, cli))
	}
	// Once per engine: the rootful VM is a new one.
	if _, _, code := p.Run(t, p.Command(p.Bin("docker"), "image", "inspect", "e2e-docker-cli")); code != 0 {
		p.MustRun(t, p.Command(p.Bin("docker"), "build", "-q", "-t", "e2e-docker-cli", cli))
	}
	got := p.MustRun(t, p.Command(p.Bin("docker"), "run", "--rm", "--name", "in-"+name, "-v", "/var/run/docker.sock:/var/run/docker.sock",
		"e2e-docker-cli", "ps", "--format", "{{.Names}}"))
	if !strings.Contains(got, "in-"+name) {
		t.Errorf("docker ps through /var/run/docker.sock in a container (%s) lists %q, want itself", name, got)
	}
}

// guestConnects says whether a TCP connection to addr from the VM
// (outside any container) is "open" or "refused".
func guestConnects(t *testing.T, inGuest func(*testing.T, string) string, addr string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	return strings.TrimSpace(inGuest(t, fmt.Sprintf(`python3 -c 'import socket
try:
    socket.create_connection((%q, %s), 5); print("open")
except OSError:
    print("refused")'`, host, port)))
}

// stayStopped runs do, then checks that the VM is still stopped, and was
// never started, for the whole of d.
func stayStopped(t *testing.T, p *Project, instance string, starts int, d time.Duration, do func()) {
	t.Helper()
	do()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Second) {
		if st := status(t, p); st.State != "Stopped" && st.State != "Missing" {
			t.Fatalf("the VM went %s", st.State)
		}
	}
	if n := countStarts(t, p, instance) - starts; n != 0 {
		t.Errorf("the VM was started %d times", n)
	}
}

// connectAndClose is a probe or a port scanner on the socket: it connects,
// sends what it has, and hangs up without waiting for an answer.
func connectAndClose(t *testing.T, socket, send string) {
	t.Helper()
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to %s: %v", socket, err)
	}
	if send != "" {
		c.Write([]byte(send))
	}
	c.Close()
}

// rawRequest sends one HTTP/1.1 request on the unix socket and returns
// what comes back (the error's text if nothing does), 1xx lines included.
func rawRequest(socket, method, path, body string) string {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, len(body), body)
	c.SetReadDeadline(time.Now().Add(10 * time.Minute))
	b, err := io.ReadAll(c)
	if len(b) == 0 && err != nil {
		return err.Error()
	}
	if len(b) == 0 {
		return "EOF"
	}
	return string(b)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// syncBuffer is a strings.Builder that a running command writes into while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// poller is a dashboard's poll: one GET on the socket every period, each
// answer's body kept with the time it came.
type poller struct {
	mu      sync.Mutex
	answers []polled
	done    chan struct{}
}

type polled struct {
	at   time.Time
	body string
}

func startPoll(socket, path string, period time.Duration) *poller {
	p := &poller{done: make(chan struct{})}
	go func() {
		for {
			body := responseBody(rawRequest(socket, "GET", path, ""))
			p.mu.Lock()
			p.answers = append(p.answers, polled{time.Now(), body})
			p.mu.Unlock()
			select {
			case <-p.done:
				return
			case <-time.After(period):
			}
		}
	}()
	return p
}

func (p *poller) stop() { close(p.done) }

// since are the bodies of the answers that came after t.
func (p *poller) since(t time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, a := range p.answers {
		if a.at.After(t) {
			out = append(out, a.body)
		}
	}
	return out
}

// responseBody is the body of a 200 answer that rawRequest returned, or the
// whole answer if it is something else.
func responseBody(answer string) string {
	r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(answer)), nil)
	if err != nil || r.StatusCode != http.StatusOK {
		return answer
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return answer
	}
	return string(body)
}

// containerStates are the name, state and id of each container that a
// GET /containers/json answered, a line each, sorted.
func containerStates(t *testing.T, body string) string {
	var list []struct {
		Id    string
		Names []string
		State string
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("a container list: %v\n%s", err, body)
	}
	var lines []string
	for _, c := range list {
		lines = append(lines, fmt.Sprintf("%s %s %s", strings.Join(c.Names, ","), c.State, c.Id))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
