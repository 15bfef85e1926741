package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The pass-through against a real engine: Debian's dockerd, started as root
// and listening directly on the path where Lima forwards the VM's socket,
// driven through the project's .pixi/bin/docker and docker-compose as the
// test user with the real docker CLI and the real Compose v2. The shim's
// fast path (the engine answers) is what runs here; no VM is involved.

func TestDockerd(t *testing.T) {
	p, sock := dockerdProject(t, "dk")
	docker := func(args ...string) *exec.Cmd { return p.Command(p.Bin("docker"), args...) }

	// The user's own engine selection is in the environment on every call
	// below, and must lose: DOCKER_CONTEXT would make the real docker fail
	// ("context not found"), DOCKER_HOST would reach nothing.
	userEnv := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Env = append(cmd.Env, "DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_CONTEXT=mine")
		return cmd
	}

	t.Run("version", func(t *testing.T) {
		stdout, stderr, code := p.Run(t, userEnv(docker("version", "--format", "{{.Server.Version}} {{.Client.Version}}")))
		if code != 0 || stderr != "" || len(strings.Fields(stdout)) != 2 {
			t.Fatalf("docker version: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		stdout, stderr, code = p.Run(t, userEnv(docker("version")))
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Server:") || !strings.Contains(stdout, "Engine:") {
			t.Errorf("docker version: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		// The context docker used is the project's socket.
		stdout = p.MustRun(t, userEnv(docker("context", "inspect", "--format", "{{.Endpoints.docker.Host}}")))
		if want := "unix://" + sock + "\n"; stdout != want {
			t.Errorf("docker's endpoint = %q, want %q", stdout, want)
		}
	})

	// A FROM scratch image with busybox-static: the build runs a container
	// (RUN), so the engine does real work, offline.
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed (tests/setup.sh installs busybox-static)")
	}
	ctx := filepath.Join(p.Root, "img")
	p.MustRun(t, p.Command("mkdir", "-p", ctx, filepath.Join(p.Root, "data")))
	p.MustRun(t, p.Command("cp", bb, filepath.Join(ctx, "busybox")))
	p.MustRun(t, p.Command("sh", "-c", `printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > img/Dockerfile`))

	t.Run("build", func(t *testing.T) {
		// BuildKit runs RUN in the default network, and this engine has
		// none (startDockerd leaves the host's networking alone).
		stdout, stderr, code := p.Run(t, userEnv(docker("build", "-q", "--network=none", "-t", "pltest/bb", "img")))
		if code != 0 || !strings.HasPrefix(stdout, "sha256:") {
			t.Fatalf("docker build: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})

	t.Run("run", func(t *testing.T) {
		stdout, stderr, code := p.Run(t, userEnv(docker("run", "--rm", "--network=none", "pltest/bb", "echo", "hello from busybox")))
		// stdout is the container's and nothing else; on the fast path the
		// shim says nothing at all.
		if code != 0 || stdout != "hello from busybox\n" || stderr != "" {
			t.Errorf("docker run: exit %d\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
		stdout, stderr, code = p.Run(t, userEnv(docker("run", "--rm", "--network=none", "pltest/bb", "sh", "-c", "echo out; echo err >&2; exit 7")))
		if code != 7 || stdout != "out\n" || stderr != "err\n" {
			t.Errorf("failing container: exit %d (want 7)\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
		// docker's own errors pass through too, with docker's exit code.
		_, stderr, code = p.Run(t, docker("run", "--rm", "pltest/no-such-image-here:x"))
		if code != 125 || strings.Contains(stderr, "pixi-lima") {
			t.Errorf("docker run of a missing image: exit %d (want docker's 125)\nstderr: %s", code, stderr)
		}
	})

	// The wake socket, DOCKER_HOST of clients that never call the shim,
	// passes the API through byte for byte: the real docker CLI there, an
	// attached container's stdin included, whose end must reach the
	// container while its output still comes back.
	t.Run("wake socket", func(t *testing.T) {
		wake := filepath.Join(p.Root, ".pixi", "pixi-lima", "docker.sock")
		cmd := replaceEnv(p.Command("/usr/bin/docker", "run", "-i", "--rm", "--network=none", "pltest/bb", "sh", "-c", "wc -c; echo done"),
			"DOCKER_HOST=unix://"+wake)
		cmd.Stdin = strings.NewReader("twelve bytes")
		if stdout, stderr, code := p.Run(t, cmd); code != 0 || strings.Join(strings.Fields(stdout), " ") != "12 done" {
			t.Errorf("docker run -i through the wake socket: exit %d\nstdout: %q\nstderr: %s", code, stdout, stderr)
		}
		st := p.MustRun(t, p.Command(p.Bin("pixi-lima"), "status"))
		if !strings.Contains(st, "wake:      unix://"+wake+" (pid ") {
			t.Errorf("status does not show the wake socket served:\n%s", st)
		}
	})

	compose := `services:
  writer:
    image: pltest/bb
    network_mode: none
    command: ["sh", "-c", "echo run >> /data/out.txt && echo kept >> /vol/v.txt && wc -l < /vol/v.txt"]
    volumes:
      - ./data:/data
      - vol:/vol
volumes:
  vol: {}
`
	must(t, os.WriteFile(filepath.Join(p.Root, "compose.yaml"), []byte(compose), 0o644))

	for i, form := range [][]string{{"docker-compose"}, {"docker", "compose"}} {
		t.Run(strings.Join(form, " "), func(t *testing.T) {
			c := func(args ...string) *exec.Cmd {
				return userEnv(p.Command(p.Bin(form[0]), append(form[1:], args...)...))
			}
			stdout, stderr, code := p.Run(t, c("-p", "pltest", "up", "--no-color"))
			if code != 0 {
				t.Fatalf("%s up: exit %d\nstdout: %s\nstderr: %s", form, code, stdout, stderr)
			}
			if strings.Contains(stderr, "pixi-lima") {
				t.Errorf("%s up: the shim spoke on the fast path: %s", form, stderr)
			}
			// The bind mount is the project's own directory, written through.
			data, err := os.ReadFile(filepath.Join(p.Root, "data", "out.txt"))
			if err != nil || string(data) != strings.Repeat("run\n", i+1) {
				t.Errorf("data/out.txt = %q, %v; want %d lines written by the container", data, err, i+1)
			}
			if !strings.Contains(stdout, "writer-1  | 1") {
				t.Errorf("the named volume was not fresh:\n%s", stdout)
			}
			stdout = p.MustRun(t, userEnv(docker("volume", "ls", "--format", "{{.Name}}")))
			if stdout != "pltest_vol\n" {
				t.Errorf("volumes after up: %q, want pltest_vol", stdout)
			}
			p.MustRun(t, c("-p", "pltest", "down", "-v"))
			if stdout := p.MustRun(t, userEnv(docker("volume", "ls", "-q"))); stdout != "" {
				t.Errorf("volumes after down -v: %q", stdout)
			}
			if stdout := p.MustRun(t, userEnv(docker("ps", "-aq"))); stdout != "" {
				t.Errorf("containers after down: %q", stdout)
			}
		})
	}
}
