// Package settings owns the [tool.pixi-lima] table: its keys, their
// PIXI_LIMA_* overrides, defaults, validation and the help each error
// gives. It reads the manifest and never starts, writes or links anything.
package settings

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/pelletier/go-toml/v2"

	"github.com/pixi-lima/pixi-lima/env"
)

// Defaults are small on purpose: a per-repo engine shares the laptop.
const (
	DefaultTemplate = "template://docker"
	// RootfulTemplate is the default template with rootful = true.
	RootfulTemplate = "template://docker-rootful"
	DefaultCPUs     = 2
	DefaultMemory   = "2GiB"
	DefaultDisk     = "20GiB"
)

// DefaultIdleStop is how long the engine may sit idle before its VM powers
// off: long enough for a coffee break, since a start can take minutes under
// emulation, short enough to free a forgotten VM's memory.
const DefaultIdleStop = 15 * time.Minute

// Engine selects where docker's engine runs.
const (
	EngineLima = "lima" // the repo's own Lima VM (default)
	EngineHost = "host" // the host's engine: DOCKER_HOST as the user has it, no VM
	// EngineSSH is a remote engine, engine = "ssh://[user@]host[:port]":
	// Config.Engine holds that URL, and docker connects itself (no VM).
	EngineSSH = "ssh"
)

// Config is the instance as the project wants it: [tool.pixi-lima] in
// pixi.toml, each key overridable by a PIXI_LIMA_* variable.
type Config struct {
	Engine    string        // EngineLima, EngineHost or an ssh:// URL (EngineSSH)
	Name      string        // Lima instance name
	CPUs      int           //
	Memory    string        // e.g. "2GiB"
	Disk      string        // e.g. "20GiB"
	VMType    string        // "", "qemu" or "vz"; "" lets Lima choose
	MountType string        // "", "reverse-sshfs", "9p" or "virtiofs"; "" lets Lima choose
	Mounts    []Mount       // extra mounts besides the project root
	Template  string        // Lima template locator or file
	Image     string        // disk image path or URL replacing the template's images
	IdleStop  time.Duration // power the VM off after this long idle; 0: never
	// ImageCache is the directory whose lima/ holds Lima's download cache
	// for every project that names it; "": the project's own, in .pixi.
	ImageCache string
	// Rosetta runs linux/amd64 containers on Apple silicon through Lima's
	// Rosetta support (vz only), registered with binfmt_misc in the guest.
	Rosetta bool
	// RosettaAuto is rosetta = "auto", the default: Rosetta where it works
	// without forcing anything (package lima decides per host and VM).
	RosettaAuto bool
	// Rootful runs Docker as root in the VM (RootfulTemplate) instead of
	// rootless as the Lima user (DefaultTemplate).
	Rootful bool
	// InheritDockerConfig gives the project's DOCKER_CONFIG the user's CLI
	// plugin directories and credential helper names (never their secrets).
	InheritDockerConfig bool
	// CACerts are the CAs the VM trusts beyond its own: SystemCAs (the
	// host's additions to its OS's) and PEM files, absolute; nil: none.
	CACerts []string
	// Proxy is what the VM's engine, builds and containers go through:
	// with proxy = "auto" the caller's HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY, with a URL that URL; zero for "none" or no proxy.
	Proxy Proxy
	// CACertPEMs are the certificates of CACerts, read by package lima
	// (lima.ReadCACerts) before it creates or starts the VM; like
	// RootAliases, not a setting. nil: not read; empty: none.
	CACertPEMs []string
	// envProxy is the environment's proxy, which "auto" takes.
	envProxy Proxy
	// RootAliases are not a setting but env.Aliases: the guest mounts the
	// project at these paths too.
	RootAliases []string
	// MissingMounts are configured mounts that do not exist on this machine;
	// they are left out of Mounts so that the VM starts without them.
	MissingMounts []string
	// NameNote says why Name is not the workspace's, for the caller to
	// say (on its stderr) while that VM does not exist; "" when it is.
	NameNote string
}

