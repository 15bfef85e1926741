package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// sshTimeout bounds every call pixi-lima makes to the remote: a host that
// drops packets, or an ssh that waits for something, must not hang status
// or doctor.
const sshTimeout = 10 * time.Second

// sshEngine is engine = "ssh://[user@]host[:port]": docker and Compose
// reach it themselves (docker's connection helper runs `ssh … docker system
// dial-stdio`), so pixi-lima only points them at it, says whether it
// answers (status) and checks what ssh needs (doctor).
type sshEngine struct{ noVM }

func newSSH(s *session, p *project) engine { return sshEngine{noVM{s, p}} }

func (e sshEngine) docker() env.Overrides {
	return env.SSHEngineOverrides(e.p.paths, e.p.config.Engine)
}

func (e sshEngine) clients() (map[string]string, string) {
	return env.ClientVars(e.p.config.Engine, false), ""
}

func (e sshEngine) start() error {
	e.s.printf("engine = %q: docker uses that remote engine, no VM to start (pixi-lima status says whether it answers)", e.p.config.Engine)
	return nil
}

// remove deletes only a VM engine = "lima" left here. Without one it
// refuses (exit 4), as delete does whenever it deletes nothing: a script's
// `delete --force` expects the project's containers, images and volumes
// gone, and the remote engine holds them among others'.
func (e sshEngine) remove(force bool) error {
	if vm, _ := e.leftover(); vm != nil {
		if err := e.noVM.remove(force); err != nil {
			return err
		}
		e.s.printf("deleted only the VM left in this project; nothing on %s (its containers, volumes and images stay)", e.p.config.Engine)
		return nil
	}
	return &Error{Code: ExitRefused,
		Msg:  fmt.Sprintf("engine = %q: there is no VM to delete, and pixi-lima deletes nothing on a remote engine", e.p.config.Engine),
		Hint: "remove the project's containers, volumes and images there with docker (docker compose down -v --rmi local); to use a VM again, remove engine from [tool.pixi-lima]"}
}

// status asks the remote engine for its version: that is how it knows the
// engine answers.
func (e sshEngine) status(st *status) {
	st.State, st.Socket = "Remote", e.p.config.Engine
	v, err := e.s.remoteVersion(e.p)
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
	st.ServerVersion, st.DockerAnswers = v, err == nil
	e.statusLeftover(st)
}

func (e sshEngine) describe(w io.Writer, st status) {
	answers := "not answering"
	if st.DockerAnswers {
		answers = "answers, Docker " + st.ServerVersion
	}
	fmt.Fprintf(w, "engine:    ssh (a remote Docker engine; no VM)\ndocker:    %s (%s)\n", st.Socket, answers)
	describeLeftover(w, st)
	for _, problem := range st.Problems {
		fmt.Fprintf(w, "problem:   %s\n", problem)
	}
}

func (e sshEngine) checks() (before, after []check) {
	leftover := e.checkLeftover()
	if leftover.Warning {
		leftover.Fix += "; it deletes nothing on " + e.p.config.Engine
	}
	return nil, append(e.s.checkSSH(e.p), leftover)
}

// remoteVersion asks the engine's host for its engine's version over ssh,
// the way docker's ssh helper reaches it (see runSSH). Not through docker
// itself: docker's ssh cannot be told BatchMode, so with a wrong key it
// sends empty passwords to a server that allows them, and fails only after
// the server's delays (8 s and more a call with Debian's PAM), where this
// fails at once with ssh's reason.
func (s *session) remoteVersion(p *project) (string, error) {
	u, _ := url.Parse(p.config.Engine) // settings.Load checked it
	ssh, ok := fastpath.FindReal("ssh", s.getenv("PATH"), nil)
	if !ok {
		return "", fmt.Errorf("ssh is not on PATH: docker runs it to reach %s", p.config.Engine)
	}
	out, stderr, code := s.runSSH(ssh, u, remoteVersionCommand)
	if code != 0 {
		return "", fmt.Errorf("%s does not answer: %s", p.config.Engine, oneLine(stderr, nil))
	}
	return strings.TrimSpace(out), nil
}

// remoteVersionCommand is run on the engine's host: its docker, found by
// name as `docker system dial-stdio` is, asks its engine.
const remoteVersionCommand = "docker version --format '{{.Server.Version}}'"

