package env

import "path/filepath"

// Paths are the project-local locations pixi-lima uses. Everything lives
// under <root>/.pixi, so deleting .pixi removes every trace.
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

// LockFile serialises starts. A leading dot keeps Lima from listing it as an instance.
func (p Paths) LockFile() string { return filepath.Join(p.LimaHome, ".pixi-lima.lock") }

// ClientEnv is the shell file env/activate.sh sources: the variables that
// Docker clients other than the shim (SDKs, Testcontainers) need to reach
// the project's engine.
func (p Paths) ClientEnv() string { return filepath.Join(p.Prefix, "client.env") }

// Elsewhere lists the other workspaces a call of this project's docker
// was made from, one per line: each is warned about once.
func (p Paths) Elsewhere() string { return filepath.Join(p.Prefix, "elsewhere") }

// WakeSocket is the socket clients that never call the shim get as
// DOCKER_HOST: it starts the VM when it is down (package shim/wake).
func (p Paths) WakeSocket() string { return filepath.Join(p.Prefix, "docker.sock") }

// WakePID holds the pid of the wake socket's server, which keeps it locked
// while it serves.
func (p Paths) WakePID() string { return filepath.Join(p.Prefix, "wake-socket.pid") }

// LogFile records the limactl runs for one instance.
func (p Paths) LogFile(name string) string { return filepath.Join(p.Logs, name+".log") }

// LimaCache is where limactl, run with LimaOverrides, keeps its image
// downloads: os.UserCacheDir()/lima, which is $XDG_CACHE_HOME on Linux but
// $HOME/Library/Caches on macOS. With the setting image-cache it is a
// symlink to lima/ in the directory it names (lima.LinkImageCache).
func (p Paths) LimaCache(goos string) string {
	if goos == "darwin" {
		return filepath.Join(p.Home, "Library", "Caches", "lima")
	}
	return filepath.Join(p.Cache, "lima")
}
