package listeners

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// parseLsof reads what `lsof -F pn` prints: a line "p<pid>" before each
// process's files, then "n<address>:<port>" for each, "*" for any address.
func parseLsof(out []byte) []Listener {
	var found []Listener
	pid := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		switch line[0] {
		case 'p':
			pid, _ = strconv.Atoi(line[1:])
		case 'n':
			host, port, ok := cutLast(line[1:], ':')
			n, err := strconv.ParseUint(port, 10, 16)
			if !ok || err != nil || pid == 0 {
				continue
			}
			host = strings.Trim(host, "[]")
			ip, err := netip.ParseAddr(host)
			if host == "*" {
				ip, err = netip.IPv4Unspecified(), nil
			}
			if err == nil {
				found = append(found, Listener{netip.AddrPortFrom(ip.Unmap(), uint16(n)), pid})
			}
		}
	}
	return found
}

// cutLast is strings.Cut at the last sep: an IPv6 address has colons too.
func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
