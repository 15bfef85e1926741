package lima

import (
	"os"
	"path/filepath"

	"github.com/pixi-lima/pixi-lima/env"
)

// backupExcludeAttr is the extended attribute `tmutil addexclusion` sets,
// without root, so that Time Machine skips a VM's disk of gigabytes.
const backupExcludeAttr = "com.apple.metadata:com_apple_backup_excludeItem"

// backupDirs are what Time Machine should skip of the project whose
// instance directory is instDir (env.Paths.InstanceDir): the VM, and what
// can be made again, about a gigabyte a repository: Lima's image cache,
// Go's caches and the built binaries. Only directories that exist count,
// not a symlink: a shared image-cache is the user's to exclude or not.
func backupDirs(instDir string) []string {
	p := env.NewPaths(filepath.Dir(filepath.Dir(filepath.Dir(instDir))))
	var dirs []string
	for _, d := range []string{instDir, p.LimaCache("darwin"),
		filepath.Join(p.Prefix, "go"), filepath.Join(p.Prefix, "bin"), filepath.Join(p.Prefix, "share")} {
		if info, err := os.Lstat(d); err == nil && info.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// backupExcludeValue is the binary property list tmutil writes.
func backupExcludeValue() []byte {
	const s = "com.apple.backupd"
	b := []byte("bplist00")
	b = append(b, 0x5f, 0x10, byte(len(s))) // an ASCII string, its length as a 1-byte int
	b = append(b, s...)
	table := len(b)
	b = append(b, 8)                      // the offset table: object 0 is at 8
	b = append(b, 0, 0, 0, 0, 0, 0)       // trailer: unused
	b = append(b, 1, 1)                   // offset and reference sizes
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 1) // one object
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // the top object is object 0
	return append(b, 0, 0, 0, 0, 0, 0, 0, byte(table))
}
