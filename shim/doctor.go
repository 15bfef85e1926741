package shim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// check is one finding of `pixi-lima doctor`. A warning is ok (nothing is
// broken) but worth knowing, such as a VM that will run without KVM.
type check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Warning bool   `json:"warning,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// minFreeDisk is the least free space for creating a VM: Lima copies the
// guest image (about 600 MiB for Ubuntu's) and the first boot grows the disk.
const minFreeDisk = 2 << 30

func (s *session) cmdDoctor(args []string) error {
	var asJSON bool
	if err := s.flags("doctor", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	checks := s.doctor()
	var failed []string
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	if asJSON {
		enc := json.NewEncoder(s.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{len(failed) == 0, checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			word := "ok"
			if !c.OK {
				word = "problem"
			} else if c.Warning {
				word = "warning"
			}
			fmt.Fprintf(s.stdout, "%-8s %s: %s\n", word, c.Name, c.Detail)
			if c.Fix != "" && (!c.OK || c.Warning) {
				fmt.Fprintf(s.stdout, "%-8s fix: %s\n", "", c.Fix)
			}
		}
	}
	if len(failed) > 0 {
		return &Error{Code: ExitFailed, Msg: fmt.Sprintf("doctor found %d problem(s): %s", len(failed), strings.Join(failed, ", ")),
			Hint: "run the fix shown under each problem, then pixi-lima doctor again"}
	}
	return nil
}

// doctor runs every check. It reads files, runs `limactl --version` and
// asks a running guest (limactl shell),
// never anything that creates, starts or stops a VM, and it works as root:
// root is one problem among the others.
func (s *session) doctor() []check {
	var checks []check
	add := func(c check) { checks = append(checks, c) }

	p, err := s.loadProject()
	if err != nil {
		// No project, so no engine: the checks of the default one, the VM.
		e := asError(err)
		add(checkUser())
		add(check{Name: "project", Detail: e.Msg, Fix: e.Hint})
		checks = append(checks, s.checkHypervisor(lima.ThisHost(), lima.Guest{})...)
		add(s.checkTool(nameDocker))
		add(s.checkTool(nameCompose))
		return checks
	}
	before, after := p.engine.checks()
	add(p.engine.user())
	add(check{Name: "project", OK: true,
		Detail: fmt.Sprintf("%s (instance %s, engine %s)", p.paths.Root, p.config.Name, p.config.Engine)})
	add(checkPaths(p))
	checks = append(checks, before...)
	add(s.checkTool(nameDocker))
	add(s.checkTool(nameCompose))
	add(checkComposePlugin(p))
	add(s.checkCredentials(p))
	add(s.checkPathOrder(p))
	return append(checks, after...)
}

// checks are the VM's: what limactl and the hypervisor need before, and
// the instance itself after the client tools.
func (e vmEngine) checks() (before, after []check) {
	s, p := e.s, e.p
	before = []check{checkSocketBudget(p), s.checkLimactl(p), checkMounts(p)}
	h, g := lima.ThisHost(), guestOf(p)
	before = append(before, checkRosetta(p.config, h, g))
	before = append(before, s.checkHypervisor(h, g)...)
	return before, append(s.checkInstance(p), checkWakeSocket(p), s.checkGuestTrust(p))
}

func (e vmEngine) user() check { return checkUser() }

func checkUser() check {
	name := strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil {
		name = u.Username + " (uid " + u.Uid + ")"
	}
	if os.Geteuid() == 0 {
		return check{Name: "user", Detail: "running as root: limactl refuses to run as root, so the VM cannot be managed",
			Fix: "run pixi-lima as your normal user; on a Linux host that runs Docker, PIXI_LIMA_ENGINE=host uses its engine instead"}
	}
	return check{Name: "user", OK: true, Detail: "running as " + name}
}

// checkPaths: .pixi must be ours to write, and install.sh must have run.
func checkPaths(p *project) check {
	pixi := filepath.Join(p.paths.Root, ".pixi")
	for _, dir := range []string{pixi, p.paths.LimaHome, p.paths.DockerConfig} {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) && dir != pixi {
			continue // created on first use
		}
		if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
			return check{Name: "paths", Detail: fmt.Sprintf("%s is not writable: %v", dir, err),
				Fix: fmt.Sprintf("sudo chown -R \"$(id -un)\" %s", pixi)}
		}
	}
	shim := filepath.Join(p.paths.Bin, "pixi-lima")
	if _, err := os.Stat(shim); err != nil {
		return check{Name: "paths", Detail: fmt.Sprintf("%s is missing: pixi-lima is not installed in this project", shim),
			Fix: "./install.sh " + p.paths.Root + " (or: pixi run install)"}
	}
	return check{Name: "paths", OK: true, Detail: fmt.Sprintf("%s is writable; LIMA_HOME %s, DOCKER_CONFIG %s", pixi, p.paths.LimaHome, p.paths.DockerConfig)}
}

func checkSocketBudget(p *project) check {
	path := env.LongestSocket(p.paths.LimaHome, p.config.Name)
	limit := env.SocketLimit(runtime.GOOS)
	if len(path) >= limit {
		return check{Name: "socket-path",
			Detail: fmt.Sprintf("Lima's longest socket path is %d bytes, it must be shorter than %d on %s: %s", len(path), limit, runtime.GOOS, path),
			Fix: fmt.Sprintf("set a shorter instance name ([tool.pixi-lima] name = \"...\", %d bytes too long), or move the project to a shorter path",
				len(path)-limit+1)}
	}
	return check{Name: "socket-path", OK: true,
		Detail: fmt.Sprintf("Lima's longest socket path is %d of at most %d bytes (%d to spare)", len(path), limit-1, limit-1-len(path))}
}

// checkMounts: an extra mount this machine lacks (a shared pixi.toml's
// ~/datasets) is left out of the VM rather than stopping it.
func checkMounts(p *project) check {
	c := p.config
	if n := len(c.MissingMounts); n > 0 {
		what, it := c.MissingMounts[0]+" does", "it"
		if n > 1 {
			what, it = strings.Join(c.MissingMounts, ", ")+" do", "them"
		}
		return check{Name: "mounts", OK: true, Warning: true,
			Detail: what + " not exist on this machine: the VM runs without " + it, Fix: "create " + it + ", then pixi-lima restart"}
	}
	dirs := []string{p.paths.Root}
	for _, m := range c.Mounts {
		dirs = append(dirs, m.Location)
	}
	return check{Name: "mounts", OK: true, Detail: "each exists on this machine: " + strings.Join(dirs, ", ")}
}

func (s *session) checkLimactl(p *project) check {
	path, err := s.limactlPath(p)
	if err != nil {
		e := asError(err)
		return check{Name: "limactl", Detail: e.Msg, Fix: e.Hint}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return check{Name: "limactl", Detail: fmt.Sprintf("%s --version failed: %v", path, err),
			Fix: "./install.sh " + p.paths.Root + " rebuilds it"}
	}
	got := strings.TrimPrefix(strings.TrimSpace(string(out)), "limactl version ")
	want := strings.TrimPrefix(pinnedLima(), "v")
	if got != want {
		return check{Name: "limactl", Detail: fmt.Sprintf("%s is Lima %s; pixi-lima is built and tested with Lima %s", path, got, want),
			Fix: "unset LIMACTL, then ./install.sh " + p.paths.Root + " builds the pinned one"}
	}
	c := check{Name: "limactl", OK: true, Detail: fmt.Sprintf("%s, Lima %s as pinned", path, got)}
	return c.and(checkShare(path, p.config.Template))
}

// and merges a follow-up finding into c: the first problem wins.
func (c check) and(next check) check {
	if !c.OK {
		return c
	}
	if !next.OK {
		next.Name = c.Name
		return next
	}
	c.Detail += "; " + next.Detail
	return c
}

// checkShare: the guest agent and templates limactl will look for.
func checkShare(limactl, template string) check {
	share := lima.ShareDir(limactl)
	agent, ok := lima.GuestAgent(share)
	if !ok {
		return check{Detail: "the guest agent " + agent + " is missing", Fix: "./install.sh builds it"}
	}
	if name, ok := strings.CutPrefix(template, "template://"); ok {
		file := filepath.Join(share, "templates", name+".yaml")
		if _, err := os.Stat(file); err != nil {
			return check{Detail: "the template " + template + " is missing: " + file + " does not exist",
				Fix: "./install.sh copies Lima's templates; or set [tool.pixi-lima] template to one that exists"}
		}
	}
	return check{OK: true, Detail: "guest agent and templates in " + share}
}

// guestOf is what decides the project's VM type: its settings and
// template, and the instance's own type once it exists.
func guestOf(p *project) lima.Guest {
	g := lima.GuestOf(p.config, p.paths.LimaHome)
	if inst, err := lima.Inspect(p.paths, p.config.Name); err == nil && inst != nil {
		g.Existing = string(inst.VMType)
	}
	return g
}

// checkRosetta: rosetta = true where it cannot work, said before a start
// refuses it (lima.CheckRosetta); otherwise whether the VM has Rosetta and
// why, a warning where a Mac could have it.
func checkRosetta(c settings.Config, h lima.Host, g lima.Guest) check {
	var re *lima.RosettaError
	if err := lima.CheckRosetta(c, h, g); errors.As(err, &re) {
		return check{Name: "rosetta", Detail: re.Error(), Fix: lima.RosettaHint}
	}
	st := lima.RosettaFor(c, h, g)
	return check{Name: "rosetta", OK: true, Warning: st.Fix != "", Detail: st.Why, Fix: st.Fix}
}

// checkHypervisor checks what runs the VM of the type Lima will choose.
func (s *session) checkHypervisor(h lima.Host, g lima.Guest) []check {
	vmType, why := lima.ResolveVMType(g)
	if vmType != lima.QEMU {
		switch {
		case vmType != lima.VZ:
			return []check{{Name: "hypervisor", OK: true, Detail: vmType + " (" + why + ")"}}
		case h.OS != "darwin":
			return []check{{Name: "hypervisor", Detail: "vm-type vz needs macOS", Fix: "remove vm-type from [tool.pixi-lima] (Lima uses QEMU here)"}}
		case h.MacOS != "" && !h.MacOSAtLeast(13, 0):
			// The vz driver's Validate: "VZ driver requires macOS 13 or higher".
			return []check{{Name: "hypervisor", Detail: "vz needs macOS 13 or newer, this is macOS " + h.MacOS,
				Fix: "set [tool.pixi-lima] vm-type = \"qemu\" and brew install qemu"}}
		}
		return []check{{Name: "hypervisor", OK: true, Detail: "Apple's Virtualization.framework (vz: " + why + ")"}}
	}
	var found []string
	for _, err := range []error{lima.CheckQEMUImg(vmType), lima.CheckQEMUSystem(vmType, s.getenv)} {
		var missing *lima.MissingToolError
		if errors.As(err, &missing) {
			return []check{{Name: "hypervisor", Detail: missing.Error(), Fix: missing.Install}}
		}
	}
	for _, tool := range []string{"qemu-img", lima.QEMUSystem(s.getenv)} {
		path, _ := exec.LookPath(tool)
		found = append(found, path)
	}
	checks := []check{{Name: "hypervisor", OK: true, Detail: "QEMU (" + why + "): " + strings.Join(found, ", ")}}
	if h.OS == "linux" {
		if ok, why := lima.KVM(); ok {
			checks = append(checks, check{Name: "kvm", OK: true, Detail: why})
		} else {
			checks = append(checks, check{Name: "kvm", OK: true, Warning: true,
				Detail: "KVM is not usable (" + why + "): the VM will run emulated, many times slower", Fix: lima.KVMFix()})
		}
	}
	return checks
}

func (s *session) checkTool(tool string) check {
	real, err := s.findTool(tool)
	if err != nil {
		e := asError(err)
		return check{Name: tool, Detail: e.Msg, Fix: e.Hint}
	}
	return check{Name: tool, OK: true, Detail: real}
}

// checkComposePlugin: `docker compose` finds Compose through the link
// install.sh puts in DOCKER_CONFIG/cli-plugins.
func checkComposePlugin(p *project) check {
	link := filepath.Join(p.paths.DockerConfig, "cli-plugins", "docker-compose")
	info, err := os.Stat(link)
	if err != nil || info.Mode()&0o111 == 0 {
		why := "is missing"
		if _, lerr := os.Lstat(link); lerr == nil {
			why = "does not lead to an executable"
		}
		return check{Name: "compose-plugin", Detail: fmt.Sprintf("%s %s: `docker compose` will not work", link, why),
			Fix: "./install.sh " + p.paths.Root + " relinks it"}
	}
	return check{Name: "compose-plugin", OK: true, Detail: link}
}

// checkCredentials: a credsStore or credHelpers entry naming a helper that
// is not installed makes every pull and login fail with a cryptic error.
func (s *session) checkCredentials(p *project) check {
	file := filepath.Join(p.paths.DockerConfig, "config.json")
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return check{Name: "credentials", OK: true, Detail: "no " + file + ": credentials are kept in the file when you log in"}
	}
	if err != nil {
		return check{Name: "credentials", Detail: err.Error(), Fix: "sudo chown -R \"$(id -un)\" " + p.paths.DockerConfig}
	}
	var cfg struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return check{Name: "credentials", Detail: file + " is not valid JSON: " + err.Error(), Fix: "fix or remove " + file}
	}
	helpers := map[string]string{}
	if cfg.CredsStore != "" {
		helpers[cfg.CredsStore] = `"credsStore"`
	}
	for registry, h := range cfg.CredHelpers {
		helpers[h] = fmt.Sprintf(`"credHelpers" for %s`, registry)
	}
	var found []string
	for h, where := range helpers {
		bin := "docker-credential-" + h
		path, ok := fastpath.FindReal(bin, s.getenv("PATH"), nil)
		if !ok {
			return check{Name: "credentials", Detail: fmt.Sprintf("%s in %s names %s, which is not on PATH: pulls and logins will fail", where, file, bin),
				Fix: fmt.Sprintf("install %s, or remove %s from %s", bin, where, file)}
		}
		found = append(found, path)
	}
	if len(found) == 0 {
		return check{Name: "credentials", OK: true, Detail: file + " has no credential helper"}
	}
	return check{Name: "credentials", OK: true, Detail: "helpers found: " + strings.Join(found, ", ")}
}

// checkPathOrder: the first docker on PATH decides which repo a plain
// `docker` acts on. Another repo's shim there acts on that repo's VM.
func (s *session) checkPathOrder(p *project) check {
	ours, _ := filepath.EvalSymlinks(filepath.Join(p.paths.Bin, nameDocker))
	for _, dir := range filepath.SplitList(s.getenv("PATH")) {
		candidate := filepath.Join(dir, nameDocker)
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			continue
		}
		real, _ := filepath.EvalSymlinks(candidate)
		switch {
		case ours != "" && real == ours:
			return check{Name: "path-order", OK: true, Detail: "`docker` on PATH is this project's shim, " + candidate}
		case fastpath.IsPixiLima(candidate):
			return check{Name: "path-order",
				Detail: fmt.Sprintf("the first docker on PATH is %s, another repo's pixi-lima (%s): a plain `docker` acts on that repo's VM", candidate, real),
				Fix:    fmt.Sprintf("put this project's shims first: export PATH=%s:$PATH (pixi shell does this)", p.paths.Bin)}
		default:
			return check{Name: "path-order", OK: true, Warning: true,
				Detail: fmt.Sprintf("the first docker on PATH is %s, not this project's shim: a plain `docker` does not use the project's VM", candidate),
				Fix:    fmt.Sprintf("pixi shell, or export PATH=%s:$PATH", p.paths.Bin)}
		}
	}
	return check{Name: "path-order", OK: true, Warning: true, Detail: "no docker on PATH: run docker as " + filepath.Join(p.paths.Bin, nameDocker),
		Fix: fmt.Sprintf("pixi shell, or export PATH=%s:$PATH", p.paths.Bin)}
}

// checkInstance reads the instance as status does.
func (s *session) checkInstance(p *project) []check {
	st := s.status(p)
	c := check{Name: "instance", OK: true}
	switch {
	case st.State == stateMissing:
		c.Detail = fmt.Sprintf("VM %q does not exist yet; the first docker command or pixi-lima init creates it", st.Instance)
	case st.State == lima.Broken:
		c = check{Name: "instance", Detail: fmt.Sprintf("VM %q is Broken (%s): Lima's pid files or sockets are left from a crash", st.Instance, strings.Join(st.Problems, "; ")),
			Fix: "pixi-lima stop --force clears them and keeps the disk; then pixi-lima init"}
	case st.State == lima.Running && st.Degraded:
		c = check{Name: "instance", Detail: fmt.Sprintf("VM %q runs degraded: %s", st.Instance, strings.Join(st.Problems, "; ")), Fix: "pixi-lima restart"}
	case st.State == lima.Running && !st.DockerAnswers:
		c = check{Name: "instance", Detail: fmt.Sprintf("VM %q runs but docker does not answer on %s", st.Instance, st.Socket), Fix: "pixi-lima restart"}
	case st.State == lima.Running:
		c.Detail = fmt.Sprintf("VM %q is Running; docker answers on %s", st.Instance, st.Socket)
	case st.State == lima.Stopped:
		c.Detail = fmt.Sprintf("VM %q is Stopped; the first docker command or pixi-lima init starts it", st.Instance)
	default:
		c = check{Name: "instance", Detail: fmt.Sprintf("VM %q is %s: %s", st.Instance, st.State, strings.Join(st.Problems, "; ")),
			Fix: "pixi-lima stop --force, then pixi-lima init; if it stays broken: pixi-lima delete"}
	}
	return []check{c, checkDrift(st), checkDisk(p, st), checkPorts(st)}
}

// checkDrift: settings changed after the VM was made. Nothing is broken,
// but the VM is not what pixi.toml says until they are applied.
func checkDrift(st status) check {
	if len(st.Drift) == 0 {
		return check{Name: "settings", OK: true, Detail: "the VM has the project's settings"}
	}
	var details []string
	fix := "pixi-lima restart"
	for _, d := range st.Drift {
		details = append(details, d.String())
		if !d.AtStart {
			fix = "pixi-lima delete, then pixi-lima init (the disk, with its containers, images and volumes, goes with it)"
		}
	}
	return check{Name: "settings", OK: true, Warning: true, Detail: strings.Join(details, "; "), Fix: fix}
}

// checkDisk compares free space where LIMA_HOME lives with what the VM
// needs now (to create it) and may grow to (its disk is sparse).
func checkDisk(p *project, st status) check {
	dir := p.paths.LimaHome
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return check{Name: "disk", Detail: "cannot read free space of " + dir + ": " + err.Error()}
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	size := st.Disk
	if st.State == stateMissing {
		size, _ = units.RAMInBytes(p.config.Disk)
	}
	detail := fmt.Sprintf("%s free on the host at %s; the VM's disk is %s, %s used on the host",
		units.BytesSize(float64(free)), dir, units.BytesSize(float64(size)), units.BytesSize(float64(st.DiskUsed)))
	if free < minFreeDisk {
		return check{Name: "disk", Detail: detail + ": too little to create or boot the VM",
			Fix: fmt.Sprintf("free at least %s on %s (docker system prune in the VM frees space inside it only)", units.BytesSize(minFreeDisk), dir)}
	}
	if grow := size - st.DiskUsed; grow > free {
		return check{Name: "disk", OK: true, Warning: true, Detail: detail + ": if the VM fills its disk, the host runs out first",
			Fix: "free space on the host, or set a smaller [tool.pixi-lima] disk before the VM is created"}
	}
	return check{Name: "disk", OK: true, Detail: detail}
}

// checkGuestTrust: the CAs and the proxy the running guest has, against
// what its lima.yaml gives it (the settings against lima.yaml are drift,
// under "settings"). It asks the guest through limactl shell, which starts
// nothing; a stopped VM gets them at its next start.
func (s *session) checkGuestTrust(p *project) check {
	c := check{Name: "trust", OK: true}
	inst, err := lima.Inspect(p.paths, p.config.Name)
	if err != nil || inst == nil || inst.Status != lima.Running {
		c.Detail = "the VM is not running: it gets the CAs and proxy of the settings at its next start"
		return c
	}
	path, err := s.limactlPath(p)
	if err != nil {
		e := asError(err)
		return check{Name: "trust", Detail: e.Msg, Fix: e.Hint}
	}
	environ, _ := s.limaEnv(p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := lima.Limactl{Path: path, Env: environ}.Output(ctx, "shell", "--workdir", "/", p.config.Name, "sh", "-c", lima.GuestTrustScript)
	if err != nil {
		return check{Name: "trust", OK: true, Warning: true, Detail: "cannot ask the guest: " + err.Error(), Fix: "pixi-lima restart"}
	}
	problem, warning := lima.GuestTrust(inst, string(out))
	switch {
	case problem != "":
		return check{Name: "trust", Detail: problem, Fix: "pixi-lima restart (it applies ca-certs and proxy)"}
	case warning != "":
		return check{Name: "trust", OK: true, Warning: true, Detail: warning, Fix: "pixi-lima delete, then pixi-lima init (the disk goes with it)"}
	}
	c.Detail = fmt.Sprintf("the guest has the %d CAs and the proxy %s that pixi-lima gave the VM (the settings' changes are under settings)", lima.VMCACerts(inst), lima.ShowProxy(lima.VMProxy(inst)))
	return c
}