// EngineKind is EngineLima, EngineHost or EngineSSH: Engine without
// an ssh engine's address.
func (c Config) EngineKind() string {
	if strings.HasPrefix(c.Engine, EngineSSH+"://") {
		return EngineSSH
	}
	return c.Engine
}

// Mount is a host directory shared with the guest at the same path.
type Mount struct {
	Location   string `json:"location"`
	MountPoint string `json:"mountPoint,omitempty"` // in the guest; empty: Location
	Writable   bool   `json:"writable"`
}

// Error names the setting that is wrong and what it should look like.
type Error struct {
	Source string // "pixi.toml [tool.pixi-lima] memory" or "PIXI_LIMA_MEMORY"
	Msg    string
}

func (e *Error) Error() string { return e.Source + ": " + e.Msg }

// settings lists every key: its variable and how to parse it into Config.
var settings = []struct {
	key  string
	set  func(*Config, any, string) error // value, source
	help string
}{
	{"engine", setEngine, `"lima", "host" or "ssh://[user@]host[:port]"`},
	{"name", setName, "a Lima instance name: letters, digits, and . _ - between them"},
	{"cpus", setCPUs, "a whole number from 1 to 256"},
	{"memory", setSize(func(c *Config) *string { return &c.Memory }), `a size such as "2GiB" or a number of GiB`},
	{"disk", setSize(func(c *Config) *string { return &c.Disk }), `a size such as "20GiB" or a number of GiB`},
	{"vm-type", setEnum(func(c *Config) *string { return &c.VMType }, "qemu", "vz"), `"qemu" or "vz"`},
	{"mount-type", setEnum(func(c *Config) *string { return &c.MountType }, "reverse-sshfs", "9p", "virtiofs"), `"reverse-sshfs", "9p" or "virtiofs"`},
	{"mounts", setMounts, `a list of directories, each optionally ending in ":w" for writable`},
	{"template", setLocation("template", func(c *Config) *string { return &c.Template }), `a Lima template: "template://NAME", a URL, or a YAML file`},
	{"image", setLocation("image", func(c *Config) *string { return &c.Image }), "a disk image file or URL"},
	{"idle-stop", setIdleStop, `a duration of at least 1m such as "15m" or "2h", or "off"`},
	{"image-cache", setImageCache, `a directory outside .pixi such as "~/.cache/pixi-lima", or "" for the project's own`},
	{"rosetta", setRosetta, `true, false or "auto"`},
	{"rootful", setBool(func(c *Config) *bool { return &c.Rootful }), "true or false"},
	{"inherit-docker-config", setBool(func(c *Config) *bool { return &c.InheritDockerConfig }), "true or false"},
	{"ca-certs", setCACerts, `a list of PEM files and "system", or "none"`},
	{"proxy", setProxy, `"auto", "none" or a URL such as "http://proxy.example.com:3128"`},
}

// EnvName is the variable that overrides key.
func EnvName(key string) string {
	return "PIXI_LIMA_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// Keys lists the setting names, for documentation and suggestions.
func Keys() []string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.key
	}
	return keys
}

// Load reads [tool.pixi-lima] from the manifest at root (env.ManifestPath),
// applies the PIXI_LIMA_* overrides and fills defaults. Every value is
// checked here, before Lima runs.
func Load(root string, getenv func(string) string) (Config, error) {
	path := env.ManifestPath(root)
	if path == "" {
		return Config{}, &Error{Source: root, Msg: "no " + env.Manifest + ", nor a " + env.Pyproject + " with [tool.pixi.workspace]"}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is the Source already
		}
		return Config{}, &Error{Source: path, Msg: "cannot read it: " + err.Error()}
	}
	return parseConfig(root, filepath.Base(path), data, getenv)
}

// Parse is Load on pixi.toml bytes already read.
func Parse(root string, manifest []byte, getenv func(string) string) (Config, error) {
	return parseConfig(root, env.Manifest, manifest, getenv)
}

