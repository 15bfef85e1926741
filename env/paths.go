package env

import "path/filepath"

// Paths are pixi-lima's locations, all under <root>/.pixi: deleting it removes all.
type Paths struct {
	Root         string // the pixi workspace
	Bin          string // .pixi/bin: the shim's names, first on PATH in `pixi shell`
	LimaHome     string // .pixi/lima: LIMA_HOME
	DockerConfig string // .pixi/docker: DOCKER_CONFIG
	Prefix       string // .pixi/pixi-lima: our install prefix (bin/, share/lima/)
	Cache        string // .pixi/pixi-lima/cache: Lima's download cache (XDG_CACHE_HOME)
	Home         string // .pixi/pixi-lima/home: HOME for limactl where the cache follows HOME (macOS)
	Logs         string // .pixi/pixi-lima/log: our own record of every limactl run
}

// NewPaths derives every path from the workspace root.
func NewPaths(root string) Paths {
	pixi := filepath.Join(root, ".pixi")
	prefix := filepath.Join(pixi, "pixi-lima")
	return Paths{
		Root:         root,
		Bin:          filepath.Join(pixi, "bin"),
		LimaHome:     filepath.Join(pixi, "lima"),
		DockerConfig: filepath.Join(pixi, "docker"),
		Prefix:       prefix,
		Cache:        filepath.Join(prefix, "cache"),
		Home:         filepath.Join(prefix, "home"),
		Logs:         filepath.Join(prefix, "log"),
	}
}

// InstanceDir is where Lima keeps the named instance.
func (p Paths) InstanceDir(name string) string { return filepath.Join(p.LimaHome, name) }

// DockerSocket is where Lima's docker template forwards the guest's socket.
func (p Paths) DockerSocket(name string) string {
	return filepath.Join(p.InstanceDir(name), "sock", "docker.sock")
}

// Limactl is the limactl install.sh builds from the pinned module.
func (p Paths) Limactl() string { return filepath.Join(p.Prefix, "bin", "limactl") }

// LockFile is the lock around every change; Lima lists no dot-file as an instance.
func (p Paths) LockFile() string { return filepath.Join(p.LimaHome, ".pixi-lima.lock") }

// StopMark records the last stop or delete, which a client's request that
// arrived before it must not undo; a dot-file, as LockFile.
func (p Paths) StopMark() string { return filepath.Join(p.LimaHome, ".pixi-lima.stopped") }

// ClientEnv is what env/activate.sh sources for clients that bypass the shim.
func (p Paths) ClientEnv() string { return filepath.Join(p.Prefix, "client.env") }

// Elsewhere lists the other workspaces this docker was called from, warned once.
func (p Paths) Elsewhere() string { return filepath.Join(p.Prefix, "elsewhere") }

// WakeSocket is the DOCKER_HOST that starts the VM (package shim/wake).
func (p Paths) WakeSocket() string { return filepath.Join(p.Prefix, "docker.sock") }

// WakePID holds the pid of the wake socket's server, locked while it serves.
func (p Paths) WakePID() string { return filepath.Join(p.Prefix, "wake-socket.pid") }

// Snapshot is the engine's state as read before it stopped, from which the
// wake socket answers read-only calls while it sleeps.
func (p Paths) Snapshot() string { return filepath.Join(p.Prefix, "snapshot.json") }

// WakeReaders is "<count> <seq>": the read-only requests the wake socket
// has open to the engine, which the guest's idle watcher does not count.
func (p Paths) WakeReaders() string { return filepath.Join(p.Prefix, "wake-readers") }

// LogFile records the limactl runs for one instance.
func (p Paths) LogFile(name string) string { return filepath.Join(p.Logs, name+".log") }

// LimaCache holds limactl's image downloads; with image-cache, a symlink.
func (p Paths) LimaCache(goos string) string {
	if goos == "darwin" {
		return filepath.Join(p.Home, "Library", "Caches", "lima")
	}
	return filepath.Join(p.Cache, "lima")
}
