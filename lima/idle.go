package lima

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
)

// idleMarker marks the idle watcher's provision script in lima.yaml.
const idleMarker = "# pixi-lima idle-stop"

// idleProvision is the guest side of idle-stop, run as root at every boot:
// a watcher that sees containers and docker's clients directly and powers
// the guest off cleanly. The limit lives in /run, so that a boot without
// this script leaves the timer idle. No tabs: yq does not read them.
func idleProvision(limit time.Duration, root string) map[string]string {
	script := `#!/bin/sh
` + idleMarker + `
set -eu
echo ` + strconv.Itoa(int(limit.Seconds())) + ` >/run/pixi-lima-idle-limit
rm -f /run/pixi-lima-idle-since /run/pixi-lima-idle-checked /run/pixi-lima-idle-readers
mkdir -p /usr/local/libexec
cat >/usr/local/libexec/pixi-lima-idle <<'WATCHER'
#!/bin/sh
# Idle means nothing happened since the last look, not only at it.
limit=$(cat /run/pixi-lima-idle-limit 2>/dev/null) || exit 0
# The project's .pixi, mounted at its host path: the wake server counts its
# read-only connections there, and the snapshot it answers from while the
# VM sleeps goes there.
state=` + shellQuote(filepath.Join(root, ".pixi", "pixi-lima")) + `
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
  # namespace (rootless dockerd has one of its own; a namespace read twice
  # lists a socket twice, hence the inodes). The wake server's read-only
  # connections (an IDE's event stream, its polls) are not use: it writes
  # their count with a sequence that moves every 10 s while any is open.
  # A sequence that stood still since the last look is a dead server's.
  conns=$(awk '$6 == "03" && $8 ~ /docker\.sock$/ { seen[$7] = 1 } END { n = 0; for (i in seen) n++; print n }' \
    /proc/net/unix $(pgrep -x dockerd | sed 's|.*|/proc/&/net/unix|') 2>/dev/null) || conns=1
  readers=0
  if read -r count seq <"$state/wake-readers" 2>/dev/null; then
    [ "$seq" = "$(cat /run/pixi-lima-idle-readers 2>/dev/null)" ] || readers=$count
    echo "$seq" >/run/pixi-lima-idle-readers
  fi
  [ "$conns" -gt "$readers" ] && return 0
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
# The console is Lima's serial.log: pixi-lima status reads this line, and
# callers on the host wait for the poweroff from then on.
echo "<2>pixi-lima: idle-stop at $(date -u +%Y-%m-%dT%H:%M:%SZ): no container, no docker client, no shell and no docker event for ${limit}s; powering off" >/dev/kmsg
# The state the wake server answers read-only calls from while the VM
# sleeps; a failure costs only those answers, never the poweroff.
for sock in /run/user/*/docker.sock /var/run/docker.sock; do
  [ -S "$sock" ] && timeout 60 python3 - "$sock" "$state/snapshot.json" <<'SNAPSHOT' && break
` + snapshotPython + `SNAPSHOT
done
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
func idleExpression(limit time.Duration, root string) string {
	expr := `.provision = ((.provision // []) | map(select((.script // "") | contains(` + quote(idleMarker) + `) | not)))`
	if limit > 0 {
		expr += " | .provision += [" + mustJSON(idleProvision(limit, root)) + "]"
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

// hasWatcher says whether the instance runs today's watcher for limit.
func hasWatcher(inst *store.Instance, limit time.Duration, root string) bool {
	want := idleProvision(limit, root)["script"]
	return slices.ContainsFunc(inst.Config.Provision, func(p limayaml.Provision) bool { return p.Script == want })
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

// snapshotPython writes the engine's answers to the wake server's
// read-only list (shim/wake's snapshot.json, the same fields) from the
// socket in argv[1] to the file in argv[2]. Python, as every guest has it
// (cloud-init is Python); no tabs: yq does not read them.
const snapshotPython = `import datetime, http.client, json, os, socket, sys, urllib.parse

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(sys.argv[1])

def get(path):
    c = Conn("docker")
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        sys.exit("pixi-lima snapshot: GET %s: %d" % (path, r.status))
    return json.loads(body)

def q(s):
    return urllib.parse.quote(s, safe="")

snap = {"taken": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
for key, path in (("version", "/version"), ("info", "/info"), ("containers", "/containers/json?all=1"),
                  ("images", "/images/json"), ("networks", "/networks"), ("volumes", "/volumes"), ("df", "/system/df")):
    snap[key] = get(path)
snap["containerInspect"] = {c["Id"]: get("/containers/%s/json" % q(c["Id"])) for c in snap["containers"]}
snap["imageInspect"] = {i["Id"]: get("/images/%s/json" % q(i["Id"])) for i in snap["images"]}
snap["networkInspect"] = {n["Id"]: get("/networks/%s" % q(n["Id"])) for n in snap["networks"]}
snap["volumeInspect"] = {v["Name"]: get("/volumes/%s" % q(v["Name"])) for v in snap["volumes"].get("Volumes") or []}
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    json.dump(snap, f)
os.chmod(tmp, 0o644)
os.replace(tmp, sys.argv[2])
`

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