// parseConfig is Parse on the bytes of file, which the errors name.
func parseConfig(root, file string, manifest []byte, getenv func(string) string) (Config, error) {
	type named struct{ Name string }
	var doc struct {
		Workspace named `toml:"workspace"`
		Project   named `toml:"project"` // pixi.toml before pixi 0.40; pyproject.toml's own
		Tool      struct {
			Pixi struct {
				Workspace named `toml:"workspace"`
				Project   named `toml:"project"` // pixi before 0.40
			} `toml:"pixi"`
			PixiLima map[string]any `toml:"pixi-lima"`
		} `toml:"tool"`
	}
	if err := toml.Unmarshal(manifest, &doc); err != nil {
		return Config{}, &Error{Source: file, Msg: "not valid TOML: " + err.Error()}
	}
	// Each file has only its own tables, so one order serves both.
	workspace := cmp.Or(doc.Workspace.Name, doc.Tool.Pixi.Workspace.Name, doc.Tool.Pixi.Project.Name,
		doc.Project.Name, filepath.Base(root))
	c := Config{
		Engine:   EngineLima,
		CPUs:     DefaultCPUs,
		Memory:   DefaultMemory,
		Disk:     DefaultDisk,
		Template: DefaultTemplate,
		IdleStop: DefaultIdleStop,

		RosettaAuto:         true,
		InheritDockerConfig: true,
		CACerts:             []string{SystemCAs},
	}
	// Before the loop: a proxy key or variable replaces it.
	c.envProxy = proxyFromEnv(getenv)
	c.Proxy = c.envProxy
	for key := range doc.Tool.PixiLima {
		if !isKey(key) {
			return Config{}, &Error{
				Source: file + " [tool.pixi-lima] " + key,
				Msg:    "unknown setting" + Suggest(key, Keys()) + "; known: " + strings.Join(Keys(), ", "),
			}
		}
	}
	for _, s := range settings {
		if v, ok := doc.Tool.PixiLima[s.key]; ok {
			src := file + " [tool.pixi-lima] " + s.key
			if err := s.set(&c, v, root); err != nil {
				return Config{}, &Error{Source: src, Msg: err.Error() + "; expected " + s.help}
			}
		}
		if v := getenv(EnvName(s.key)); v != "" {
			if err := s.set(&c, envValue(s.key, v), root); err != nil {
				return Config{}, &Error{Source: EnvName(s.key), Msg: err.Error() + "; expected " + s.help}
			}
		}
	}
	if c.Rootful && c.Template == DefaultTemplate {
		c.Template = RootfulTemplate
	}
	if c.Name == "" { // no name set: the workspace's, unless it is too long here
		c.Name, c.NameNote = defaultName(root, workspace, runtime.GOOS)
		if c.Engine != EngineLima {
			c.NameNote = "" // about the VM's sockets; no VM here
		}
	}
	return c, nil
}

// envValue turns a variable's text into the type its key takes in TOML.
func envValue(key, v string) any {
	switch key {
	case "cpus":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case "mounts", "ca-certs":
		var list []any
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				list = append(list, m)
			}
		}
		return list
	}
	return v
}

// validName is Lima's rule for instance names (pkg/identifiers),
// ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, checked by hand: a package-level
// regexp.MustCompile would run in every process, docker's fast path too.
func validName(s string) bool {
	sep := true // at the start as after a separator: a letter or digit must follow
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			sep = false
		case (c == '.' || c == '_' || c == '-') && !sep:
			sep = true
		default:
			return false
		}
	}
	return !sep
}

// InstanceName derives "<workspace>-docker", replacing what Lima rejects.
func InstanceName(workspace string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(workspace) {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" {
		name = "pixi"
	}
	return name + "-docker"
}

// ShortName is the instance name a workspace falls back to when its own
// would make Lima's socket paths too long.
const ShortName = "docker"

