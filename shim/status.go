package shim

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// status is what `pixi-lima status --json` prints.
type status struct {
	Instance      string   `json:"instance"`
	State         string   `json:"state"` // Lima's status, "Missing" or "Damaged"
	Engine        string   `json:"engine"`
	DockerAnswers bool     `json:"dockerAnswers"`
	ServerVersion string   `json:"serverVersion,omitempty"` // ssh engine only: asking it is how status knows it answers
	Degraded      bool     `json:"degraded"`
	Problems      []string `json:"problems,omitempty"`
	Root          string   `json:"root"`
	LimaHome      string   `json:"limaHome"`
	Dir           string   `json:"dir"`
	Socket        string   `json:"socket"`
	// WakeSocket is the DOCKER_HOST of clients other than the shim; its
	// server's pid is 0 when none serves it.
	WakeSocket    string `json:"wakeSocket,omitempty"`
	WakeSocketPID int    `json:"wakeSocketPID"`
	DockerConfig  string `json:"dockerConfig"`
	VMType        string `json:"vmType,omitempty"`
	CPUs          int    `json:"cpus"`
	Memory        int64  `json:"memoryBytes"`
	Disk          int64  `json:"diskBytes"`
	DiskUsed      int64  `json:"diskUsedBytes"` // on the host
	LimaVersion   string `json:"limaVersion"`
	// Drift lists the settings the VM does not have (also in Problems).
	Drift []lima.Drift `json:"drift,omitempty"`
	// IdleStop is the setting; IdleStoppedAt, when the VM powered itself
	// off for being idle (it may still be shutting down).
	IdleStop      string     `json:"idleStop"`
	IdleStoppedAt *time.Time `json:"idleStoppedAt,omitempty"`
	// PortClashes are forwarded ports another process on the host holds too.
	PortClashes []lima.PortClash `json:"portClashes,omitempty"`
}

// stateDamaged: the instance directory exists, but Lima cannot read it.
const stateDamaged = "Damaged"

