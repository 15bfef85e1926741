package env

import (
	"fmt"
	"path/filepath"
)

// longestSocketSuffix mirrors Lima's filenames.LongestSock.
const longestSocketSuffix = "ssh.sock.1234567890123456"

// SocketLimit is sizeof(sockaddr_un.sun_path); a path must be shorter.
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

// CheckSocketBudget says whether Lima's sockets fit under the resolved limaHome.
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

// MaxRootLength is the longest project path under which the sockets fit.
func MaxRootLength(instance, goos string) int {
	return SocketLimit(goos) - 1 - len(LongestSocket("/.pixi/lima", instance))
}
