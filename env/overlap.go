package env

import (
	"path/filepath"
	"strings"
)

// Overlaps says whether a and b are the same directory or one holds the other.
func Overlaps(a, b string) bool {
	a, b = ResolvePath(a), ResolvePath(b)
	return a == b || within(a, b) || within(b, a)
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ResolvePath resolves the symlinks of the longest part of path that exists.
func ResolvePath(path string) string {
	path = filepath.Clean(path)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	parent := filepath.Dir(path)
	if parent == path {
		return path
	}
	return filepath.Join(ResolvePath(parent), filepath.Base(path))
}