func (s *session) cmdStatus(args []string) error {
	var asJSON bool
	if err := s.flags("status", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	st := s.status(p)
	if asJSON {
		enc := json.NewEncoder(s.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	w := s.stdout
	fmt.Fprintf(w, "instance:  %s\nstate:     %s\n", st.Instance, st.State)
	if st.Engine == settings.EngineHost {
		fmt.Fprintf(w, "engine:    host (the host's own Docker engine; no VM)\n")
		return nil
	}
	if st.Engine == settings.EngineSSH {
		answers := "not answering"
		if st.DockerAnswers {
			answers = "answers, Docker " + st.ServerVersion
		}
		fmt.Fprintf(w, "engine:    ssh (a remote Docker engine; no VM)\ndocker:    %s (%s)\n", st.Socket, answers)
		for _, problem := range st.Problems {
			fmt.Fprintf(w, "problem:   %s\n", problem)
		}
		return nil
	}
	fmt.Fprintf(w, "docker:    %s (%s)\n", st.Socket, map[bool]string{true: "answers", false: "not answering"}[st.DockerAnswers])
	if st.WakeSocketPID != 0 {
		fmt.Fprintf(w, "wake:      %s (pid %d; starts the VM for clients such as SDKs and Testcontainers)\n", st.WakeSocket, st.WakeSocketPID)
	} else {
		fmt.Fprintf(w, "wake:      %s (not served; the next docker call or pixi run starts it)\n", st.WakeSocket)
	}
	if st.State != "Missing" {
		fmt.Fprintf(w, "dir:       %s\n", st.Dir)
		fmt.Fprintf(w, "resources: %d CPUs, %s memory, %s disk (%s used on the host)\n", st.CPUs,
			units.BytesSize(float64(st.Memory)), units.BytesSize(float64(st.Disk)), units.BytesSize(float64(st.DiskUsed)))
		fmt.Fprintf(w, "lima:      %s (%s)\n", st.LimaVersion, st.VMType)
	}
	if st.IdleStoppedAt != nil && st.State == store.StatusRunning {
		fmt.Fprintf(w, "stopping:  by itself at %s, idle for %s (idle-stop); the next docker command waits for it, then starts it\n",
			st.IdleStoppedAt.Local().Format(time.DateTime), st.IdleStop)
	} else if st.IdleStoppedAt != nil {
		fmt.Fprintf(w, "stopped:   by itself at %s, idle for %s (idle-stop); the next docker command starts it\n",
			st.IdleStoppedAt.Local().Format(time.DateTime), st.IdleStop)
	} else if st.State == store.StatusRunning {
		fmt.Fprintf(w, "idle-stop: %s\n", st.IdleStop)
	}
	for _, problem := range st.Problems {
		fmt.Fprintf(w, "problem:   %s\n", problem)
	}
	for _, c := range st.PortClashes {
		fmt.Fprintf(w, "clash:     %s\n", c)
	}
	return nil
}

// status inspects the instance through Lima's pkg/store, without limactl:
// it must stay fast enough to call from prompts and scripts.
func (s *session) status(p *project) status {
	st := status{
		Instance:     p.config.Name,
		Engine:       p.config.Engine,
		Root:         p.paths.Root,
		LimaHome:     p.paths.LimaHome,
		Dir:          p.paths.InstanceDir(p.config.Name),
		Socket:       "unix://" + p.paths.DockerSocket(p.config.Name),
		DockerConfig: p.paths.DockerConfig,
		LimaVersion:  strings.TrimPrefix(pinnedLima(), "v"),
		IdleStop:     "off",
	}
	if p.config.IdleStop > 0 {
		st.IdleStop = p.config.IdleStop.String()
	}
	if p.config.Engine == settings.EngineHost {
		st.State, st.Socket = "Host", ""
		return st
	}
	if isSSH(p.config) {
		st.Engine, st.State, st.Socket = settings.EngineSSH, "Remote", p.config.Engine
		v, err := s.remoteVersion(p)
		if err != nil {
			st.Problems = append(st.Problems, err.Error())
		}
		st.ServerVersion, st.DockerAnswers = v, err == nil
		return st
	}
	st.WakeSocket, st.WakeSocketPID = "unix://"+p.paths.WakeSocket(), wakeServer(p)
	// Ask the engine while Lima's files are read: the two round trips (to
	// the host agent, and through its forward to the guest's dockerd)
	// overlap. The answer counts only for a running VM.
	answers := make(chan bool, 1)
	go func() { answers <- ping.Engine(p.paths.DockerSocket(p.config.Name), 2*time.Second) }()
	inst, err := lima.Inspect(p.paths, p.config.Name)
	var damaged *lima.DamagedError
	if errors.As(err, &damaged) {
		st.State = stateDamaged
		st.DiskUsed = damaged.Bytes
		st.Problems = append(st.Problems, err.Error())
		return st
	}
	if err != nil {
		st.State = "Unknown"
		st.Problems = append(st.Problems, err.Error())
		return st
	}
	if inst == nil {
		st.State = "Missing"
		return st
	}
	st.State = inst.Status
	if inst.Status == store.StatusStopped { // the console log is read only then
		if at, ok := lima.IdleStopped(inst.Dir); ok {
			st.IdleStoppedAt = &at
		}
	}
	st.VMType = string(inst.VMType)
	st.CPUs, st.Memory, st.Disk = inst.CPUs, inst.Memory, inst.Disk
	if inst.LimaVersion != "" {
		st.LimaVersion = inst.LimaVersion
	}
	st.DiskUsed = lima.DiskUsage(inst.Dir)
	for _, e := range inst.Errors {
		st.Problems = append(st.Problems, e.Error())
	}
	st.Drift = lima.Drifts(p.config, p.paths.Root, inst)
	for _, d := range st.Drift {
		st.Problems = append(st.Problems, d.String())
	}
	if inst.Status == store.StatusRunning {
		st.DockerAnswers = <-answers
		if at, ok := lima.IdleStopped(inst.Dir); ok && !st.DockerAnswers { // powering itself off
			st.IdleStoppedAt = &at
		}
		if degraded, why := lima.Degraded(inst.Dir); degraded {
			st.Degraded = true
			st.Problems = append(st.Problems, "degraded: "+strings.Join(why, "; ")+" (fix: pixi-lima restart)")
		}
		st.PortClashes = lima.PortClashes(inst.Dir)
	}
	return st
}

// cmdEnv prints the variables the shim gives docker, for shells and IDEs
// that call docker without the shim.
func (s *session) cmdEnv(args []string) error {
	if err := s.flags("env", args, nil); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	o := env.DockerOverrides(p.paths, p.config.Name)
	switch {
	case p.config.Engine == settings.EngineHost:
		o = env.HostEngineOverrides(p.paths)
	case isSSH(p.config):
		o = env.SSHEngineOverrides(p.paths, p.config.Engine)
	default:
		// Clients of this shell have no shim in their path: they get the
		// wake socket, and what Testcontainers needs, as in pixi run.
		maps.Copy(o.Set, env.ClientVars("unix://"+p.paths.WakeSocket(), true))
	}
	for _, kv := range env.Build(nil, o) {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(s.stdout, "export %s=%s\n", k, shellQuote(v))
	}
	for _, k := range o.Unset {
		fmt.Fprintf(s.stdout, "unset %s\n", k)
	}
	fmt.Fprint(s.stdout, wakeStartLines(p))
	return nil
}

// shellQuote quotes v for POSIX shells.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
