#!/usr/bin/env bash
# bench/run.sh — what pixi-lima costs on top of the tools it wraps.
#
# Run as root on this project's machine kind (Debian 12; see tests/setup.sh).
# It builds pixi-lima from this checkout into a throwaway project, starts a
# real dockerd of its own on that project's instance socket, and measures:
#   1. per call: docker version / docker ps / docker --version through the
#      shim vs the real docker with DOCKER_HOST and DOCKER_CONFIG set by hand,
#      and the design floor (bench/floor: ping + exec, without and with
#      Lima's pkg/store linked in); docker version while the host agent's
#      log grows as a busy port below 1024 makes it grow on macOS; docker
#      version on the ssh engine (a real sshd on loopback) vs the real
#      docker with that DOCKER_HOST;
#   4. `pixi-lima status --json` on a stopped VM (created, never booted);
#   5. binary size, process start vs an empty Go program, package init
#      (GODEBUG=inittrace=1);
#   6. install.sh with nothing to do vs the one go call it cannot skip;
#   9. the activation script sourced, with and without the client variables;
#  10. docker version through the wake socket vs the engine's socket, and
#      the wake socket's server's CPU and memory while idle;
#  11. a read-only call (GET /version, curl) on the sleeping wake socket,
#      answered from the snapshot `pixi-lima stop` took, vs on the engine.
# With PIXI_LIMA_BENCH_VM=1 it also boots Lima VMs from the offline guest
# image ($PIXI_LIMA_E2E_TEMPLATE, built by tests/setup.sh) and measures:
#   2. start: `pixi-lima init` vs `limactl start` of the identical instance,
#      from stopped and from nothing;
#   3. contention: 1, 4 and 16 concurrent first `docker ps` on a stopped VM;
#   4. `pixi-lima status --json` on a running VM.
#
# Every comparison runs in alternating rounds (hyperfine per round, the
# order rotated each round) and reports the median of all runs. The table
# goes to stdout and to bench/results.md; progress goes to stderr.
# Benchmarks never fail on a number: only a broken command fails the run.
#
# Usage: bench/run.sh
#   PIXI_LIMA_BENCH_VM=1        also the parts that boot VMs (QEMU, minutes each)
#   PIXI_LIMA_BENCH_ROUNDS=6    alternating rounds per comparison
#   PIXI_LIMA_BENCH_RUNS=15     hyperfine runs per command per round
#   PIXI_LIMA_BENCH_VM_ROUNDS=2 alternating rounds of each VM start comparison
#                               (0: only the rows that need one VM: status, idle CPU, prune)
#   PIXI_LIMA_BENCH_ROWS="1 5"  only these rows (#), printed, not written to bench/results.md
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
rounds=${PIXI_LIMA_BENCH_ROUNDS:-6}
runs=${PIXI_LIMA_BENCH_RUNS:-15}
vm=${PIXI_LIMA_BENCH_VM:-0}
vm_rounds=${PIXI_LIMA_BENCH_VM_ROUNDS:-2}
only=${PIXI_LIMA_BENCH_ROWS:-}
# want N: row N is to be measured.
want() { [[ -z $only || " $only " == *" $1 "* ]]; }
instance=bench-docker
say() { echo "bench: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  say "run as root: it starts its own dockerd (and runs limactl as an unprivileged user)"
  exit 3
fi
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
export PATH=$PATH:/usr/local/go/bin

missing=()
for p in hyperfine jq curl; do command -v "$p" >/dev/null || missing+=("$p"); done
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The machine setup the tests use (cached): the unprivileged user, the golden
# limactl build, Compose v2 and, for the VM part, the offline guest image.
if [[ -z "${PIXI_LIMA_TEST_GOLDEN:-}" || ( $vm == 1 && -z "${PIXI_LIMA_E2E_TEMPLATE:-}" ) ]]; then
  if [[ $vm == 1 ]]; then setup=$("$repo/tests/setup.sh"); else setup=$("$repo/tests/setup.sh" --no-image); fi
  eval "$setup"
fi
user=$PIXI_LIMA_TEST_USER
uid=$(id -u "$user")
gid=$(id -g "$user")
real_docker=/usr/local/bin/docker
[[ -x $real_docker ]] || real_docker=$(command -v docker)

# Short paths: Lima's and dockerd's sockets live below them.
work=$(mktemp -d /tmp/plbXXXX)
chmod 755 "$work"
mkdir -p "$work/bin" "$work/home" "$work/json" "$work/d"
chown "$PIXI_LIMA_TEST_USER" "$work/home" "$work/json"
dockerd_pid=
sshd_pid=
writer_pid=
vm_project=
cleanup() {
  for pid in $writer_pid $dockerd_pid $sshd_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $vm_project ]]; then
    (cd "$vm_project" && as_user "$vm_project/.pixi/bin/pixi-lima" delete --force >&2) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# as_user [NAME=VALUE…] CMD…: CMD as the test user, with the clean
# environment the tests use; the current directory is the project. It runs
# under the command in in_home when that is set (the ssh engine's part).
in_home=()
as_user() {
  "${in_home[@]}" setpriv --reuid="$uid" --regid="$gid" --init-groups env -i \
    PATH="$PWD/.pixi/bin:$PIXI_LIMA_TEST_TOOLS:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    HOME="$work/home" USER="$user" LANG=C.UTF-8 "$@"
}

