package listeners

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestProbe: a bind with the host agent's socket options tells a port
// held now (by a plain listener, whoever owns it) from a free one, and
// does not take the place of a listener that shares its port as Lima's
// do (SO_REUSEPORT).
func TestProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(l.Addr().String())
	if got := Probe(addr); got != BindInUse {
		t.Errorf("Probe(%s), held: %v, want BindInUse", addr, got)
	}
	l.Close()
	if got := Probe(addr); got != BindFree {
		t.Errorf("Probe(%s), closed: %v, want BindFree", addr, got)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return err
	}}
	shared, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if got := Probe(netip.MustParseAddrPort(shared.Addr().String())); got != BindFree {
		t.Errorf("Probe of a port Lima could share: %v, want BindFree", got)
	}
}
