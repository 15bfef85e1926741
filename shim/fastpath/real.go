package fastpath

import "os"

// FindReal walks PATH for name and returns the first candidate that is not
// a pixi-lima shim: not our own executable (the same file, through any
// symlink or hard link), nor another repo's copy of pixi-lima. A second
// repo's shim earlier on PATH must not steer this repo's docker.
func FindReal(name, path string, self os.FileInfo) (string, bool) {
	for len(path) > 0 {
		dir, rest, _ := cut(path, os.PathListSeparator)
		path = rest
		candidate := name // POSIX: an empty entry is the current directory
		if dir != "" && dir[len(dir)-1] == '/' {
			candidate = dir + name
		} else if dir != "" {
			candidate = dir + "/" + name
		}
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			continue
		}
		if self != nil && os.SameFile(info, self) {
			continue
		}
		if IsPixiLima(candidate) {
			continue
		}
		return candidate, true
	}
	return "", false
}

// IsPixiLima recognises another build of pixi-lima by the name its links
// resolve to, the way install.sh lays it out.
func IsPixiLima(path string) bool {
	linked := false
	// Follow the links at the end of path as the kernel does (at most 40):
	// the file's own name is the last link's target's.
	for i := 0; i < 40; i++ {
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		linked = true
		if target == "" || target[0] != '/' {
			target = path[:len(path)-len(base(path))] + target
		}
		path = target
	}
	if _, err := os.Stat(path); err != nil {
		return false
	}
	return linked && base(path) == "pixi-lima"
}