// defaultName is the instance name of a workspace that sets none:
// InstanceName(workspace) when its sockets fit or it exists already (an
// instance is never lost), else ShortName with a note saying why.
func defaultName(root, workspace, goos string) (name, note string) {
	name = InstanceName(workspace)
	paths := env.NewPaths(root)
	if env.CheckSocketBudget(paths.LimaHome, name, goos) == nil || exists(paths.InstanceDir(name)) {
		return name, ""
	}
	if exists(paths.InstanceDir(ShortName)) {
		return ShortName, ""
	}
	return ShortName, fmt.Sprintf("the VM is named %q, not %q: with that name Lima's socket paths "+
		"would be too long on this OS for a project path of %d characters (at most %d fit); "+
		"[tool.pixi-lima] name = \"...\" chooses another", ShortName, name, len(root), env.MaxRootLength(name, goos))
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func isKey(key string) bool {
	for _, s := range settings {
		if s.key == key {
			return true
		}
	}
	return false
}

func setEngine(c *Config, v any, _ string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("got %s", show(v))
	}
	if s != EngineLima && s != EngineHost {
		if why := badSSH(s); why != "" {
			return fmt.Errorf("got %s (%s)", show(v), why)
		}
	}
	c.Engine = s
	return nil
}

// badSSH says what is wrong with an ssh:// engine URL, "" when nothing. It
// takes only user, host and port: a value starting with "-" could read as
// an option to the ssh that doctor runs.
func badSSH(s string) string {
	if !strings.HasPrefix(s, EngineSSH+"://") {
		return "not an ssh:// URL"
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the message shows already
		}
		return err.Error()
	}
	if _, ok := u.User.Password(); ok {
		return "a password in the URL is not supported: use a key"
	}
	user := u.User.Username()
	port, err := strconv.Atoi(u.Port())
	switch {
	case u.Hostname() == "":
		return "no host"
	case u.User != nil && user == "":
		return "no user before @"
	case strings.HasPrefix(u.Hostname(), "-") || strings.HasPrefix(user, "-"):
		return "the user and the host may not start with -"
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "nothing may follow the host and port"
	case strings.HasSuffix(u.Host, ":") || u.Port() != "" && (err != nil || port < 1 || port > 65535):
		return "the port must be a number from 1 to 65535"
	}
	return ""
}

func setName(c *Config, v any, _ string) error {
	s, ok := v.(string)
	if !ok || !validName(s) {
		return fmt.Errorf("got %s", show(v))
	}
	c.Name = s
	return nil
}

func setCPUs(c *Config, v any, _ string) error {
	n, ok := v.(int64)
	if !ok || n < 1 || n > 256 {
		return fmt.Errorf("got %s", show(v))
	}
	c.CPUs = int(n)
	return nil
}

// setSize accepts Lima's size strings and, like limactl's --memory and
// --disk flags, a bare number of GiB.
func setSize(field func(*Config) *string) func(*Config, any, string) error {
	return func(c *Config, v any, _ string) error {
		var s string
		switch v := v.(type) {
		case int64:
			s = fmt.Sprintf("%dGiB", v)
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64) + "GiB"
		case string:
			s = strings.TrimSpace(v)
			if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				s += "GiB"
			}
		default:
			return fmt.Errorf("got %s", show(v))
		}
		bytes, err := units.RAMInBytes(s)
		if err != nil || bytes < 1<<29 {
			return fmt.Errorf("got %s (at least 512MiB)", show(v))
		}
		*field(c) = s
		return nil
	}
}

func setEnum(field func(*Config) *string, allowed ...string) func(*Config, any, string) error {
	return func(c *Config, v any, _ string) error {
		s, ok := v.(string)
		if ok {
			for _, a := range allowed {
				if s == a {
					*field(c) = s
					return nil
				}
			}
		}
		return fmt.Errorf("got %s", show(v))
	}
}

