package listeners

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Bind is what a bind on an address says of it now.
type Bind int

const (
	BindFree    Bind = iota // nothing holds the address
	BindInUse               // a socket holds it, whether this user may see its process or not
	BindUnknown             // the bind failed otherwise (a privileged port on Linux)
)

// Probe binds addr, without listening, with SO_REUSEADDR and SO_REUSEPORT
// as a forwarder that shares its ports sets them, so that it fails only
// where that forwarder's own listen would. It tells a port held by another
// user's process, which lsof without root does not list on macOS, from a
// free one.
func Probe(addr netip.AddrPort) Bind {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if a := addr.Addr().Unmap(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return BindUnknown
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1) != nil {
			return BindUnknown
		}
	}
	switch err := unix.Bind(fd, sa); {
	case err == nil:
		return BindFree
	case errors.Is(err, unix.EADDRINUSE):
		return BindInUse
	}
	return BindUnknown
}
