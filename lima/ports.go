package lima

import (
	"strings"
	"time"

	"github.com/lima-vm/lima/pkg/store"
)

// portTick is how often Lima's guest agent looks for new listening ports
// in the guest. At Lima's default, 3 s, a host client that connects right
// after `docker run -d -p` or `compose up -d` returns is refused for up to
// 3 s, the failure Testcontainers users report most on Lima and Colima
// (abiosoft/colima#71). A look reads /proc/net/{tcp,udp}{,6}: cheap, as
// long as it does not also run iptables (see auditReset).
const portTick = 200 * time.Millisecond

// auditReset turns the kernel's audit off before the guest agent starts.
// The agent lists iptables' NAT rules (a process per look) only for a
// while after a netfilter change, which it learns from the audit log, but
// only when it was the one to turn auditing on: an agent restarted with
// auditing already on (Lima's boot restarts it) runs iptables at every
// look for good, which at portTick costs half a core under QEMU's
// emulation (bench/run.sh, row 8). No backslashes or double quotes inside
// the code: the line goes through yq and systemd's quoting.
const auditReset = `ExecStartPre=-/usr/bin/python3 -c "import socket,struct; s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,9); p=struct.pack('=8I',1,0,0,0,0,0,0,0); s.send(struct.pack('=IHHII',16+len(p),1001,5,1,0)+p); s.recv(4096)"`

// portsMarker is the second line of the provision script that sets
// portTick, so that a start can tell whether an instance has it.
const portsMarker = "# pixi-lima port tick"

// portsProvision gives the guest agent portTick and auditReset. Lima's
// boot rewrites the agent's unit (lima-guestagent install-systemd) at every
// boot and restarts it; a drop-in keeps the same command line with --tick
// added, derived anew at every boot, and the agent restarts only when the
// drop-in changes. No backslashes: yq's string literals do not keep them.
func portsProvision() map[string]string {
	script := `#!/bin/sh
` + portsMarker + `
set -eu
unit=/etc/systemd/system/lima-guestagent.service
[ -f "$unit" ] || exit 0
start=$(sed -n 's/^ExecStart=//p' "$unit")
conf=/etc/systemd/system/lima-guestagent.service.d/pixi-lima-tick.conf
want=$(
  echo "[Service]"
  if [ -x /usr/bin/python3 ]; then
    cat <<'EOF'
` + auditReset + `
EOF
  fi
  echo "ExecStart="
  echo "ExecStart=$start --tick=` + portTick.String() + `"
)
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  mkdir -p "${conf%/*}"
  echo "$want" >"$conf"
  systemctl daemon-reload
  systemctl try-restart lima-guestagent.service
fi
`
	return map[string]string{"mode": "system", "script": script}
}

// portsExpression adds portsProvision to an instance.
func portsExpression() string {
	return ".provision += [" + mustJSON(portsProvision()) + "]"
}

// hasPortTick says whether the instance's lima.yaml sets portTick.
func hasPortTick(inst *store.Instance) bool {
	for _, p := range inst.Config.Provision {
		if strings.Contains(p.Script, portsMarker) {
			return true
		}
	}
	return false
}
