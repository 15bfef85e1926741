// Package env finds the pixi project a call belongs to and derives the
// paths and variables pixi-lima hands to Lima and Docker. It is pure: it
// reads the file system, spawns nothing and imports no Lima package.
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

// Manifest and Pyproject mark a pixi workspace; Manifest wins over Pyproject.
const (
	Manifest  = "pixi.toml"
	Pyproject = "pyproject.toml"
)

// ErrNoProject is returned when no pixi workspace encloses the call.
var ErrNoProject = errors.New("no pixi workspace found")

// FindRoot returns the workspace whose .pixi/ holds exe, else PIXI_PROJECT_ROOT,
// else the nearest at or above cwd, its symlinks resolved as Lima does.
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

// ManifestPath is the manifest that makes dir a workspace, as pixi picks it.
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

// pixiPyproject counts text that is not TOML, for settings.Load to report.
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
