package lima

import "golang.org/x/sys/unix"

// excludeFromBackup keeps Time Machine away from dir, best effort.
func excludeFromBackup(dir string) {
	_ = unix.Setxattr(dir, backupExcludeAttr, backupExcludeValue(), 0)
}
