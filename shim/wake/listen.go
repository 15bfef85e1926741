package wake

import (
	"net"
	"os"
	"path/filepath"
)

// Listen creates the unix socket at path, connectable by its owner only
// from the moment it exists there. It binds the socket in a new directory
// of mode 0700, makes it 0600 there and renames it into place, replacing a
// dead server's: a umask would do it too, but it is the whole process's.
// Closing the listener leaves the path to the caller.
func Listen(path string) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".wake-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err = os.Chmod(tmp, 0o600); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
