// Package env finds the pixi project a call belongs to and derives every
// path and variable pixi-lima hands to Lima and Docker. It is pure: it reads
// the file system but spawns nothing and knows nothing of Lima's packages.
package env

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Manifest is the file that marks a pixi workspace root. Pyproject marks
// one too when it has a pixi workspace table; Manifest wins when both exist.
const (
	Manifest  = "pixi.toml"
	Pyproject = "pyproject.toml"
)

// ErrNoProject is returned when no pixi workspace encloses the call.
var ErrNoProject = errors.New("no pixi workspace found")

// FindRoot returns the pixi workspace a call acts on. In order:
//  1. the workspace whose .pixi/ holds our own executable, so that a shim in
//     one repo's .pixi/bin never acts on another repo, whatever the cwd;
//  2. PIXI_PROJECT_ROOT, which pixi sets for tasks and `pixi shell`;
//  3. the nearest directory at or above cwd that is a workspace (see
//     ManifestPath).
//
// The result has its symlinks resolved: Lima resolves them too, and the
// socket budget must be computed on the path Lima will use.
func FindRoot(exe string, getenv func(string) string, cwd string) (string, error) {
	if root, ok := rootOfExecutable(exe); ok {
		return resolve(root)
	}
	if root := getenv("PIXI_PROJECT_ROOT"); root != "" {
		if ManifestPath(root) == "" {
			return "", fmt.Errorf("%w: PIXI_PROJECT_ROOT=%s has no %s", ErrNoProject, root, Manifest)
		}
		return resolve(root)
	}
	if dir := Enclosing(cwd); dir != "" {
		return resolve(dir)
	}
	return "", fmt.Errorf("%w in %s or any parent", ErrNoProject, cwd)
}

// Enclosing is the nearest pixi workspace at or above dir, "" for none.
func Enclosing(dir string) string {
	for ; ; dir = filepath.Dir(dir) {
		if ManifestPath(dir) != "" {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// ManifestPath is the manifest that makes dir a pixi workspace, as pixi
// chooses it: dir/pixi.toml when it exists (readable or not: reading it is
// settings.Load's job, which says what is wrong), else dir/pyproject.toml when
// it has a [tool.pixi.workspace] or [tool.pixi.project] table; "" when dir
// is no workspace.
func ManifestPath(dir string) string {
	if path := filepath.Join(dir, Manifest); exists(path) {
		return path
	}
	path := filepath.Join(dir, Pyproject)
	if data, err := os.ReadFile(path); err == nil && pixiPyproject(data) {
		return path
	}
	return ""
}

// pixiPyproject reports whether a pyproject.toml declares a pixi workspace.
// Like pixi, it first looks for "[tool.pixi" in the text, so the many
// pyproject.toml files without it cost no parse, and a pixi table spelled
// only with dotted keys does not count (pixi skips it too). A file that
// has the text but is not TOML counts: pixi stops on it, and LoadConfig
// then reports where it is broken instead of a confusing "no workspace".
func pixiPyproject(data []byte) bool {
	if !bytes.Contains(data, []byte("[tool.pixi")) {
		return false
	}
	var doc struct {
		Tool struct{ Pixi map[string]any } `toml:"tool"`
	}
	if toml.Unmarshal(data, &doc) != nil {
		return true
	}
	for _, table := range []string{"workspace", "project"} { // project: pixi before 0.40
		if _, ok := doc.Tool.Pixi[table].(map[string]any); ok {
			return true
		}
	}
	return false
}

// rootOfExecutable returns X when exe is X/.pixi/... and X is a workspace.
func rootOfExecutable(exe string) (string, bool) {
	if exe == "" {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	const marker = string(filepath.Separator) + ".pixi" + string(filepath.Separator)
	i := strings.LastIndex(exe, marker)
	if i <= 0 {
		return "", false
	}
	root := exe[:i]
	if ManifestPath(root) == "" {
		return "", false
	}
	return root, true
}

// SameDir says whether a and b are the same file, whatever the path.
func SameDir(a, b string) bool {
	x, err := os.Stat(a)
	y, err2 := os.Stat(b)
	return err == nil && err2 == nil && os.SameFile(x, y)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func resolve(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
