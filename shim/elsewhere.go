package shim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pixi-lima/pixi-lima/env"
)

// warnElsewhere says, once for each, when a call runs in a pixi workspace
// other than the project whose docker this is: from A's `pixi shell`,
// `cd ../B && docker compose up` runs in A's VM, puts B's volumes on A's
// disk, and B's bind mounts are empty unless A's VM mounts them. It keeps
// serving, and returns the workspaces warned about so far, which the fast
// path then lets through.
func (s *session) warnElsewhere(p *project) []string {
	file := p.paths.Elsewhere()
	data, _ := os.ReadFile(file)
	known := strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' })
	pwd := s.getenv("PWD") // the path the user typed, as the fast path sees it
	if !filepath.IsAbs(pwd) {
		pwd, _ = os.Getwd()
	}
	other := env.Enclosing(pwd)
	if other == "" || slices.Contains(known, other) || env.SameDir(other, p.paths.Root) {
		return known
	}
	s.printf("warning: %s is a pixi workspace of its own, but this docker is the one of %s: containers, images and volumes go to that project's VM, and bind mounts from %s are empty there unless it mounts them. For %s's own engine: pixi run --manifest-path %s docker … (said once)",
		other, p.paths.Root, other, filepath.Base(other), other)
	if strings.Contains(other, "\n") {
		return known // cannot be listed: warned again next time
	}
	if f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		_, err = f.WriteString(other + "\n")
		if f.Close() == nil && err == nil {
			known = append(known, other)
		}
	}
	return known
}
