package shim

import (
	"slices"
	"strings"

	"github.com/pixi-lima/pixi-lima/lima"
)

// warnPortClashes says which ports of the VM another process on the host
// holds: docker run -p succeeded, yet a client on the host reaches that
// process, and nothing else would say so.
func (s *session) warnPortClashes(p *project) {
	for _, c := range lima.PortClashes(p.paths.InstanceDir(p.config.Name)) {
		s.printf("warning: %s", c)
	}
}

// checkPorts is doctor's view of the clashes status found. Nothing of
// pixi-lima is broken, so each is a warning.
func checkPorts(st status) check {
	switch {
	case st.State != lima.Running:
		return check{Name: "ports", OK: true, Detail: "the VM forwards no port while it is not running"}
	case len(st.PortClashes) == 0:
		return check{Name: "ports", OK: true, Detail: "no port the VM forwards is held by another process on the host"}
	}
	var details, fixes []string
	for _, c := range st.PortClashes {
		details = append(details, c.Detail())
		if f := c.Fix(); !slices.Contains(fixes, f) {
			fixes = append(fixes, f)
		}
	}
	return check{Name: "ports", OK: true, Warning: true, Detail: strings.Join(details, "; "), Fix: strings.Join(fixes, "; ")}
}