func setMounts(c *Config, v any, root string) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("got %s", show(v))
	}
	c.Mounts, c.MissingMounts = c.Mounts[:0], nil
	for _, item := range list {
		s, ok := item.(string)
		if !ok || strings.TrimSuffix(s, ":w") == "" {
			return fmt.Errorf("got %s in the list", show(item))
		}
		m := Mount{Location: strings.TrimSuffix(s, ":w"), Writable: strings.HasSuffix(s, ":w")}
		loc, err := hostPath(m.Location, root)
		if err != nil {
			return err
		}
		if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) {
			c.MissingMounts = append(c.MissingMounts, loc)
			continue
		} else if err != nil {
			return fmt.Errorf("mount %q: %w", s, err)
		}
		m.Location = loc
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}

// setLocation takes a URL, or a file that must exist, made absolute.
func setLocation(what string, field func(*Config) *string) func(*Config, any, string) error {
	return func(c *Config, v any, root string) error {
		s, ok := v.(string)
		if !ok || s == "" {
			return fmt.Errorf("got %s", show(v))
		}
		if !strings.Contains(s, "://") {
			path, err := hostPath(s, root)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("%s file %s does not exist", what, path)
			}
			s = path
		}
		*field(c) = s
		return nil
	}
}

func setIdleStop(c *Config, v any, _ string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("got %s", show(v))
	}
	if s == "off" {
		c.IdleStop = 0
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute || d%time.Second != 0 {
		return fmt.Errorf("got %s", show(v))
	}
	c.IdleStop = d
	return nil
}

// setImageCache takes a directory outside the project's .pixi, which may
// not exist yet; "" keeps the cache in .pixi.
func setImageCache(c *Config, v any, root string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("got %s", show(v))
	}
	if s == "" {
		c.ImageCache = ""
		return nil
	}
	dir, err := hostPath(s, root)
	if err != nil {
		return err
	}
	if env.Overlaps(dir, filepath.Join(root, ".pixi")) {
		return fmt.Errorf("got %s, which overlaps the project's .pixi (the cache is there without this setting)", show(v))
	}
	c.ImageCache = dir
	return nil
}

// setBool takes a TOML boolean, or in a variable true/false/1/0.
func setBool(field func(*Config) *bool) func(*Config, any, string) error {
	return func(c *Config, v any, _ string) error {
		switch v := v.(type) {
		case bool:
			*field(c) = v
			return nil
		case string:
			if b, err := strconv.ParseBool(v); err == nil {
				*field(c) = b
				return nil
			}
		}
		return fmt.Errorf("got %s", show(v))
	}
}

// setRosetta takes a boolean as setBool does, or "auto".
func setRosetta(c *Config, v any, root string) error {
	if v == RosettaAuto {
		c.Rosetta, c.RosettaAuto = false, true
		return nil
	}
	if err := setBool(func(c *Config) *bool { return &c.Rosetta })(c, v, root); err != nil {
		return err
	}
	c.RosettaAuto = false
	return nil
}

// RosettaAuto is the value, and the default, of rosetta that leaves the
// choice to the host and the VM.
const RosettaAuto = "auto"

// notes says more of a key than its variable, for `pixi-lima help settings`.
var notes = map[string]string{
	"rosetta":  `default "auto": on for a vz VM on Apple silicon with Rosetta installed, off elsewhere; true or false`,
	"ca-certs": `default ["system"]: the CAs your host trusts beyond its OS's; also PEM files, comma-separated in the variable; "none"`,
	"proxy":    `default "auto": HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the command that starts the VM; "none"; or a URL`,
}

// Note is what `pixi-lima help settings` says below key, "" for nothing.
func Note(key string) string { return notes[key] }

// hostPath makes a configured path absolute: "~" is the user's home (we
// expand it ourselves, as limactl may run with another HOME) and anything
// relative is relative to the project root.
func hostPath(p, root string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return filepath.Clean(p), nil
}

// show prints a TOML value as the user wrote it, with its type when that is the problem.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64, float64:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprintf("%v (a boolean)", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// Suggest returns `; did you mean "x"?` for the closest candidate, if close.
// Usage errors of the subcommands use it too.
func Suggest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
