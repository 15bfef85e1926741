package shim

import (
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// A mount this machine lacks is listed as a warning, with what to do: the
// VM runs without it, nothing is broken.
func TestCheckMounts(t *testing.T) {
	p := &project{paths: env.NewPaths("/src/repo"), config: settings.Config{
		Mounts:        []settings.Mount{{Location: "/data"}},
		MissingMounts: []string{"/home/bob/datasets"},
	}}
	c := checkMounts(p)
	if c.Name != "mounts" || !c.OK || !c.Warning || !strings.Contains(c.Detail, "/home/bob/datasets does not exist on this machine") ||
		c.Fix != "create it, then pixi-lima restart" {
		t.Errorf("a missing mount: %+v", c)
	}
	p.config.MissingMounts = nil
	if c := checkMounts(p); !c.OK || c.Warning || !strings.Contains(c.Detail, "/data") {
		t.Errorf("every mount present: %+v", c)
	}
}
