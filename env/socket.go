package env

import (
	"fmt"
	"path/filepath"
)

// longestSocketSuffix is the longest name Lima gives a socket inside an
// instance directory: ssh's ControlPath with its random suffix. It mirrors
// Lima's filenames.LongestSock; env does not import Lima.
const longestSocketSuffix = "ssh.sock.1234567890123456"

// SocketLimit is sizeof(sockaddr_un.sun_path), Lima's UNIX_PATH_MAX: 104
// bytes on macOS and the BSDs, 108 on Linux. A path must be shorter.
func SocketLimit(goos string) int {
	if goos == "linux" {
		return 108
	}
	return 104
}

// SocketPathError says that Lima's sockets would not fit.
type SocketPathError struct {
	Path    string
	Length  int
	Limit   int
	MaxRoot int // the longest project path, in bytes, whose sockets fit with this instance name
}

func (e *SocketPathError) Error() string {
	return fmt.Sprintf("Lima's socket path would be %d bytes, it must be shorter than %d on this OS: %s "+
		"(with this instance name a project path of at most %d characters fits)",
		e.Length, e.Limit, e.Path, e.MaxRoot)
}

// CheckSocketBudget reports whether the longest socket Lima creates for the
// instance fits in a unix socket address. limaHome must already have its
// symlinks resolved: Lima resolves them, so a short symlink does not help.
func CheckSocketBudget(limaHome, instance, goos string) error {
	path := LongestSocket(limaHome, instance)
	if limit := SocketLimit(goos); len(path) >= limit {
		return &SocketPathError{Path: path, Length: len(path), Limit: limit, MaxRoot: MaxRootLength(instance, goos)}
	}
	return nil
}

// LongestSocket is the longest socket path Lima creates for the instance.
func LongestSocket(limaHome, instance string) string {
	return filepath.Join(limaHome, instance, longestSocketSuffix)
}

// MaxRootLength is the longest project path, in bytes, under which the
// instance's sockets fit: its LIMA_HOME is <root>/.pixi/lima (NewPaths).
func MaxRootLength(instance, goos string) int {
	return SocketLimit(goos) - 1 - len(LongestSocket("/.pixi/lima", instance))
}
