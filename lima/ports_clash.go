package lima

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/pixi-lima/pixi-lima/lima/listeners"
)

// PortClash is a host port that Lima forwards to this VM and another
// process on the host holds too.
type PortClash struct {
	Addr   string `json:"addr"`             // on the host, as Lima forwards it: 127.0.0.1:18090
	Holder string `json:"holder,omitempty"` // the other process in words; "" when none listens now
	PID    int    `json:"pid,omitempty"`    // the holder's, when this user may read it
	// Shared: Lima listens there too (SO_REUSEPORT); the kernel picks one.
	Shared bool `json:"shared,omitempty"`
	// OtherUser: a process this user may not see holds it, as a bind that
	// fails says (listeners.Probe), where lsof lists no holder.
	OtherUser bool `json:"otherUser,omitempty"`
}

// Detail says what the clash means for a client on the host.
func (c PortClash) Detail() string {
	switch {
	case c.Shared:
		return "port " + c.Addr + " is held on the host by " + c.Holder + " as well as by this VM, so a client on the host may reach that, not this project's container"
	case c.Holder == "":
		return "port " + c.Addr + " is not forwarded to this VM: it was in use on the host when the VM's container published it"
	}
	return "port " + c.Addr + " is not forwarded to this VM: " + c.Holder + " holds it on the host, so a client on the host reaches that, not this project's container"
}

// Fix is the one thing to do next.
func (c PortClash) Fix() string {
	switch {
	case c.OtherUser:
		port := netip.MustParseAddrPort(c.Addr).Port()
		return fmt.Sprintf("sudo lsof -iTCP:%d -sTCP:LISTEN names it; stop it, or publish another host port", port)
	case c.Holder == "":
		return "restart the container that publishes it"
	}
	return "publish another host port, or stop the other"
}

func (c PortClash) String() string { return c.Detail() + " (fix: " + c.Fix() + ")" }

// PortClashes lists the clashes of the running instance's forwarded TCP
// ports, from the host agent's log and who listens on them now.
func PortClashes(instDir string) []PortClash { return portClashes(instDir, listeners.TCP) }

// portClashes is PortClashes with list finding the listeners. A failed
// forward with no holder in sight is told apart by a bind: another user's
// process (lsof without root lists none on macOS), or nobody any more.
func portClashes(instDir string, list func(ports []uint16, first ...int) []listeners.Listener) []PortClash {
	ha, ours := limaPID(instDir, "ha.pid")
	if !ours {
		return nil
	}
	log, err := os.ReadFile(filepath.Join(instDir, "ha.stderr.log"))
	if err != nil {
		return nil
	}
	fwds := parseForwards(log)
	if len(fwds) == 0 {
		return nil
	}
	var ports []uint16
	for _, f := range fwds {
		ports = append(ports, f.host.Port())
	}
	all := list(slices.Compact(slices.Sorted(slices.Values(ports))), ha)
	mine := map[int]bool{ha: true}
	isMine := func(pid int) bool {
		if _, known := mine[pid]; !known {
			// Lima's ssh master holds the ports under LIMA_SSH_PORT_FORWARDER.
			argv, _ := commandLine(pid)
			mine[pid] = isLimaProcess(argv, instDir)
		}
		return mine[pid]
	}
	var clashes []PortClash
	for _, f := range fwds {
		var ourAddrs, others []listeners.Listener
		for _, l := range all {
			switch {
			case !l.Holds(f.host):
			case l.PID != 0 && isMine(l.PID):
				ourAddrs = append(ourAddrs, l)
			default:
				others = append(others, l)
			}
		}
		if len(ourAddrs) > 0 {
			// The kernel prefers the most specific bind.
			others = slices.DeleteFunc(others, func(l listeners.Listener) bool {
				return !slices.ContainsFunc(ourAddrs, func(o listeners.Listener) bool { return o.Addr == l.Addr })
			})
			if len(others) > 0 {
				clashes = append(clashes, clash(f.host, others, true))
			}
			continue
		}
		if !f.failed {
			continue
		}
		if len(others) > 0 {
			clashes = append(clashes, clash(f.host, others, false))
			continue
		}
		c := PortClash{Addr: f.host.String()}
		if listeners.Probe(limaListens(f.host)) == listeners.BindInUse {
			c.Holder, c.OtherUser = otherUser, true
		}
		clashes = append(clashes, c)
	}
	return clashes
}

// clash names the first holder that can be named.
func clash(addr netip.AddrPort, others []listeners.Listener, shared bool) PortClash {
	c := PortClash{Addr: addr.String(), Shared: shared}
	if len(others) == 0 {
		return c
	}
	slices.SortFunc(others, func(a, b listeners.Listener) int {
		return cmp.Or(cmp.Compare(unnamed(a), unnamed(b)), cmp.Compare(a.PID, b.PID))
	})
	c.PID = others[0].PID
	c.Holder = holderName(c.PID)
	return c
}

// otherUser names a holder whose process this user may not see.
const otherUser = "a process of another user"

// limaListens is the address Lima's host agent listens on to forward to
// host: on macOS 0.0.0.0 for 127.0.0.1 below port 1024, which needs no root
// there (pkg/portfwd/listener_darwin.go).
func limaListens(host netip.AddrPort) netip.AddrPort {
	if runtime.GOOS == "darwin" && host.Port() < 1024 && host.Addr() == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), host.Port())
	}
	return host
}

