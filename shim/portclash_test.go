package shim

import (
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/lima"
)

// A port another process holds is a doctor warning with what to do: the
// VM works, a client on the host just reaches the wrong server.
func TestCheckPorts(t *testing.T) {
	st := status{State: lima.Running, PortClashes: []lima.PortClash{
		{Addr: "127.0.0.1:18090", Holder: "python3 (pid 123)", PID: 123},
		{Addr: "127.0.0.1:18091", Holder: "the VM of /src/other", PID: 9, Shared: true},
	}}
	c := checkPorts(st)
	if c.Name != "ports" || !c.OK || !c.Warning ||
		!strings.Contains(c.Detail, "port 127.0.0.1:18090 is not forwarded to this VM: python3 (pid 123) holds it on the host") ||
		!strings.Contains(c.Detail, "port 127.0.0.1:18091 is held on the host by the VM of /src/other") ||
		c.Fix != "publish another host port, or stop the other" {
		t.Errorf("two clashes: %+v", c)
	}
	st.PortClashes = nil
	if c := checkPorts(st); !c.OK || c.Warning {
		t.Errorf("no clash: %+v", c)
	}
	if c := checkPorts(status{State: lima.Stopped}); !c.OK || c.Warning || !strings.Contains(c.Detail, "not running") {
		t.Errorf("a stopped VM: %+v", c)
	}
}
