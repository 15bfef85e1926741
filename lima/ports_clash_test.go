package lima

import (
	"fmt"
	"strings"
	"testing"
)

// Lines of ha.stderr.log as Lima v1.2.2's host agent writes them
// (logrus' JSON), for the container's port published as
// 127.0.0.1:18090 and the guest's 0.0.0.0/[::] pair of port 18091.
const (
	fwd18090    = `{"level":"info","msg":"Forwarding TCP from 127.0.0.1:18090 to 127.0.0.1:18090","time":"2026-12-04T04:10:01Z"}`
	inUse18090  = `{"level":"error","msg":"failed to listen to TCP connection: listen tcp 127.0.0.1:18090: bind: address already in use","time":"2026-12-04T04:10:01Z"}`
	closed18090 = `{"level":"debug","msg":"Port forwarding closed proto:tcp host:127.0.0.1:18090 guest:127.0.0.1:18090","time":"2026-12-04T04:10:09Z"}`
	removing    = `{"level":"debug","msg":"removing listener for hostAddress: 127.0.0.1:18090, guestAddress: 127.0.0.1:18090","time":"2026-12-04T04:10:09Z"}`
	event       = `{"level":"debug","msg":"guest agent event: time:{seconds:1796357401} local_ports_added:{ip:\"127.0.0.1\" port:18090 protocol:\"tcp\"}","time":"2026-12-04T04:10:01Z"}`
	accept      = `{"level":"error","msg":"failed to accept TCP connection: accept tcp 127.0.0.1:18090: use of closed network connection","time":"2026-12-04T04:10:09Z"}`
	fwd18091v4  = `{"level":"info","msg":"Forwarding TCP from 0.0.0.0:18091 to 127.0.0.1:18091","time":"2026-12-04T04:11:00Z"}`
	fwd18091v6  = `{"level":"info","msg":"Forwarding TCP from [::]:18091 to 127.0.0.1:18091","time":"2026-12-04T04:11:00Z"}`
	inUse18091  = `{"level":"error","msg":"failed to listen to TCP connection: listen tcp 127.0.0.1:18091: bind: address already in use","time":"2026-12-04T04:11:00Z"}`
	closed18091 = `{"level":"debug","msg":"Port forwarding closed proto:tcp host:127.0.0.1:18091 guest:0.0.0.0:18091","time":"2026-12-04T04:11:05Z"}`
	// Linux: a port below 1024 needs root on the host; no clash.
	fwd80    = `{"level":"info","msg":"Forwarding TCP from 127.0.0.1:80 to 127.0.0.1:80","time":"2026-12-04T04:12:00Z"}`
	denied80 = `{"level":"error","msg":"failed to listen to TCP connection: listen tcp 127.0.0.1:80: bind: permission denied","time":"2026-12-04T04:12:00Z"}`
	// macOS listens on 0.0.0.0 for 127.0.0.1 below port 1024, and says so twice.
	inUse80Darwin  = `{"level":"error","msg":"failed to listen tcp: listen tcp 0.0.0.0:80: bind: address already in use","time":"2026-12-04T04:12:00Z"}`
	inUse80Darwin2 = `{"level":"error","msg":"failed to listen to TCP connection: listen tcp 0.0.0.0:80: bind: address already in use","time":"2026-12-04T04:12:00Z"}`
	// Lima's ssh forwarder (LIMA_SSH_PORT_FORWARDER=true).
	sshFwd  = `{"level":"info","msg":"Forwarding TCP from 127.0.0.1:18092 to 127.0.0.1:18092","time":"2026-12-04T04:13:00Z"}`
	sshStop = `{"level":"info","msg":"Stopping forwarding TCP from 127.0.0.1:18092 to 127.0.0.1:18092","time":"2026-12-04T04:13:05Z"}`
	udp     = `{"level":"info","msg":"Forwarding UDP from 127.0.0.1:18093 to 127.0.0.1:18093","time":"2026-12-04T04:14:00Z"}`
	garbage = `panic: runtime error: invalid memory address or nil pointer dereference`
)

// TestParseForwards: a host address is clashing while its last listen
// failed and the guest still publishes the port.
func TestParseForwards(t *testing.T) {
	for _, c := range []struct {
		name  string
		lines []string
		want  string // host addresses, "!" after each whose listen failed
	}{
		{"forwarded", []string{event, fwd18090}, "127.0.0.1:18090"},
		{"in use", []string{event, fwd18090, inUse18090}, "127.0.0.1:18090!"},
		{"in use, then the container stopped", []string{fwd18090, inUse18090, removing, closed18090}, ""},
		{"forwarded, then stopped", []string{fwd18090, removing, closed18090, accept}, ""},
		{"in use, then published again once free", []string{fwd18090, inUse18090, closed18090, fwd18090}, "127.0.0.1:18090"},
		{"in use, then stopped and published again", []string{fwd18090, inUse18090, closed18090, fwd18090, inUse18090}, "127.0.0.1:18090!"},
		{"two guest addresses, one host port", []string{fwd18091v4, fwd18091v6, inUse18091, inUse18091}, "127.0.0.1:18091!"},
		{"one of two guest addresses gone", []string{fwd18091v4, fwd18091v6, inUse18091, inUse18091, closed18091}, "127.0.0.1:18091!"},
		{"permission denied is no clash", []string{fwd80, denied80}, "127.0.0.1:80"},
		{"macOS below 1024", []string{fwd80, inUse80Darwin, inUse80Darwin2}, "127.0.0.1:80!"},
		{"ssh forwarder", []string{sshFwd}, "127.0.0.1:18092"},
		{"ssh forwarder, stopped", []string{sshFwd, sshStop}, ""},
		{"a failure without a forward", []string{inUse18090}, ""},
		{"udp and garbage", []string{udp, garbage, "", "{"}, ""},
		{"two ports", []string{fwd18090, fwd18091v4, inUse18091}, "127.0.0.1:18090 127.0.0.1:18091!"},
	} {
		var got []string
		for _, f := range parseForwards([]byte(strings.Join(c.lines, "\n") + "\n")) {
			s := f.host.String()
			if f.failed {
				s += "!"
			}
			got = append(got, s)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPortClashWords(t *testing.T) {
	for _, c := range []struct {
		c    PortClash
		want string
	}{
		{PortClash{Addr: "127.0.0.1:18090", Holder: "python3 (pid 123)", PID: 123},
			"port 127.0.0.1:18090 is not forwarded to this VM: python3 (pid 123) holds it on the host, so a client on the host reaches that, not this project's container (fix: publish another host port, or stop the other)"},
		{PortClash{Addr: "127.0.0.1:18090", Holder: "the VM of /src/other", PID: 9, Shared: true},
			"port 127.0.0.1:18090 is held on the host by the VM of /src/other as well as by this VM, so a client on the host may reach that, not this project's container (fix: publish another host port, or stop the other)"},
		{PortClash{Addr: "127.0.0.1:18090"},
			"port 127.0.0.1:18090 is not forwarded to this VM: it was in use on the host when the VM's container published it (fix: restart the container that publishes it)"},
		{PortClash{Addr: "127.0.0.1:80", Holder: "a process of another user", OtherUser: true},
			"port 127.0.0.1:80 is not forwarded to this VM: a process of another user holds it on the host, so a client on the host reaches that, not this project's container (fix: sudo lsof -iTCP:80 -sTCP:LISTEN names it; stop it, or publish another host port)"},
	} {
		if got := fmt.Sprint(c.c); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.c, got, c.want)
		}
	}
}
