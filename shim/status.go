package shim

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
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
	// AsleepSnapshot is when the snapshot was taken that the wake socket
	// answers read-only calls from while the VM is stopped.
	AsleepSnapshot *time.Time `json:"asleepSnapshot,omitempty"`
	// CACerts counts the CAs the VM gets beyond its own; Proxy is the
	// proxy its engine, builds and containers use, its password masked.
	// Both as pixi-lima wrote them in lima.yaml.
	CACerts int    `json:"caCerts"`
	Proxy   string `json:"proxy,omitempty"`
	// PortClashes are forwarded ports another process on the host holds too.
	PortClashes []lima.PortClash `json:"portClashes,omitempty"`
	// LeftoverVM is the VM engine = "lima" made before another engine was
	// set, still on disk; engines without a VM stop and delete it.
	LeftoverVM *leftoverVM `json:"leftoverVM,omitempty"`
}

// leftoverVM is what status says of a VM left by an earlier engine.
type leftoverVM struct {
	Name     string `json:"name"`
	State    string `json:"state"` // as status's own State
	Dir      string `json:"dir"`
	DiskUsed int64  `json:"diskUsedBytes"` // on the host
	Remove   string `json:"remove"`        // the command that deletes it
}

// The states of a VM beside Lima's own: none yet, and an instance
// directory Lima cannot read.
const (
	stateMissing = "Missing"
	stateDamaged = "Damaged"
)

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
	fmt.Fprintf(s.stdout, "instance:  %s\nstate:     %s\n", st.Instance, st.State)
	p.engine.describe(s.stdout, st)
	return nil
}

// status is what the engine says of itself, beside where the project keeps it.
func (s *session) status(p *project) status {
	st := status{
		Instance:     p.config.Name,
		Engine:       p.config.EngineKind(),
		Root:         p.paths.Root,
		LimaHome:     p.paths.LimaHome,
		Dir:          p.paths.InstanceDir(p.config.Name),
		DockerConfig: p.paths.DockerConfig,
		LimaVersion:  strings.TrimPrefix(pinnedLima(), "v"),
		IdleStop:     "off",
	}
	if p.config.IdleStop > 0 {
		st.IdleStop = p.config.IdleStop.String()
	}
	p.engine.status(&st)
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
	// Clients of this shell have no shim in their path: they get what
	// they get in pixi run.
	o := p.engine.docker()
	vars, lines := p.engine.clients()
	maps.Copy(o.Set, vars)
	for _, kv := range env.Build(nil, o) {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(s.stdout, "export %s=%s\n", k, shellQuote(v))
	}
	for _, k := range o.Unset {
		fmt.Fprintf(s.stdout, "unset %s\n", k)
	}
	fmt.Fprint(s.stdout, lines)
	return nil
}

// shellQuote quotes v for POSIX shells.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// trust fills what the VM trusts and which proxy it uses, from lima.yaml:
// never `security`, which would slow every status down.
func (st *status) trust(inst *store.Instance) {
	st.CACerts = lima.VMCACerts(inst)
	st.Proxy = lima.ShowProxy(lima.VMProxy(inst))
}

// describeTrust is status's line for trust, once the VM exists.
func describeTrust(w io.Writer, st status) {
	if st.State == stateMissing || st.State == stateDamaged {
		return
	}
	fmt.Fprintf(w, "trust:     %d CAs beyond the guest's own; proxy %s\n", st.CACerts, st.Proxy)
}
