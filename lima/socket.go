package lima

import (
	"strings"

	"github.com/lima-vm/lima/pkg/store"
)

// socketMarker marks the provision script of socketProvision.
const socketMarker = "# pixi-lima docker.sock"

// socketProvision makes /var/run/docker.sock in a rootless guest lead to
// the engine's socket, for the containers that mount it. The link must
// exist before dockerd starts, as rootlesskit copies /run then; the system
// docker.socket, a second engine at that path, is turned off.
func socketProvision() map[string]string {
	script := `#!/bin/sh
` + socketMarker + `
set -eu
if systemctl is-enabled -q docker.socket 2>/dev/null; then systemctl disable --now docker.socket; fi
conf=/etc/tmpfiles.d/pixi-lima-docker-sock.conf
want="L+ /run/docker.sock - - - - /run/user/{{.UID}}/docker.sock"
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  echo "$want" >"$conf"
  systemd-tmpfiles --create "$conf"
  systemctl --user -M "{{.User}}@" try-restart docker.service 2>/dev/null || true
fi
`
	return map[string]string{"mode": "system", "script": script}
}

// socketExpression adds socketProvision to an instance.
func socketExpression() string {
	return ".provision += [" + mustJSON(socketProvision()) + "]"
}

// hasSocketLink says whether the instance's lima.yaml sets up the link.
func hasSocketLink(inst *store.Instance) bool {
	for _, p := range inst.Config.Provision {
		if strings.Contains(p.Script, socketMarker) {
			return true
		}
	}
	return false
}

// dockerMode says whether the instance runs Docker rootful, by the socket
// it forwards; known is false for a template that forwards none.
func dockerMode(inst *store.Instance) (rootful, known bool) {
	for _, f := range inst.Config.PortForwards {
		if strings.HasSuffix(f.GuestSocket, "/docker.sock") {
			return !strings.HasPrefix(f.GuestSocket, "/run/user/"), true
		}
	}
	return false, false
}
