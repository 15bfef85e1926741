package lima

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lima-vm/lima/pkg/store"
)

// idleMarker marks the idle watcher's provision script in lima.yaml.
const idleMarker = "# pixi-lima idle-stop"

// idleProvision is the guest side of idle-stop, run as root at every boot:
// a watcher that sees containers and docker's clients directly and powers
// the guest off cleanly. The limit lives in /run, so that a boot without
// this script leaves the timer idle. No tabs: yq does not read them.
func idleProvision(limit time.Duration) map[string]string {
	script := `#!/bin/sh
` + idleMarker + `
set -eu
echo ` + strconv.Itoa(int(limit.Seconds())) + ` >/run/pixi-lima-idle-limit
rm -f /run/pixi-lima-idle-since /run/pixi-lima-idle-checked
mkdir -p /usr/local/libexec
cat >/usr/local/libexec/pixi-lima-idle <<'WATCHER'
#!/bin/sh
# Idle means nothing happened since the last look, not only at it.
limit=$(cat /run/pixi-lima-idle-limit 2>/dev/null) || exit 0
now=$(cut -d. -f1 /proc/uptime)
last=$(cat /run/pixi-lima-idle-checked 2>/dev/null) || last=0
clock=$(date +%s)
echo "$clock" >/run/pixi-lima-idle-checked
busy() {
  # A container runs (every running container has a containerd shim,
  # however silent it is).
  pgrep -f containerd-shim >/dev/null && return 0
  # A client is connected to a docker socket (a build, pull or logs -f
  # holds one): the server's end of each connection is listed with the
  # socket's path, state 03, in the unix sockets of dockerd's network
  # namespace (rootless dockerd has one of its own).
  awk '$6 == "03" && $8 ~ /docker\.sock$/ { busy = 1 } END { exit !busy }' \
    /proc/net/unix $(pgrep -x dockerd | sed 's|.*|/proc/&/net/unix|') 2>/dev/null && return 0
  # A shell session through Lima's ssh (limactl shell): a child of sshd
  # that is not sshd itself (nor a file server for mounts).
  ps -e -o pid=,ppid=,comm= | awk '$3 ~ /^sshd/ { sshd[$1] = 1; next } $3 != "sftp-server" { ppid[$1] = $2 }
    END { for (p in ppid) if (ppid[p] in sshd) busy = 1; exit !busy }' && return 0
  # The engine did something since the last look: a short docker run, a
  # pull or an exec leaves events, however quickly it ended.
  for sock in /var/run/docker.sock /run/user/*/docker.sock; do
    [ -S "$sock" ] || continue
    [ -n "$(DOCKER_HOST="unix://$sock" timeout 20 docker events --since "$last" --until "$clock" --format x 2>/dev/null | head -c 1)" ] && return 0
  done
  return 1
}
if busy || [ ! -s /run/pixi-lima-idle-since ]; then
  echo "$now" >/run/pixi-lima-idle-since
  exit 0
fi
[ $((now - $(cat /run/pixi-lima-idle-since))) -ge "$limit" ] || exit 0
# The console is Lima's serial.log: pixi-lima status reads this line.
echo "<2>pixi-lima: idle-stop at $(date -u +%Y-%m-%dT%H:%M:%SZ): no container, no docker client, no shell and no docker event for ${limit}s; powering off" >/dev/kmsg
systemctl poweroff
WATCHER
chmod 755 /usr/local/libexec/pixi-lima-idle
cat >/etc/systemd/system/pixi-lima-idle.service <<'UNIT'
[Unit]
Description=pixi-lima: power off when docker is idle
[Service]
Type=oneshot
ExecStart=/usr/local/libexec/pixi-lima-idle
UNIT
cat >/etc/systemd/system/pixi-lima-idle.timer <<'UNIT'
[Unit]
Description=pixi-lima: look for an idle docker every 30 s
[Timer]
OnBootSec=30s
OnUnitActiveSec=30s
AccuracySec=5s
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now pixi-lima-idle.timer
`
	return map[string]string{"mode": "system", "script": script}
}

// idleExpression replaces the instance's idle watcher (if any) with the
// one for limit; a zero limit only removes it.
func idleExpression(limit time.Duration) string {
	expr := `.provision = ((.provision // []) | map(select((.script // "") | contains(` + quote(idleMarker) + `) | not)))`
	if limit > 0 {
		expr += " | .provision += [" + mustJSON(idleProvision(limit)) + "]"
	}
	return expr
}

// vmIdleStop is the idle limit the instance's lima.yaml sets up; 0: none.
func vmIdleStop(inst *store.Instance) time.Duration {
	for _, p := range inst.Config.Provision {
		if !strings.Contains(p.Script, idleMarker) {
			continue
		}
		for _, line := range strings.Split(p.Script, "\n") {
			n, found := strings.CutSuffix(strings.TrimPrefix(line, "echo "), " >/run/pixi-lima-idle-limit")
			if secs, err := strconv.Atoi(n); found && err == nil {
				return time.Duration(secs) * time.Second
			}
		}
	}
	return 0
}

// IdleStopped returns when the guest last powered itself off for being
// idle, from its last boot's console log; ok is false otherwise.
func IdleStopped(instDir string) (at time.Time, ok bool) {
	for _, log := range []string{"serial.log", "serialv.log"} {
		f, err := os.Open(filepath.Join(instDir, log))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, rest, found := strings.Cut(sc.Text(), "pixi-lima: idle-stop at ")
			stamp, _, _ := strings.Cut(rest, "Z:")
			if t, err := time.Parse(time.RFC3339, stamp+"Z"); found && err == nil {
				at, ok = t, true
			}
		}
		f.Close()
	}
	return at, ok
}

func showIdle(d time.Duration) string {
	if d == 0 {
		return `"off"`
	}
	return fmt.Sprintf("%q", d.String())
}