// unnamed sorts a listener whose process cannot be read last.
func unnamed(l listeners.Listener) int {
	if l.PID == 0 {
		return 1
	}
	return 0
}

// holderName names a process that holds a port, another VM by its project.
func holderName(pid int) string {
	if pid == 0 {
		return "another process"
	}
	argv, ok := commandLine(pid)
	if !ok {
		if name := processName(pid); name != "" {
			return fmt.Sprintf("%s (pid %d)", name, pid)
		}
		return "another process"
	}
	if filepath.Base(argv[0]) == "limactl" {
		if i := slices.Index(argv, "--pidfile"); i > 0 && i+1 < len(argv) {
			dir := filepath.Dir(argv[i+1])
			home := filepath.Dir(dir) // <root>/.pixi/lima for a pixi-lima project
			if filepath.Base(home) == "lima" && filepath.Base(filepath.Dir(home)) == ".pixi" {
				return "the VM of " + filepath.Dir(filepath.Dir(home))
			}
			return fmt.Sprintf("Lima VM %q (pid %d)", filepath.Base(dir), pid)
		}
	}
	return fmt.Sprintf("%s (pid %d)", filepath.Base(argv[0]), pid)
}

// forward is what the host agent's log says of one host address.
type forward struct {
	host   netip.AddrPort
	guests []string // the guest addresses forwarded to it now
	failed bool     // its last listen failed: the address was in use
}

// The host agent's log lines about TCP forwards, as Lima's pkg/portfwd and
// pkg/hostagent/port.go (the ssh forwarder) write them.
const (
	logForwarding = "Forwarding TCP from "                            // <guest> to <host>
	logFailed     = "failed to listen to TCP connection: listen tcp " // <host>: bind: address already in use
	logInUse      = "address already in use"
	logClosed     = "Port forwarding closed proto:tcp host:" // <host> guest:<guest>
	logStopping   = "Stopping forwarding TCP from "          // <guest> to <host>
)

// parseForwards reads ha.stderr.log and returns the host addresses whose
// forward the guest still wants, in the order they first appear.
func parseForwards(log []byte) []forward {
	var fwds []*forward
	find := func(host netip.AddrPort) *forward {
		for _, f := range fwds {
			if f.host == host {
				return f
			}
		}
		f := &forward{host: host}
		fwds = append(fwds, f)
		return f
	}
	drop := func(host netip.AddrPort, guest string) {
		f := find(host)
		f.guests = slices.DeleteFunc(f.guests, func(g string) bool { return g == guest })
		if len(f.guests) == 0 {
			f.failed = false
		}
	}
	for line := range bytes.Lines(log) {
		if !bytes.Contains(line, []byte("TCP")) && !bytes.Contains(line, []byte("proto:tcp")) {
			continue
		}
		var entry struct{ Msg string }
		if json.Unmarshal(line, &entry) != nil {
			continue
		}
		msg := entry.Msg
		if rest, ok := strings.CutPrefix(msg, logForwarding); ok {
			if guest, host, ok := cutAddrs(rest, " to "); ok {
				f := find(host)
				f.failed = false
				if !slices.Contains(f.guests, guest) {
					f.guests = append(f.guests, guest)
				}
			}
		} else if rest, ok := strings.CutPrefix(msg, logStopping); ok {
			if guest, host, ok := cutAddrs(rest, " to "); ok {
				drop(host, guest)
			}
		} else if rest, ok := strings.CutPrefix(msg, logClosed); ok {
			if host, guest, ok := strings.Cut(rest, " guest:"); ok {
				if h, err := netip.ParseAddrPort(host); err == nil {
					drop(h, guest)
				}
			}
		} else if rest, ok := strings.CutPrefix(msg, logFailed); ok && strings.HasSuffix(rest, logInUse) {
			addr, _, _ := strings.Cut(rest, ": ")
			a, err := netip.ParseAddrPort(addr)
			if err != nil {
				continue
			}
			// macOS listens on 0.0.0.0 for 127.0.0.1 below port 1024.
			for _, f := range fwds {
				if f.host.Port() == a.Port() && (f.host.Addr() == a.Addr() || a.Addr().IsUnspecified()) && len(f.guests) > 0 {
					f.failed = true
				}
			}
		}
	}
	var wanted []forward
	for _, f := range fwds {
		if len(f.guests) > 0 {
			wanted = append(wanted, *f)
		}
	}
	return wanted
}

// cutAddrs splits "<guest> to <host>" and parses the host address.
func cutAddrs(s, sep string) (guest string, host netip.AddrPort, ok bool) {
	guest, h, ok := strings.Cut(s, sep)
	if !ok {
		return "", netip.AddrPort{}, false
	}
	host, err := netip.ParseAddrPort(h)
	return guest, host, err == nil
}

// PortLog is the log PortClashes reads, and its size now.
func PortLog(instDir string) (string, int64) {
	file := filepath.Join(instDir, "ha.stderr.log")
	info, err := os.Stat(file)
	if err != nil {
		return file, -1
	}
	return file, info.Size()
}