// checkSSH is doctor's part for the ssh engine: ssh is there, it logs in
// without asking anything (docker's ssh cannot answer a prompt), the remote
// runs docker, and what bind mounts mean there.
func (s *session) checkSSH(p *project) []check {
	u, _ := url.Parse(p.config.Engine) // settings.Load checked it
	by := sshCommandLine(u)
	ssh, ok := fastpath.FindReal("ssh", s.getenv("PATH"), nil)
	if !ok {
		return []check{{Name: "ssh", Detail: "ssh is not on PATH: docker runs it to reach " + p.config.Engine,
			Fix: "install OpenSSH's client (sudo apt-get install openssh-client on Debian and Ubuntu)"}}
	}
	checks := []check{{Name: "ssh", OK: true, Detail: ssh}}
	_, stderr, code := s.runSSH(ssh, u, "true")
	if code != 0 {
		return append(checks, check{Name: "ssh-login",
			Detail: fmt.Sprintf("%s true, without prompts (BatchMode), failed: %s", by, oneLine(stderr, nil)),
			Fix:    sshFix(stderr, u, by)})
	}
	checks = append(checks, check{Name: "ssh-login", OK: true, Detail: by + " logs in without a prompt"})
	out, stderr, code := s.runSSH(ssh, u, remoteVersionCommand)
	host := u.Hostname()
	switch code {
	case 0:
		checks = append(checks, check{Name: "remote-docker", OK: true,
			Detail: fmt.Sprintf("docker on %s reaches its engine, Docker %s", host, strings.TrimSpace(out))})
	case 127:
		checks = append(checks, check{Name: "remote-docker",
			Detail: fmt.Sprintf("%s finds no docker (%s): docker's ssh helper runs `docker system dial-stdio` there by name", host, oneLine(stderr, nil)),
			Fix:    fmt.Sprintf("install docker on %s, or put it on the PATH of non-interactive ssh sessions (they read no ~/.profile); %s docker version shows it", host, by)})
	case 255:
		checks = append(checks, check{Name: "remote-docker", Detail: by + " failed: " + oneLine(stderr, nil), Fix: sshFix(stderr, u, by)})
	default:
		who := "your user"
		if u.User != nil {
			who = u.User.Username()
		}
		checks = append(checks, check{Name: "remote-docker",
			Detail: fmt.Sprintf("docker on %s does not reach its engine: %s", host, oneLine(stderr, nil)),
			Fix:    fmt.Sprintf("start the Docker engine on %s, or let %s use it there (sudo usermod -aG docker %s, then log in again)", host, who, who)})
	}
	return append(checks, check{Name: "bind-mounts", OK: true, Warning: true,
		Detail: fmt.Sprintf("the engine runs on %s: a bind mount (-v ./dir:/dir, compose volumes: ./dir) names a directory on %s, not here; it is empty or missing there unless %s has it at the same path", host, host, host),
		Fix:    "copy files in with the image (COPY in a Dockerfile) or docker cp, and keep data in named volumes"})
}

// runSSH runs command on the engine's host as docker's ssh helper would
// (-l, -p, the host after --), but with BatchMode: where docker's ssh would
// wait for a password or a host key answer, this fails at once.
func (s *session) runSSH(ssh string, u *url.URL, command string) (stdout, stderr string, code int) {
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-T"}
	if u.User != nil {
		args = append(args, "-l", u.User.Username())
	}
	if u.Port() != "" {
		args = append(args, "-p", u.Port())
	}
	ctx, cancel := context.WithTimeout(context.Background(), sshTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ssh, append(args, "--", u.Hostname(), command)...)
	cmd.Env = s.environ // the user's ssh-agent (SSH_AUTH_SOCK) counts
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return out.String(), fmt.Sprintf("no answer within %s", sshTimeout), 255
	case errors.As(err, &exit):
		return out.String(), errs.String(), exit.ExitCode()
	case err != nil:
		return out.String(), err.Error(), 255
	}
	return out.String(), errs.String(), 0
}

// sshFix is the next step for what ssh said when it failed.
func sshFix(stderr string, u *url.URL, by string) string {
	dest := strings.TrimPrefix(by, "ssh ")
	switch {
	case strings.Contains(stderr, "Permission denied"):
		return fmt.Sprintf("let your key log in without a prompt: ssh-copy-id %s (then ssh-add if the key has a passphrase); "+
			"BatchMode yes for this host in ~/.ssh/config makes docker fail at once, not after password tries it cannot answer", dest)
	case strings.Contains(stderr, "Host key verification failed"), strings.Contains(stderr, "HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Sprintf("ssh does not trust %s's host key: run %s once and check and accept the key it shows", u.Hostname(), by)
	case strings.Contains(stderr, "Connection refused"), strings.Contains(stderr, "timed out"),
		strings.Contains(stderr, "Could not resolve"), strings.Contains(stderr, "No route to host"), strings.Contains(stderr, "no answer within"):
		return "nothing answers ssh there: check the host and port in [tool.pixi-lima] engine, and that sshd runs on it"
	}
	return by + " shows what ssh needs"
}

// sshCommandLine is how a user reaches the engine's host by hand.
func sshCommandLine(u *url.URL) string {
	line := "ssh "
	if u.Port() != "" {
		line += "-p " + u.Port() + " "
	}
	if u.User != nil {
		line += u.User.Username() + "@"
	}
	return line + u.Hostname()
}

// oneLine is a tool's stderr as one line for a message; err when it said nothing.
func oneLine(stderr string, err error) string {
	stderr = strings.Join(strings.Fields(stderr), " ")
	if stderr == "" && err != nil {
		return err.Error()
	}
	return stderr
}
