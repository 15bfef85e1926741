package lima

import "golang.org/x/sys/unix"

// excludeFromBackup keeps Time Machine away from the VM at instDir and the
// project's caches (backupDirs), best effort.
func excludeFromBackup(instDir string) {
	for _, dir := range backupDirs(instDir) {
		_ = unix.Setxattr(dir, backupExcludeAttr, backupExcludeValue(), 0)
	}
}
