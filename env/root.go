// Package env finds the pixi project a call belongs to and derives every
// path and variable pixi-lima hands to Lima and Docker. It is pure: it reads
// the file system but spawns nothing and knows nothing of Lima's packages.
package env

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Manifest is the file that marks a pixi workspace root.
const Manifest = "pixi.toml"

// ErrNoProject is returned when no pixi workspace encloses the call.
var ErrNoProject = errors.New("no pixi workspace found")

// FindRoot returns the pixi workspace a call acts on. In order:
//  1. the workspace whose .pixi/ holds our own executable, so that a shim in
//     one repo's .pixi/bin never acts on another repo, whatever the cwd;
//  2. PIXI_PROJECT_ROOT, which pixi sets for tasks and `pixi shell`;
//  3. the nearest directory at or above cwd that has a pixi.toml.
//
// The result has its symlinks resolved: Lima resolves them too, and the
// socket budget must be computed on the path Lima will use.
func FindRoot(exe string, getenv func(string) string, cwd string) (string, error) {
	if root, ok := rootOfExecutable(exe); ok {
		return resolve(root)
	}
	if root := getenv("PIXI_PROJECT_ROOT"); root != "" {
		if _, err := os.Stat(filepath.Join(root, Manifest)); err != nil {
			return "", fmt.Errorf("%w: PIXI_PROJECT_ROOT=%s has no %s", ErrNoProject, root, Manifest)
		}
		return resolve(root)
	}
	for dir := cwd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, Manifest)); err == nil {
			return resolve(dir)
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%w in %s or any parent", ErrNoProject, cwd)
		}
	}
}

// rootOfExecutable returns X when exe is X/.pixi/... and X has a pixi.toml.
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
	if _, err := os.Stat(filepath.Join(root, Manifest)); err != nil {
		return "", false
	}
	return root, true
}

func resolve(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
