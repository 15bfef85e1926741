package shim

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
)

// cmdPrune removes what Docker no longer needs and gives the space back to
// the host: the VM's disk only grows until the guest trims its file
// system, which QEMU (discard=on) turns into holes in the disk file. Like
// `docker system prune`, it asks before it removes stopped containers,
// whose writable layers may be all a stopped database has.
func (s *session) cmdPrune(args []string) error {
	var volumes, force bool
	if err := s.flags("prune", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&volumes, "volumes", false, "also remove every volume no container uses (asks first)")
		fs.BoolVar(&force, "force", false, "do not ask: remove stopped containers (and with --volumes, volumes) too")
	}); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	return p.engine.prune(volumes, force)
}

func (e vmEngine) prune(volumes, force bool) error {
	s, p := e.s, e.p
	docker, err := s.findTool(nameDocker)
	if err != nil {
		return err
	}
	m, err := s.manager(p)
	if err != nil {
		return err
	}
	if volumes && !force {
		if err := s.confirm(fmt.Sprintf("Remove every volume of VM %q that no container uses, with its data?", p.config.Name),
			"not pruning volumes without confirmation", "pixi-lima prune --volumes --force"); err != nil {
			return err
		}
	}
	ctx := context.Background()
	if err := m.Ensure(ctx, lima.Request{By: "pixi-lima prune"}); err != nil {
		return err
	}
	begin := time.Now()
	dir := p.paths.InstanceDir(p.config.Name)
	before := lima.DiskUsage(dir)
	environ := env.Build(s.environ, env.DockerOverrides(p.paths, p.config.Name))
	var steps [][]string
	stopped, err := stoppedContainers(ctx, docker, environ)
	if err != nil {
		return err
	}
	if len(stopped) > 0 && (force || s.confirmStopped(stopped)) {
		steps = append(steps, []string{"container", "prune", "-f"})
	} else if len(stopped) > 0 {
		s.printf("kept %d stopped containers (%s) and what they wrote: pixi-lima prune --force removes them",
			len(stopped), strings.Join(stopped, ", "))
	}
	steps = append(steps, []string{"image", "prune", "-f"}, []string{"builder", "prune", "-f"})
	if volumes {
		steps = append(steps, []string{"volume", "prune", "-a", "-f"})
	}
	for _, step := range steps {
		s.printf("docker %s", strings.Join(step, " "))
		cmd := exec.CommandContext(ctx, docker, step...)
		cmd.Env, cmd.Stdout, cmd.Stderr = environ, s.stdout, s.stderr
		if err := cmd.Run(); err != nil {
			return &Error{Code: ExitFailed, Msg: fmt.Sprintf("docker %s: %v", strings.Join(step, " "), err)}
		}
	}
	if err := m.Trim(ctx); err != nil {
		e := asError(err)
		e.Msg = "docker's data was pruned, but the guest's disk was not trimmed, so the host did not get the space back: " + e.Msg
		e.Hint = "pixi-lima status shows the VM's state; after pixi-lima restart, pixi-lima prune trims"
		return e
	}
	after := lima.DiskUsage(dir)
	fmt.Fprintf(s.stdout, "freed %s on the host (the VM's disk: %s → %s) in %s\n",
		units.BytesSize(float64(max(before-after, 0))), units.BytesSize(float64(before)), units.BytesSize(float64(after)),
		time.Since(begin).Round(100*time.Millisecond))
	return nil
}

// stoppedContainers names the containers that `docker container prune`
// would remove.
func stoppedContainers(ctx context.Context, docker string, environ []string) ([]string, error) {
	cmd := exec.CommandContext(ctx, docker, "container", "ls", "--all", "--format", "{{.Names}}",
		"--filter", "status=created", "--filter", "status=exited", "--filter", "status=dead")
	cmd.Env = environ
	out, err := cmd.Output()
	if err != nil {
		return nil, &Error{Code: ExitFailed, Msg: fmt.Sprintf("docker container ls: %v", err)}
	}
	return strings.Fields(string(out)), nil
}

// confirmStopped asks on a terminal whether stopped containers go too;
// anywhere else the answer is no.
func (s *session) confirmStopped(names []string) bool {
	if !isTerminal(s.stdin) {
		return false
	}
	return s.confirm(fmt.Sprintf("Remove %d stopped containers (%s), with what they wrote?", len(names), strings.Join(names, ", ")),
		"", "") == nil
}

// confirm asks for "yes" on a terminal and refuses anywhere else.
func (s *session) confirm(question, refusal, hint string) error {
	if !isTerminal(s.stdin) {
		return &Error{Code: ExitRefused, Msg: refusal, Hint: hint}
	}
	fmt.Fprintf(s.stderr, "%s\nType yes to go on: ", question)
	answer, _ := bufio.NewReader(s.stdin).ReadString('\n')
	if a := strings.TrimSpace(strings.ToLower(answer)); a != "yes" && a != "y" {
		return &Error{Code: ExitRefused, Msg: "nothing done: the answer was not yes", Hint: hint}
	}
	return nil
}
