package env

import (
	"maps"
	"slices"
	"strings"
)

// Overrides lists variables to set (key=value) and to remove (key alone)
// in a child's environment.
type Overrides struct {
	Set   map[string]string
	Unset []string
}

// Build returns base with every key of o.Set replaced and every key of
// o.Unset removed. It never appends a second copy of a key: with exec, a
// duplicate survives, and Go programs such as docker keep the first one, so
// the user's own DOCKER_HOST would silently win.
func Build(base []string, o Overrides) []string {
	out := make([]string, 0, len(base)+len(o.Set))
	drop := make(map[string]bool, len(o.Set)+len(o.Unset))
	for k := range o.Set {
		drop[k] = true
	}
	for _, k := range o.Unset {
		drop[k] = true
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, o.Pairs()...)
}

// Pairs lists o.Set as KEY=VALUE, sorted by key.
func (o Overrides) Pairs() []string {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(o.Set)) {
		pairs = append(pairs, k+"="+o.Set[k])
	}
	return pairs
}

// DockerOverrides points docker and Compose at the instance's forwarded
// socket and the project's own client config. Variables that would select
// another engine are removed.
func DockerOverrides(p Paths, instance string) Overrides {
	return Overrides{
		Set: map[string]string{
			"DOCKER_HOST":   "unix://" + p.DockerSocket(instance),
			"DOCKER_CONFIG": p.DockerConfig,
			"LIMA_HOME":     p.LimaHome,
		},
		Unset: []string{"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"},
	}
}

// ClientVars are what Docker clients that do not go through the shim need
// for the engine at host (a DOCKER_HOST URL; "" for the host's own engine,
// which they find by themselves): DOCKER_HOST, and for Lima's VM what
// Testcontainers needs, the socket to mount into its Ryuk container (the
// guest's /var/run/docker.sock, rootless and rootful alike) and the
// address of mapped ports (Lima forwards them to IPv4 loopback; clients
// that resolve localhost to ::1, or guess a gateway, miss them).
func ClientVars(host string, vm bool) map[string]string {
	vars := map[string]string{}
	if host != "" {
		vars["DOCKER_HOST"] = host
	}
	if vm {
		vars["TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"] = "/var/run/docker.sock"
		vars["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"
	}
	return vars
}

// HostEngineOverrides keeps the host's own engine (the user's DOCKER_HOST
// or docker's default socket) but still keeps the client config in .pixi.
func HostEngineOverrides(p Paths) Overrides {
	return Overrides{Set: map[string]string{"DOCKER_CONFIG": p.DockerConfig}}
}

// SSHEngineOverrides points docker and Compose at a remote engine over SSH
// (engine = "ssh://[user@]host[:port]"): docker runs ssh itself, and
// `docker system dial-stdio` on the remote. The client config stays the
// project's; what would select another engine is removed, as for the VM.
func SSHEngineOverrides(p Paths, url string) Overrides {
	return Overrides{
		Set:   map[string]string{"DOCKER_HOST": url, "DOCKER_CONFIG": p.DockerConfig},
		Unset: []string{"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"},
	}
}

// LimaOverrides keeps limactl and everything it starts inside .pixi: the
// instances (LIMA_HOME) and the image download cache. Lima caches in
// os.UserCacheDir()/lima: XDG_CACHE_HOME on Linux, but $HOME/Library/Caches
// on macOS, which only a different HOME can move.
func LimaOverrides(p Paths, goos string) Overrides {
	set := map[string]string{
		"LIMA_HOME":      p.LimaHome,
		"XDG_CACHE_HOME": p.Cache,
	}
	if goos == "darwin" {
		set["HOME"] = p.Home
	}
	return Overrides{Set: set}
}
