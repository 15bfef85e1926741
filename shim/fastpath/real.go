package fastpath

import "os"

// FindReal walks PATH for name and returns the first candidate that is
// neither self, through any link, nor another repo's pixi-lima.
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

// IsPixiLima recognises a build of pixi-lima by the name its links resolve to.
func IsPixiLima(path string) bool {
	linked := false
	// As the kernel does, at most 40 links.
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
