package listeners

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
)

// Lines as a little-endian Linux host prints them: python3 -m http.server
// on 127.0.0.1:18099, a socket on [::]:18098, and a port not asked for.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51 1 00000000fe7d0591 100 0 0 10 0
   1: 0100007F:46B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1100219 1 00000000fda069a1 100 0 0 10 0
   2: 0100007F:46B3 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1100300 1 00000000fda069a1 100 0 0 10 0
`

const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:46B2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1100211 1 000000008d8d494d 100 0 0 10 0
   1: 00000000000000000000000001000000:46B2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1100212 1 000000008d8d494d 100 0 0 10 0
`

func TestParseProcNet(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the lines are a little-endian host's")
	}
	ports := map[uint16]bool{18099: true, 18098: true}
	got := append(parseProcNet([]byte(procNetTCP), ports), parseProcNet([]byte(procNetTCP6), ports)...)
	want := []socket{
		{netip.MustParseAddrPort("127.0.0.1:18099"), 1100219}, // the connected socket on the same port is no listener
		{netip.MustParseAddrPort("[::]:18098"), 1100211},
		{netip.MustParseAddrPort("[::1]:18098"), 1100212},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseProcNet = %v, want %v", got, want)
	}
}

// What `lsof -nP -w -sTCP:LISTEN -iTCP:18099 -iTCP:18098 -Fpn` prints.
func TestParseLsof(t *testing.T) {
	out := "p20634\nf3\nn127.0.0.1:18099\np20640\nf3\nn*:18098\np20641\nn[::1]:18098\nnnot-an-address\n"
	got := parseLsof([]byte(out))
	want := []Listener{
		{netip.MustParseAddrPort("127.0.0.1:18099"), 20634},
		{netip.MustParseAddrPort("0.0.0.0:18098"), 20640},
		{netip.MustParseAddrPort("[::1]:18098"), 20641},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseLsof = %v, want %v", got, want)
	}
}

func TestHolds(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:18090")
	for _, c := range []struct {
		l    string
		want bool
	}{
		{"127.0.0.1:18090", true},
		{"0.0.0.0:18090", true},
		{"[::]:18090", true},
		{"[::1]:18090", false},
		{"127.0.0.1:18091", false},
		{"192.168.1.5:18090", false},
	} {
		if got := (Listener{Addr: netip.MustParseAddrPort(c.l)}).Holds(addr); got != c.want {
			t.Errorf("a listener on %s holds %s: %v, want %v", c.l, addr, got, c.want)
		}
	}
}
