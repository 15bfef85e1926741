package env

import (
	"maps"
	"slices"
	"strings"
)

// Overrides are the variables to set and to remove in a child's environment.
type Overrides struct {
	Set   map[string]string
	Unset []string
}

// Build returns base with o.Set's keys replaced and o.Unset's removed, never
// a duplicate: docker keeps a key's first copy, so the user's would win.
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

// DockerOverrides point docker at the instance's socket and the project's config.
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

// ClientVars are what clients that bypass the shim need for the engine at
// host ("" for the host's own); Lima forwards ports to IPv4 loopback only.
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

// HostEngineOverrides keep the host's engine but the client config in .pixi.
func HostEngineOverrides(p Paths) Overrides {
	return Overrides{Set: map[string]string{"DOCKER_CONFIG": p.DockerConfig}}
}

// SSHEngineOverrides point docker at the remote engine at an ssh:// url.
func SSHEngineOverrides(p Paths, url string) Overrides {
	return Overrides{
		Set:   map[string]string{"DOCKER_HOST": url, "DOCKER_CONFIG": p.DockerConfig},
		Unset: []string{"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"},
	}
}

// LimaOverrides keep limactl's instances and image cache in .pixi (via HOME on macOS).
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
