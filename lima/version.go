package lima

import (
	"runtime/debug"

	"github.com/lima-vm/lima/pkg/version"
)

// Lima's packages validate an instance's lima.yaml against their own
// version (minimumLimaVersion, which template://docker sets), and that
// version is only ever filled by limactl's -ldflags -X. Built without it,
// pixi-lima's pkg/store would report every such instance with an empty
// status and "can't parse builtin Lima version". The module version go.mod
// pins is the same version limactl is built from.
func init() {
	if version.Version != "<unknown>" {
		return
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/lima-vm/lima" && dep.Version != "" {
				version.Version = dep.Version
			}
		}
	}
}
