package lima

import (
	"strings"

	"github.com/lima-vm/lima/pkg/store"
)

// socketMarker is the second line of the provision script that gives
// rootless Docker the usual socket path, so that a start can tell whether
// an instance has it.
const socketMarker = "# pixi-lima docker.sock"

// socketProvision makes /var/run/docker.sock in a rootless guest lead to
// the engine's socket, /run/user/<uid>/docker.sock, for the containers
// that mount it (Traefik, Portainer, CI runners, Testcontainers' Ryuk).
// rootlesskit copies /run into dockerd's namespace when dockerd starts,
// so the link must be there before: systemd-tmpfiles makes it early at
// every boot, and a dockerd that started without it restarts once. The
// system docker's socket, which would start a second, rootful engine at
// that path, is turned off. {{.UID}} and {{.User}} are Lima's template
// variables.
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

// dockerMode says how the instance runs Docker, as Lima's docker templates
// tell by the socket they forward: /var/run/docker.sock when rootful,
// /run/user/{{.UID}}/docker.sock when rootless. known is false for a
// template that forwards neither.
func dockerMode(inst *store.Instance) (rootful, known bool) {
	for _, f := range inst.Config.PortForwards {
		if strings.HasSuffix(f.GuestSocket, "/docker.sock") {
			return !strings.HasPrefix(f.GuestSocket, "/run/user/"), true
		}
	}
	return false, false
}
