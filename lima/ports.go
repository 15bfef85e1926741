package lima

import (
	"strings"
	"time"

	"github.com/lima-vm/lima/pkg/store"
)

// portTick is how often Lima's guest agent looks for new listening ports:
// at Lima's default a client connecting right after `docker run -p` is
// refused (https://github.com/abiosoft/colima/issues/71).
const portTick = 200 * time.Millisecond

// auditReset turns the kernel's audit off before the guest agent starts:
// an agent that finds auditing on runs iptables at every look, which at
// portTick costs half a core under emulation. No backslashes or double
// quotes: the line goes through yq and systemd's quoting.
const auditReset = `ExecStartPre=-/usr/bin/python3 -c "import socket,struct; s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,9); p=struct.pack('=8I',1,0,0,0,0,0,0,0); s.send(struct.pack('=IHHII',16+len(p),1001,5,1,0)+p); s.recv(4096)"`

// portsMarker marks the provision script that sets portTick.
const portsMarker = "# pixi-lima port tick"

// portsProvision gives the guest agent portTick and auditReset in a drop-in
// derived anew at every boot, as Lima rewrites the agent's unit then. No
// backslashes: yq's string literals do not keep them.
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
