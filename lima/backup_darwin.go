package lima

import "golang.org/x/sys/unix"

// excludeFromBackup keeps Time Machine away from dir (see
// backupExcludeAttr). It is best effort: a file system without extended
// attributes only means the disk is backed up.
func excludeFromBackup(dir string) {
	_ = unix.Setxattr(dir, backupExcludeAttr, backupExcludeValue(), 0)
}
