package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// depthVar counts how many pixi-lima shims are between the user and the
// real tool. Two wrappers that find each other would loop forever; the
// counter stops them (as rustup's RUST_RECURSION_COUNT does).
const (
	depthVar = "PIXI_LIMA_SHIM_DEPTH"
	maxDepth = 8
)

// checkDepth returns the next depth, or an error when the chain is too long.
func checkDepth(tool string, getenv func(string) string) (int, error) {
	depth, _ := strconv.Atoi(getenv(depthVar))
	if depth >= maxDepth {
		return 0, &Error{Code: ExitLoop,
			Msg:  fmt.Sprintf("%s was wrapped %d times in a row: a wrapper on PATH calls pixi-lima back", tool, depth),
			Hint: fmt.Sprintf("put the real %s on PATH after %s, or remove the other wrapper", tool, filepath.Join(".pixi", "bin"))}
	}
	return depth + 1, nil
}

// findReal walks PATH for name and returns the first candidate that is not
// a pixi-lima shim: not our own executable (the same file, through any
// symlink or hard link), nor another repo's copy of pixi-lima. A second
// repo's shim earlier on PATH must not steer this repo's docker.
func findReal(name, path string, self os.FileInfo) (string, bool) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			continue
		}
		if self != nil && os.SameFile(info, self) {
			continue
		}
		if isPixiLima(candidate) {
			continue
		}
		return candidate, true
	}
	return "", false
}

// isPixiLima recognises another build of pixi-lima by the name its links
// resolve to, the way install.sh lays it out.
func isPixiLima(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	return err == nil && real != path && filepath.Base(real) == "pixi-lima"
}