# new_project DIR [TEMPLATE]: a workspace named "bench" (instance
# bench-docker) with pixi-lima installed from this checkout by install.sh.
# The golden build is copied, not hard-linked: install.sh rewrites its
# stamp files in place.
new_project() {
  local root=$1
  mkdir -p "$root/.pixi"
  printf '[workspace]\nname = "bench"\n' >"$root/pixi.toml"
  if [[ -n ${2:-} ]]; then printf '\n[tool.pixi-lima]\ntemplate = "%s"\n' "$2" >>"$root/pixi.toml"; fi
  cp -a "$PIXI_LIMA_TEST_GOLDEN/.pixi/pixi-lima" "$root/.pixi/pixi-lima"
  "$repo/install.sh" "$root" 2>&1 | sed 's/^/  /' >&2
  chown -R "$uid:$gid" "$root"
}

# ms NANOSECONDS-START NANOSECONDS-END
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) / 1e6 }'; }
now() { date +%s%N; }

# compare SET NAME CMD [NAME CMD…]: alternating rounds of hyperfine over the
# commands (as the test user, with DOCKER_HOST/DOCKER_CONFIG of the project,
# which the shim replaces anyway), the order rotated every round.
compare() {
  local set=$1
  shift
  local -a names=() cmds=()
  while (($#)); do names+=("$1") cmds+=("$2") && shift 2; done
  local n=${#names[@]} r i j
  for ((r = 0; r < rounds; r++)); do
    local -a args=()
    for ((i = 0; i < n; i++)); do
      j=$(((i + r) % n))
      args+=(-n "${names[j]}" "${cmds[j]}")
    done
    say "$set: round $((r + 1))/$rounds"
    as_user DOCKER_HOST="${docker_host:-unix://$socket}" DOCKER_CONFIG="$PWD/.pixi/docker" \
      hyperfine -N --style basic --warmup 2 --runs "$runs" \
      --export-json "$work/json/$set-$r.json" "${args[@]}" >&2
  done
}

# median SET NAME: median of every run of NAME in every round of SET, in ms.
median() {
  jq -s --arg name "$2" '[.[].results[] | select(.command == $name) | .times[]] | sort
    | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end * 1000' \
    "$work/json/$1"-*.json | awk '{ printf "%.1f", $1 }'
}
# cpu SET NAME: user + system time of NAME, the median over rounds of each
# round's mean, in ms. On a shared machine it moves less than wall time.
cpu() {
  jq -s --arg name "$2" '[.[].results[] | select(.command == $name) | .user + .system] | sort
    | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end * 1000' \
    "$work/json/$1"-*.json | awk '{ printf "%.1f", $1 }'
}
count() { jq -s --arg name "$2" '[.[].results[] | select(.command == $name) | .times[]] | length' "$work/json/$1"-*.json; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

rows=()
row() { if want "$1"; then rows+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); fi; }
# hrow NUM WHAT SET NAME BASE-SET BASE-NAME TARGET: a row from compare's
# runs, wall time (median) and CPU time, each with its ratio.
hrow() {
  want "$1" || return 0
  local a b ca cb
  a=$(median "$3" "$4") b=$(median "$5" "$6") ca=$(cpu "$3" "$4") cb=$(cpu "$5" "$6")
  row "$1" "$2" "$a ms (CPU $ca)" "$b ms (CPU $cb)" "$(ratio "$a" "$b") (CPU $(ratio "$ca" "$cb"))" "$7"
}

# Machine facts for the table's header.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
machine="$(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), \
$(free -g | awk '/Mem:/ { print $2 }') GiB, $(awk -F= '$1 == "PRETTY_NAME" { gsub(/"/, "", $2); print $2 }' /etc/os-release), Linux $(uname -r), \
$(systemd-detect-virt 2>/dev/null || echo "unknown virtualisation"), \
$([[ -e /dev/kvm ]] && echo "KVM" || echo "no KVM: Lima VMs run in QEMU TCG")"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$repo" status --porcelain -- main.go env lima shim go.mod 2>/dev/null) ]] || commit="$commit (with local changes)"

say "building the project and the baseline programs"
cd "$repo"
go build -trimpath -o "$work/bin/emptygo" ./bench/emptygo
go build -trimpath -o "$work/bin/floor" ./bench/floor
go build -trimpath -tags store -o "$work/bin/floor-store" ./bench/floor
chmod -R a+rX "$work/bin"
project=$work/a
new_project "$project"
cd "$project"
pixi_lima=$project/.pixi/pixi-lima/bin/pixi-lima
socket=$project/.pixi/lima/$instance/sock/docker.sock

# A stopped instance: created by the real limactl, never booted. limactl
# create fetches the image and nerdctl, so it gets a tiny local image and
# no containerd (nothing boots it) instead of template://docker's downloads.
say "creating VM $instance (not started)"
qemu-img create -q -f qcow2 "$work/tiny.qcow2" 1G
printf 'vmType: qemu\nimages:\n- location: "%s"\n  arch: %s\nmounts: []\ncontainerd: {system: false, user: false}\n' "$work/tiny.qcow2" "$(uname -m)" >"$work/tiny.yaml"
chmod a+r "$work/tiny.qcow2" "$work/tiny.yaml"
as_user .pixi/bin/limactl-local --tty=false create --name="$instance" "$work/tiny.yaml" >"$work/create.log" 2>&1 ||
  { tail -20 "$work/create.log" >&2; exit 1; }
as_user .pixi/bin/pixi-lima status --json | jq -e '.state == "Stopped"' >/dev/null ||
  { say "expected a Stopped instance:"; as_user .pixi/bin/pixi-lima status --json >&2; exit 1; }

# 4. status on the stopped VM.
if want 4; then
  compare status-stopped "status --json (stopped)" ".pixi/bin/pixi-lima status --json"
  status_stopped=$(median status-stopped "status --json (stopped)")
fi

# 5. process start and package init, before dockerd adds load.
want 5 && compare start "pixi-lima version" "$pixi_lima version" "empty Go program" "$work/bin/emptygo"

# 6. install.sh when nothing changed, as `pixi run install` runs it when
# pixi's own input hashing does not skip it; the test user's Go caches, as
# the tests use them. The floor is the `go list -m` it needs for Lima's
# version (its other two go calls, `go version` and `go env`, are cheaper).
user_go=(env "GOPATH=$PIXI_LIMA_TEST_USER_GO" "GOMODCACHE=$PIXI_LIMA_TEST_USER_GO/mod"
  "GOCACHE=$PIXI_LIMA_TEST_USER_GO/cache" GOFLAGS=-mod=mod GOTOOLCHAIN=local)
if want 6; then
  noop=$(as_user "${user_go[@]}" "$repo/install.sh" "$project" 2>&1) || { say "install.sh failed:"; echo "$noop" >&2; exit 1; }
  [[ -z $noop ]] || say "warning: install.sh with nothing to do still said: $noop"
  compare install "install.sh, nothing to do" "${user_go[*]} $repo/install.sh $project" \
    "go list -m" "${user_go[*]} go -C $repo list -m -f '{{.Version}} {{.Dir}}' github.com/lima-vm/lima"
fi

# 9. What the activation adds to every `pixi run`: env/activate.sh sourced
# by sh, in the project (with .pixi/pixi-lima/client.env, which install.sh
# had the shim write) and in a copy of its .pixi/bin without that file, as
# before it existed.
mkdir -p "$work/bare/.pixi/bin"
ln -sfn /bin/true "$work/bare/.pixi/bin/docker"
[[ -r $project/.pixi/pixi-lima/client.env ]] || { say "install.sh wrote no client.env"; exit 1; }
want 9 && compare activation "activation, with client.env" "env PIXI_PROJECT_ROOT=$project sh -c '. $repo/env/activate.sh'" \
  "activation, without" "env PIXI_PROJECT_ROOT=$work/bare sh -c '. $repo/env/activate.sh'"

# inittrace: every package's init, median over 30 runs; and the whole
# init (the sum per run, median) of pixi-lima and of the two floors.
inits() { # BINARY ARGS… : prints "package ms" per init per run, "TOTAL ms" per run
  local i
  for ((i = 0; i < 30; i++)); do
    # The floors exit 2 here (no arguments): init has run by then.
    { as_user GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null || true; } |
      awk '/^init / { print $2, $5; total += $5 } END { print "TOTAL", total }'
  done
}
medians() { sort -k1,1 -k2,2g | awk '
  $1 != p { if (n) print p, v[int((n + 1) / 2)]; p = $1; n = 0 }
  { v[++n] = $2 }
  END { if (n) print p, v[int((n + 1) / 2)] }'; }
if want 5; then
  inits "$pixi_lima" version | medians >"$work/init-pixi-lima"
  inits "$work/bin/floor-store" | medians >"$work/init-floor-store"
  inits "$work/bin/floor" | medians >"$work/init-floor"
fi
init_total() { awk '$1 == "TOTAL" { printf "%.1f", $2 }' "$1"; }
init_count() { grep -vc '^TOTAL ' "$1"; }

# A real engine on the instance's socket: dockerd as root, its own state
# under $work, no bridge or iptables (another dockerd may share the host).
say "starting dockerd on $socket"
as_user mkdir -p "$(dirname "$socket")"
dockerd -H "unix://$socket" --group "$user" --data-root "$work/d/data" --exec-root "$work/d/exec" \
  --pidfile "$work/d/pid" --bridge=none --iptables=false --ip6tables=false >"$work/d/log" 2>&1 &
dockerd_pid=$!
for ((i = 0; i < 120; i++)); do
  "$real_docker" -H "unix://$socket" version >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { say "dockerd exited:"; tail -20 "$work/d/log" >&2; exit 1; }
  sleep 0.5
done
engine=$("$real_docker" -H "unix://$socket" version --format '{{.Server.Version}}')
# The shim must take its fast path and reach this engine, or nothing here means anything.
as_user .pixi/bin/docker version --format '{{.Server.Version}}' | grep -qx "$engine"

# The fast path's package inits: what the shim initializes before it
# becomes docker (the trace lines before docker's own "init runtime").
if want 5; then
  for ((i = 0; i < 30; i++)); do
    { as_user DOCKER_CONFIG="$PWD/.pixi/docker" GODEBUG=inittrace=1 .pixi/bin/docker version 2>&1 >/dev/null || true; } |
      awk '/^init runtime / && ++runtimes == 2 { exit } /^init / { print $2, $5; total += $5 } END { print "TOTAL", total }'
  done | medians >"$work/init-fastpath"
fi

# 1. per-call overhead against the running engine.
compare version \
  "shim: docker version" ".pixi/bin/docker version" \
  "direct: docker version" "$real_docker version" \
  "floor: ping + exec" "$work/bin/floor $real_docker version" \
  "floor + pkg/store" "$work/bin/floor-store $real_docker version" \
  "wake socket: docker version" "env DOCKER_HOST=unix://$project/.pixi/pixi-lima/docker.sock $real_docker version"
# 10. The wake socket's server, started by the shim's first call above:
# what it holds and spends while nothing connects (a minute, alone).
if want 10; then
  wake_pid=$(awk '{ print $1 }' "$project/.pixi/pixi-lima/wake-socket.pid")
  [[ -n $wake_pid ]] || { say "the wake socket's server is not running"; exit 1; }
  wake_ticks() { awk '{ print $14 + $15 }' "/proc/$wake_pid/stat"; }
  wake_before=$(wake_ticks)
  sleep 60
  wake_idle_ms=$(( ($(wake_ticks) - wake_before) * 1000 / $(getconf CLK_TCK) ))
  wake_rss=$(awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$wake_pid/status")
fi
if want 1; then
  compare ps "shim: docker ps" ".pixi/bin/docker ps" "direct: docker ps" "$real_docker ps"
  compare cheap "shim: docker --version" ".pixi/bin/docker --version" "direct: docker --version" "$real_docker --version"

  # 1. A busy forward log: on macOS Lima's host agent logs every connection
  # it accepts on a port below 1024 (pkg/portfwd/listener_darwin.go). A
  # writer appends such a line to the instance's ha.stderr.log every 10 ms
  # while the shim's docker version runs: only a new forward or a failed listen may send a
  # call to the full path. The record must still be the one written before
  # the writer started, or the full path ran.
  ha_log=$project/.pixi/lima/$instance/ha.stderr.log
  as_user touch "$ha_log"
  rm -f "$project/.pixi/pixi-lima/fastpath"
  as_user .pixi/bin/docker version >/dev/null # the full path records the log's size
  record=$(cat "$project/.pixi/pixi-lima/fastpath")
  [[ $record == *"portlog 0 $ha_log"* ]] || { say "the fast path's record has no portlog line:"; echo "$record" >&2; exit 1; }
  # shellcheck disable=SC2016 # the writer's shell expands them
  as_user sh -c 'i=0; while :; do i=$((i + 1)); printf "{\"level\":\"info\",\"msg\":\"pseudoloopback forwarder: accepting connection from \\\"127.0.0.1:%d\\\"\",\"time\":\"2026-01-01T00:00:00Z\"}\n" $((40000 + i % 20000)); sleep 0.01; done' >>"$ha_log" &
  writer_pid=$!
  compare busylog "shim: docker version, busy log" ".pixi/bin/docker version" "direct: docker version" "$real_docker version"
  kill "$writer_pid"
  wait "$writer_pid" 2>/dev/null || true
  writer_pid=
  busy_bytes=$(stat -c %s "$ha_log")
  [[ "$(cat "$project/.pixi/pixi-lima/fastpath")" == "$record" ]] || say "warning: the record changed during the busy-log row: the full path ran"
fi

# 1. The ssh engine: a project with engine = "ssh://…" against the real
# docker with the same DOCKER_HOST, both reaching this dockerd through a
# real sshd on loopback (sshd's SetEnv points the remote docker at it).
# ssh reads its key and known_hosts from the home in the passwd database,
# not $HOME, so both run in a mount namespace where that home is $work/home.
if want 1; then
say "starting sshd for the ssh engine"
ssh_dir=$work/ssh
mkdir -p "$ssh_dir" "$work/home/.ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/user"
cp "$ssh_dir/user.pub" "$ssh_dir/authorized_keys"
for ((ssh_port = 22722; ssh_port < 22800; ssh_port++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null || break
done
printf '%s\n' "ListenAddress 127.0.0.1:$ssh_port" "HostKey $ssh_dir/host" "PidFile none" \
  "AuthorizedKeysFile $ssh_dir/authorized_keys" "StrictModes no" "UsePAM yes" "AllowUsers $user" \
  "SetEnv DOCKER_HOST=unix://$socket DOCKER_CONFIG=$ssh_dir/remote-docker" >"$ssh_dir/sshd_config"
/usr/sbin/sshd -D -e -f "$ssh_dir/sshd_config" 2>"$ssh_dir/log" &
sshd_pid=$!
cp "$ssh_dir/user" "$work/home/.ssh/id_ed25519"
echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$ssh_dir/host.pub")" >"$work/home/.ssh/known_hosts"
chown -R "$uid:$gid" "$work/home/.ssh"
chmod 700 "$work/home/.ssh"
chmod 600 "$work/home/.ssh/id_ed25519"
for ((i = 0; i < 100; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null || { say "sshd exited:"; cat "$ssh_dir/log" >&2; exit 1; }
  sleep 0.1
done
new_project "$work/s"
docker_host="ssh://$user@127.0.0.1:$ssh_port"
printf '\n[tool.pixi-lima]\nengine = "%s"\n' "$docker_host" >>"$work/s/pixi.toml"
cd "$work/s"
# shellcheck disable=SC2016 # the inner shell expands them
in_home=(unshare --mount -- sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$work/home" "$(getent passwd "$user" | cut -d: -f6)")
# The shim must reach this engine over ssh, or the row means nothing.
as_user .pixi/bin/docker version --format '{{.Server.Version}}' | grep -qx "$engine"
compare ssh "shim: docker version (ssh)" ".pixi/bin/docker version" "direct: docker version (ssh)" "$real_docker version"
in_home=() docker_host=
cd "$project"
fi

n_version=$(count version "shim: docker version")

# 11. A read-only call on the sleeping wake socket: curl's GET /version on
# the engine, then `pixi-lima stop` (which snapshots the engine: dockerd
# answers on the instance socket), dockerd gone, the wake socket's server
# started again, and the same call answered from the snapshot. curl's own
# start (`curl --version`) is subtracted, as in row 4.
wake_sock=$project/.pixi/pixi-lima/docker.sock
if want 11; then
  compare sleep-engine "curl /version" "curl -sf --unix-socket $socket http://docker/version" "curl --version" "curl --version"
  as_user .pixi/bin/pixi-lima stop >&2
  [[ -s $project/.pixi/pixi-lima/snapshot.json ]] || { say "pixi-lima stop took no snapshot"; exit 1; }
fi

kill "$dockerd_pid"
wait "$dockerd_pid" 2>/dev/null || true
dockerd_pid=

if want 11; then
  as_user .pixi/bin/pixi-lima _wake-socket --detach
  # It must answer from the snapshot, never start the (tiny, unbootable) VM.
  as_user curl -sf --max-time 5 --unix-socket "$wake_sock" http://docker/version | jq -e .ApiVersion >/dev/null ||
    { say "the sleeping wake socket did not answer GET /version"; tail -5 "$project/.pixi/pixi-lima/log/wake-socket.log" >&2; exit 1; }
  compare sleep-asleep "curl /version" "curl -sf --unix-socket $wake_sock http://docker/version" "curl --version" "curl --version"
  as_user .pixi/bin/pixi-lima stop >&2
fi

hrow 1 "\`docker version\` via the shim vs the real docker, running engine (dockerd $engine)" \
  version "shim: docker version" version "direct: docker version" "≤ 1.25×"
hrow 1 "— design floor: ping + exec (bench/floor) vs the real docker" \
  version "floor: ping + exec" version "direct: docker version" "shim ≥ floor"
hrow 1 "— floor + Lima's pkg/store linked in vs the real docker" \
  version "floor + pkg/store" version "direct: docker version" ""
hrow 1 "— the shim vs the floor with pkg/store" version "shim: docker version" version "floor + pkg/store" ""
hrow 1 "\`docker ps\`, running engine" ps "shim: docker ps" ps "direct: docker ps" ""
hrow 1 "\`docker --version\` (the shim's own cost: no engine call)" cheap "shim: docker --version" cheap "direct: docker --version" ""
hrow 1 "\`docker version\` while the host agent's log grows by Lima's accept lines (100 a second; ${busy_bytes:-?} bytes in the row) vs the real docker" \
  busylog "shim: docker version, busy log" busylog "direct: docker version" "≤ 1.25×"
hrow 1 "\`docker version\` on engine = \"ssh://…\" (sshd on loopback, the same dockerd) vs the real docker with the same DOCKER_HOST" \
  ssh "shim: docker version (ssh)" ssh "direct: docker version (ssh)" "≤ 1.05×"
want 4 && row 4 "\`pixi-lima status --json\`, stopped VM" "$status_stopped ms (CPU $(cpu status-stopped "status --json (stopped)"))" "" "" ""

# The VM part: real boots from the offline guest image.
if [[ $vm == 1 ]]; then
  template=$PIXI_LIMA_E2E_TEMPLATE
  [[ -r $template ]] || { say "PIXI_LIMA_E2E_TEMPLATE=$template is not readable"; exit 3; }
  vm_project=$work/v
  new_project "$vm_project" "$template"
  cd "$vm_project"
  pl() { as_user .pixi/bin/pixi-lima "$@" >/dev/null 2>"$work/last.log" || { tail -30 "$work/last.log" >&2; exit 1; }; }
  lc() { as_user .pixi/bin/limactl-local --tty=false "$@" >/dev/null 2>"$work/last.log" || { tail -30 "$work/last.log" >&2; exit 1; }; }
  timed() { local t0 t1; t0=$(now); "$@"; t1=$(now); ms "$t0" "$t1"; }
  med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

  # The first init creates the instance (not counted: it is the source of
  # the lima.yaml that limactl gets below, so both start identical instances).
  say "VM: first pixi-lima init"
  pl init
  cp "$vm_project/.pixi/lima/$instance/lima.yaml" "$work/lima.yaml"
  chmod a+r "$work/lima.yaml"

  # status on the running VM, and the per-call overhead against the VM's engine.
  # Where status's time goes: process start (with all of Lima's inits) and
  # a /_ping through Lima's forward into the guest, which curl times (less
  # curl's own start). Measured on a settled VM, as it runs most of the
  # day: right after its boot the guest's last boot jobs hold the one
  # emulated CPU, and a /_ping takes 29 ms instead of 6 (2026-12-02).
  sleep 30
  socket=$vm_project/.pixi/lima/$instance/sock/docker.sock
  compare status-running "status --json (running)" ".pixi/bin/pixi-lima status --json" \
    "pixi-lima version" ".pixi/bin/pixi-lima version" \
    "curl /_ping" "curl -sf --unix-socket $socket http://docker/_ping" \
    "curl --version" "curl --version"
  compare vm-version "shim: docker version" ".pixi/bin/docker version" "direct: docker version" "$real_docker version"
  status_running=$(median status-running "status --json (running)")
  # Lima's own listing of the same instance, its binary run directly.
  compare status-list "status --json (running)" ".pixi/bin/pixi-lima status --json" \
    "limactl list --json" "env LIMA_HOME=$vm_project/.pixi/lima $vm_project/.pixi/pixi-lima/bin/limactl list --json $instance"

  # Idle cost: host CPU (user + system, clock ticks) of QEMU and Lima's host
  # agent over 60 s of an idle running VM, 30 s after its engine answered.
  # pixi-lima's instance (idle watcher in the guest) against the same
  # lima.yaml without the watcher, started by bare limactl.
  ticks() { # PID...: the processes' CPU ticks so far
    local sum=0 pid
    for pid in "$@"; do sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat"))); done
    echo "$sum"
  }
  idle_cpu() { # ms of CPU per 60 s
    local dir=$vm_project/.pixi/lima/$instance pids a b
    sleep 30
    pids=("$(cat "$dir/qemu.pid")" "$(cat "$dir/ha.pid")")
    a=$(ticks "${pids[@]}")
    sleep 60
    b=$(ticks "${pids[@]}")
    echo $(((b - a) * 1000 / $(getconf CLK_TCK)))
  }
  say "VM: idle CPU over 60 s, pixi-lima's instance"
  idle_ours=$(idle_cpu)
  # The only image an offline machine has: Debian's static busybox, FROM scratch.
  mkdir -p "$work/img"
  cp /bin/busybox "$work/img/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' >"$work/img/Dockerfile"
  chmod -R a+rX "$work/img"
  as_user .pixi/bin/docker build -q -t bench-busybox "$work/img" >/dev/null 2>"$work/last.log" || { tail -30 "$work/last.log" >&2; exit 1; }

  # Port readiness: ms from `docker run -d -p` returning to the first TCP
  # connection that the published port accepts, 20 runs each, a fresh
  # port each run. From the host (through Lima's guest agent, which must
  # notice the port, and host agent, which must forward it) and, as the
  # baseline, from inside the guest (the engine's own publishing only).
  port_ready() { # host|guest FIRST_PORT: one ms figure per line
    local where=$1 port=$2 i t0
    for ((i = 0; i < 20; i++, port++)); do
      if [[ $where == host ]]; then
        as_user .pixi/bin/docker run -d --name "ready$i" -p "127.0.0.1:$port:8080" bench-busybox httpd -f -p 8080 >/dev/null
        t0=$(now)
        until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.005; done
        ms "$t0" "$(now)"; echo
        as_user .pixi/bin/docker rm -f "ready$i" >/dev/null
      else
        # shellcheck disable=SC2016 # expanded in the guest
        as_user .pixi/bin/limactl-local shell --workdir / "$instance" bash -c '
          docker run -d --name "$1" -p "127.0.0.1:$2:8080" bench-busybox httpd -f -p 8080 >/dev/null
          t0=$(date +%s%N)
          until (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; do sleep 0.005; done
          echo $((($(date +%s%N) - t0) / 1000000))
          docker rm -f "$1" >/dev/null' _ "ready$i" "$port" 2>>"$work/last.log"
      fi
    done
  }
  p95() { sort -g | awk '{ v[NR] = $1 } END { i = int(NR * 0.95 + 0.999); if (i > NR) i = NR; printf "%.0f", v[i] }'; }
  p50() { sort -g | awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  say "VM: port readiness, host and guest, 20 runs each"
  ready_host=$(port_ready host 18200) ready_guest=$(port_ready guest 18300)
  # The same VM with Lima's own 3 s tick: the drop-in removed, the guest
  # agent restarted (the host agent reconnects within 10 s).
  as_user .pixi/bin/limactl-local shell --workdir / "$instance" sudo sh -c \
    'rm /etc/systemd/system/lima-guestagent.service.d/pixi-lima-tick.conf && systemctl daemon-reload && systemctl restart lima-guestagent' 2>>"$work/last.log"
  say "VM: idle CPU over 60 s and port readiness with Lima's own tick"
  idle_lima_tick=$(idle_cpu)
  ready_lima_tick=$(port_ready host 18400)
  as_user .pixi/bin/docker run --name fat bench-busybox sh -c 'dd if=/dev/urandom of=/big bs=1M count=500 2>/dev/null' >/dev/null
  as_user .pixi/bin/docker rm fat >/dev/null
  t0=$(now)
  prune_out=$(as_user .pixi/bin/pixi-lima prune 2>"$work/last.log") || { tail -30 "$work/last.log" >&2; exit 1; }
  prune_ms=$(ms "$t0" "$(now)")
  prune_freed=$(sed -n 's/^freed \(.*\) on the host.*/\1/p' <<<"$prune_out")
  pl delete --force
  say "VM: idle CPU over 60 s, the same lima.yaml without the watcher, bare limactl"
  lc start --name="$instance" --set '.provision |= map(select((.script // "") | contains("# pixi-lima idle-stop") | not))' "$work/lima.yaml"
  idle_bare=$(idle_cpu)
  # Stopping a running VM: limactl stop, and pixi-lima stop, which trims first.
  stop_ours=() stop_lima=()
  t=$(timed lc stop "$instance") && stop_lima+=("$t")
  pl init
  t=$(timed pl stop) && stop_ours+=("$t")
  pl init

  # Alternating pairs, the order swapped every round.
  init_new=() lima_new=() init_stopped=() lima_stopped=()
  for ((r = 0; r < 2 * vm_rounds; r++)); do
    say "VM: from stopped, run $((r + 1))/$((2 * vm_rounds))"
    # pixi-lima stop trims the disk first; limactl stop does not.
    if ((r % 2)); then t=$(timed lc stop "$instance") && stop_lima+=("$t")
    else t=$(timed pl stop) && stop_ours+=("$t"); fi
    if (((r + r / 2) % 2)); then t=$(timed lc start "$instance") && lima_stopped+=("$t")
    else t=$(timed pl init) && init_stopped+=("$t"); fi
  done
  for ((r = 0; r < 2 * vm_rounds; r++)); do
    say "VM: from nothing, run $((r + 1))/$((2 * vm_rounds))"
    pl delete --force
    if (((r + r / 2) % 2)); then t=$(timed lc start --name="$instance" "$work/lima.yaml") && lima_new+=("$t")
    else t=$(timed pl init) && init_new+=("$t"); fi
  done

  # Contention: N first calls at once on a stopped VM; wall time until all
  # are done. One of them starts the VM, the others wait for its lock.
  # Rounds of 1, 4 and 16, the order rotated each round.
  declare -A crowd
  sizes=(1 4 16)
  for ((r = 0; r < vm_rounds; r++)); do
    for ((k = 0; k < 3; k++)); do
      n=${sizes[(k + r) % 3]}
      say "VM: $n concurrent first docker ps, round $((r + 1))/$vm_rounds"
      pl stop
      t0=$(now)
      pids=()
      for ((i = 0; i < n; i++)); do
        as_user .pixi/bin/docker ps >/dev/null 2>"$work/crowd-$i.log" &
        pids+=($!)
      done
      for i in "${!pids[@]}"; do
        wait "${pids[i]}" || { say "concurrent call $i failed:"; tail -20 "$work/crowd-$i.log" >&2; exit 1; }
      done
      crowd[$n]+=" $(ms "$t0" "$(now)")"
    done
  done
  for n in "${sizes[@]}"; do
    [[ -n ${crowd[$n]:-} ]] || continue # PIXI_LIMA_BENCH_VM_ROUNDS=0
    # shellcheck disable=SC2086 # the list of times, one word each
    crowd[$n]=$(med ${crowd[$n]})
  done

  if ((vm_rounds > 0)); then
  a=$(med "${init_stopped[@]}") b=$(med "${lima_stopped[@]}")
  row 2 "start from stopped: \`pixi-lima init\` vs \`limactl start\`" "$a ms" "$b ms" "$(ratio "$a" "$b")" "≤ 1.02×"
  a=$(med "${init_new[@]}") b=$(med "${lima_new[@]}")
  row 2 "start from nothing: \`pixi-lima init\` vs \`limactl start lima.yaml\`" "$a ms" "$b ms" "$(ratio "$a" "$b")" "≤ 1.02×"
  for n in 4 16; do
    row 3 "$n concurrent first \`docker ps\` on a stopped VM vs 1" "${crowd[$n]} ms" "${crowd[1]} ms" "$(ratio "${crowd[$n]}" "${crowd[1]}")" "16: ≤ 1.1×"
  done
  fi
  row 4 "\`pixi-lima status --json\`, running VM" "$status_running ms (CPU $(cpu status-running "status --json (running)"))" "" "" "≤ 50 ms"
  hrow 7 "\`pixi-lima status --json\` vs Lima's own \`limactl list --json NAME\`, running VM" \
    status-list "status --json (running)" status-list "limactl list --json" "≤ 1.0×"
  row 7 "host CPU of an idle running VM over 60 s (QEMU + host agent): with the idle watcher vs bare limactl" \
    "$idle_ours ms" "$idle_bare ms" "$(ratio "$idle_ours" "$idle_bare")" "equal within noise"
  row 8 "a published port answers from the host after \`docker run -d -p\` returns (p50 / p95 of 20) vs from inside the guest" \
    "$(p50 <<<"$ready_host") / $(p95 <<<"$ready_host") ms" "$(p50 <<<"$ready_guest") / $(p95 <<<"$ready_guest") ms" "" "p95 ≤ 500 ms"
  row 8 "— the same with Lima's own 3 s port tick, from the host" "$(p50 <<<"$ready_lima_tick") / $(p95 <<<"$ready_lima_tick") ms" "" "" ""
  row 8 "host CPU of an idle running VM over 60 s: the 200 ms port tick vs Lima's 3 s" \
    "$idle_ours ms" "$idle_lima_tick ms" "$(ratio "$idle_ours" "$idle_lima_tick")" ""
  row 7 "\`pixi-lima prune\` after a removed container wrote 500 MB: time, host bytes freed" "$prune_ms ms, $prune_freed" "" "" ""
  if ((${#stop_ours[@]} && ${#stop_lima[@]})); then
    a=$(med "${stop_ours[@]}") b=$(med "${stop_lima[@]}")
    row 7 "stop: \`pixi-lima stop\` (trims first) vs \`limactl stop\`" "$a ms" "$b ms" "$(ratio "$a" "$b")" ""
  fi
  row 4 "— of which: process start, \`pixi-lima version\`" "$(median status-running "pixi-lima version") ms" "" "" ""
  row 4 "— of which: \`/_ping\` through Lima's forward (curl, less \`curl --version\`)" \
    "$(awk -v a="$(median status-running "curl /_ping")" -v b="$(median status-running "curl --version")" 'BEGIN { printf "%.1f", a - b }') ms" "" "" ""
  hrow 1 "\`docker version\` against the VM's engine (Lima's forwarded socket)" \
    vm-version "shim: docker version" vm-version "direct: docker version" "≤ 1.25×"
else
  row 2 "start (\`pixi-lima init\` vs \`limactl start\`)" "not run" "" "" "≤ 1.02×"
  row 3 "contention (1/4/16 concurrent first calls)" "not run" "" "" "16: ≤ 1.1×"
  row 4 "\`pixi-lima status --json\`, running VM" "not run" "" "" "≤ 50 ms"
fi

if want 5; then
  size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
  row 5 "binary size: pixi-lima vs an empty Go program" "$(size "$pixi_lima")" "$(size "$work/bin/emptygo")" \
    "$(ratio "$(stat -c %s "$pixi_lima")" "$(stat -c %s "$work/bin/emptygo")")" ""
  row 5 "— floor / floor + pkg/store" "$(size "$work/bin/floor")" "$(size "$work/bin/floor-store")" "" ""
  hrow 5 "process start: \`pixi-lima version\` vs an empty Go program" start "pixi-lima version" start "empty Go program" ""
  row 5 "package init (inittrace, sum): pixi-lima vs floor + pkg/store" \
    "$(init_total "$work/init-pixi-lima") ms, $(init_count "$work/init-pixi-lima") pkgs" \
    "$(init_total "$work/init-floor-store") ms, $(init_count "$work/init-floor-store") pkgs" "" ""
  row 5 "— on the fast path, before exec: the shim vs the floor without pkg/store" \
    "$(init_total "$work/init-fastpath") ms, $(init_count "$work/init-fastpath") pkgs" \
    "$(init_total "$work/init-floor") ms, $(init_count "$work/init-floor") pkgs" "" ""
  row 5 "— floor without pkg/store" "$(init_total "$work/init-floor") ms, $(init_count "$work/init-floor") pkgs" "" "" ""
fi
hrow 6 "\`install.sh\` with nothing to do vs the \`go list -m\` it needs" install "install.sh, nothing to do" install "go list -m" ""
hrow 9 "the activation (\`env/activate.sh\` sourced by sh) with the client variables vs without (before them)" activation "activation, with client.env" activation "activation, without" ""
hrow 10 "\`docker version\` through the wake socket (SDKs' DOCKER_HOST) vs the engine's socket" version "wake socket: docker version" version "direct: docker version" "≤ 1.05×"
want 10 && row 10 "— the wake socket's server while idle: CPU per minute, resident memory" "$wake_idle_ms ms/min, $wake_rss" "" "" ""
less_curl() { awk -v a="$(median "$1" "curl /version")" -v b="$(median "$1" "curl --version")" 'BEGIN { printf "%.1f", a - b }'; }
want 11 && row 11 "a read-only call on the sleeping wake socket (\`GET /version\` from the snapshot; curl less \`curl --version\`) vs on the running engine" \
  "$(less_curl sleep-asleep) ms" "$(less_curl sleep-engine) ms" "" "≤ 5 ms"

{
  echo "# pixi-lima benchmarks"
  echo
  echo "$(date -u +%Y-%m-%d), commit $commit, \`bench/run.sh\`$([[ $vm == 1 ]] && echo " with PIXI_LIMA_BENCH_VM=1")."
  echo "Machine: $machine; load average before: $load_before."
  echo "Wall times are medians of $n_version runs per command ($rounds alternating rounds of $runs);"
  echo "CPU (user + system, ms) is the median of the rounds' means. VM starts and contention are medians of $vm_rounds runs each, alternating."
  echo
  echo "| # | benchmark | pixi-lima | baseline | ratio | target |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  if want 5; then
    echo
    echo "Top package init costs of pixi-lima (\`GODEBUG=inittrace=1 pixi-lima version\`, median of 30 runs):"
    echo
    echo "| package | init (ms) |"
    echo "|---|---|"
    # awk, not head: head would close the pipe early (SIGPIPE under pipefail).
    grep -v '^TOTAL ' "$work/init-pixi-lima" | sort -k2,2gr | awk 'NR <= 12 { printf "| %s | %.2f |\n", $1, $2 }'
  fi
} | if [[ -z $only ]]; then tee "$here/results.md"; else cat; fi
