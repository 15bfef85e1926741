package env

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Aliases lists the other paths that reach the project at root, each to be
// mounted too: docker sends bind mounts as the shell spells them.
func Aliases(root string, getenv func(string) string, goos string) []string {
	rootInfo, err := os.Stat(root)
	if err != nil {
		return nil
	}
	isRoot := func(p string) bool {
		info, err := os.Stat(p)
		return err == nil && os.SameFile(info, rootInfo)
	}
	var aliases []string
	add := func(p string) {
		if p = filepath.Clean(p); p != root && !slices.Contains(aliases, p) && isRoot(p) {
			aliases = append(aliases, p)
		}
	}
	if pwd := getenv("PWD"); filepath.IsAbs(pwd) {
		for dir := filepath.Clean(pwd); ; dir = filepath.Dir(dir) {
			if isRoot(dir) {
				add(dir)
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if r := getenv("PIXI_PROJECT_ROOT"); filepath.IsAbs(r) {
		add(r)
	}
	if rest, ok := strings.CutPrefix(root, "/private/"); ok && goos == "darwin" {
		add("/" + rest)
	}
	slices.Sort(aliases)
	return aliases
}
