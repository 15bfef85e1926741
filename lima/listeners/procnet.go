package listeners

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// socket is a listening socket as /proc/net/tcp{,6} shows it.
type socket struct {
	addr  netip.AddrPort
	inode uint64
}

// stateListen is TCP_LISTEN in the st column of /proc/net/tcp.
const stateListen = "0A"

// parseProcNet returns the sockets of /proc/net/tcp{,6} listening on ports.
// The kernel prints each 32-bit word of an address in host byte order.
func parseProcNet(b []byte, ports map[uint16]bool) []socket {
	var found []socket
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != stateListen {
			continue
		}
		hexIP, hexPort, ok := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || !ports[uint16(port)] {
			continue
		}
		raw, err := hex.DecodeString(hexIP)
		if err != nil || len(raw) != 4 && len(raw) != 16 {
			continue
		}
		for i := 0; i < len(raw); i += 4 {
			binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
		}
		ip, _ := netip.AddrFromSlice(raw)
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil || inode == 0 {
			continue
		}
		found = append(found, socket{netip.AddrPortFrom(ip.Unmap(), uint16(port)), inode})
	}
	return found
}
