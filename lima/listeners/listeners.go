// Package listeners finds the processes that listen on TCP ports of this
// host, as far as this user may see them: /proc on Linux, lsof on macOS;
// and whether a port is held at all, by a bind that never listens. It
// knows nothing of Lima.
package listeners

import "net/netip"

// Listener is one listening TCP socket. PID is 0 when its process cannot
// be found: another user's, whose open files this user cannot read.
type Listener struct {
	Addr netip.AddrPort
	PID  int
}

// Holds says whether l takes the connections a client makes to addr:
// the same address, or a wildcard one, on the same port.
func (l Listener) Holds(addr netip.AddrPort) bool {
	return l.Addr.Port() == addr.Port() &&
		(l.Addr.Addr() == addr.Addr() || l.Addr.Addr().IsUnspecified() || addr.Addr().IsUnspecified())
}
