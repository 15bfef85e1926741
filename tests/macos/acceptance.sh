#!/usr/bin/env bash
# tests/macos/acceptance.sh — what only a Mac can check: run it on macOS
# (Apple silicon for the Rosetta check), as your own user, with Go and
# internet, from this checkout:
#
#   pixi exec -s go -s bash -- tests/macos/acceptance.sh
#
# It installs pixi-lima into throwaway projects under /tmp (one whose path
# has spaces; $TMPDIR is too deep for Lima's sockets), boots one VM (vz, Lima's choice), pulls busybox, and
# prints one PASS or FAIL line per check and a summary; exit 0 when all
# pass, 1 otherwise. It deletes its VM and projects at the end
# (PIXI_LIMA_ACCEPTANCE_KEEP=1 keeps them). On any other OS it lists its
# checks and exits 2: they need a Mac, which this project's CI has not.
set -uo pipefail

checks=(
  "vz-boot: the VM boots with vz (Lima's choice) within 180 s"
  "rosetta: a linux/amd64 image runs (rosetta = \"auto\"; Apple silicon with Rosetta installed)"
  "chown: a Postgres-like chown on a bind mount fails as docs/faq.md says, and works on a named volume"
  "time-machine: every directory pixi-lima excludes has Time Machine's attribute"
  "fast-path: docker takes the fast path after traffic on a published port 80"
  "lsof: a clash names the host process that holds the port"
  "spaces: a project path with spaces mounts and serves a bind mount"
  "case-path: through the project's path in other letter case (APFS is case-insensitive), stop finds the VM's own processes and removes no live pid file"
  "deep-path: a project path too long for Lima's sockets stops with exit 3 and the limit"
)

if [[ "$(uname -s)" != Darwin ]]; then
  echo "tests/macos/acceptance.sh: these checks need a Mac (macOS, Apple silicon for rosetta); this is $(uname -s):" >&2
  printf '  %s\n' "${checks[@]}" >&2
  exit 2
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
work=$(mktemp -d /tmp/plmac.XXXX)
work=$(cd "$work" && pwd -P)
project="$work/with space/app"
passed=0 failed=0
say() { echo "acceptance: $*" >&2; }
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

cleanup() {
  if [[ -x "$project/.pixi/bin/pixi-lima" ]]; then
    (cd "$project" && .pixi/bin/pixi-lima delete --force >/dev/null 2>&1) || true
  fi
  [[ -n ${holder_pid:-} ]] && kill "$holder_pid" 2>/dev/null
  if [[ "${PIXI_LIMA_ACCEPTANCE_KEEP:-}" == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# new_project DIR: a workspace with pixi-lima installed from this checkout,
# its VM named "acc" (a name set is never shortened for a deep path).
new_project() {
  mkdir -p "$1"
  printf '[workspace]\nname = "acceptance"\n\n[tool.pixi-lima]\nname = "acc"\n' >"$1/pixi.toml"
  "$src/install.sh" "$1" >"$work/install.log" 2>&1
}

say "installing pixi-lima into '$project'"
if ! new_project "$project"; then
  tail -20 "$work/install.log" >&2
  echo "FAIL install: install.sh failed; nothing else can run"
  exit 1
fi
cd "$project" || exit 1
pl=.pixi/bin/pixi-lima
docker=.pixi/bin/docker

# vz-boot
say "booting the VM (minutes the first time: Lima downloads the image)"
begin=$(date +%s)
if ! $pl init >"$work/init.log" 2>&1; then
  tail -20 "$work/init.log" >&2
  echo "FAIL vz-boot: pixi-lima init failed; nothing else can run"
  exit 1
fi
took=$(($(date +%s) - begin))
vm_type=$(.pixi/bin/limactl-local list --format '{{.VMType}}' acc 2>/dev/null)
if [[ $vm_type == vz && $took -le 180 ]]; then pass "vz-boot ($took s)"; else fail vz-boot "VM type '$vm_type', $took s"; fi

# rosetta
if [[ "$(uname -m)" != arm64 ]]; then
  fail rosetta "this Mac is $(uname -m), not Apple silicon"
elif [[ "$($docker run --rm --platform linux/amd64 busybox uname -m 2>"$work/rosetta.log")" == x86_64 ]]; then
  pass rosetta
else
  fail rosetta "$(tail -1 "$work/rosetta.log"); doctor says: $($pl doctor 2>/dev/null | grep -A1 'rosetta:' | tr -s ' ' | tr '\n' ' ')"
fi

# chown: what Postgres' initdb does to its data directory.
mkdir -p "$project/pgdata"
bind=$($docker run --rm -v "$project/pgdata:/data" busybox sh -c 'chown 999:999 /data && chmod 700 /data && echo ok' 2>&1)
volume=$($docker run --rm -v acceptance-pgdata:/data busybox sh -c 'chown 999:999 /data && chmod 700 /data && echo ok' 2>&1)
$docker volume rm acceptance-pgdata >/dev/null 2>&1
mount_type=$(.pixi/bin/limactl-local list --format '{{.Config.MountType}}' acc 2>/dev/null)
if [[ $volume != ok ]]; then
  fail chown "chown on a named volume: $volume"
elif [[ $mount_type == virtiofs && $bind != *"Operation not permitted"* ]]; then
  fail chown "virtiofs: the bind mount's chown said '$bind', docs/faq.md says EPERM"
else
  pass "chown ($mount_type: bind mount '${bind//$'\n'/ }', named volume ok)"
fi

# time-machine
attr=com.apple.metadata:com_apple_backup_excludeItem
missing=()
for dir in .pixi/lima/acc .pixi/pixi-lima/home/Library/Caches/lima .pixi/pixi-lima/go .pixi/pixi-lima/bin .pixi/pixi-lima/share; do
  [[ -d $dir ]] || continue
  xattr -p "$attr" "$dir" >/dev/null 2>&1 || missing+=("$dir")
done
if ((${#missing[@]} == 0)); then pass time-machine; else fail time-machine "not excluded: ${missing[*]}"; fi

# fast-path: Lima logs every connection it accepts on a port below 1024;
# the next docker call must still exec at once, before Lima's packages
# initialize (GODEBUG=inittrace=1 would show them).
if $docker run -d --name acceptance-web -p 127.0.0.1:80:8080 busybox httpd -f -p 8080 >/dev/null 2>"$work/web.log"; then
  $docker version >/dev/null 2>&1 # the full path records the log's size
  for ((i = 0; i < 50; i++)); do curl -s -o /dev/null http://127.0.0.1:80/ || true; done
  lima_inits=$(GODEBUG=inittrace=1 $docker version 2>&1 >/dev/null | grep -c '^init github.com/lima-vm/')
  if [[ $lima_inits == 0 ]]; then pass fast-path; else fail fast-path "$lima_inits of Lima's packages initialized: the full path ran"; fi
  $docker rm -f acceptance-web >/dev/null 2>&1
else
  fail fast-path "could not publish port 80: $(tail -1 "$work/web.log")"
fi

# lsof: a host process holds the port first; the next docker call names it.
port=18555
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$port" &
holder_pid=$!
sleep 1
$docker run -d --name acceptance-clash -p "127.0.0.1:$port:8080" busybox httpd -f -p 8080 >/dev/null 2>&1
said=
for ((i = 0; i < 20; i++)); do
  said+=$($docker ps -q 2>&1 >/dev/null)
  [[ $said == *"(pid $holder_pid)"* ]] && break
  sleep 0.5
done
if [[ $said == *"(pid $holder_pid) holds it on the host"* ]]; then pass lsof; else fail lsof "docker ps said: ${said:-nothing}"; fi
$docker rm -f acceptance-clash >/dev/null 2>&1
kill "$holder_pid" 2>/dev/null
holder_pid=

# spaces: the project itself is under "with space".
echo hello >"$project/hello.txt"
if [[ "$($docker run --rm -v "$PWD:/w" busybox cat /w/hello.txt 2>&1)" == hello ]]; then
  pass spaces
else
  fail spaces "a bind mount of '$PWD' did not show hello.txt"
fi

# case-path: the same project through "WITH SPACE": pixi-lima must know
# Lima's processes, whose arguments spell the path as created, by file
# identity, not as strings.
upper="$work/WITH SPACE/app"
if [[ ! -d $upper ]]; then
  fail case-path "this volume is case-sensitive: '$upper' does not exist"
else
  out=$(cd "$upper" && .pixi/bin/pixi-lima stop 2>&1)
  code=$?
  state=$(.pixi/bin/limactl-local list --format '{{.Status}}' acc 2>/dev/null)
  if [[ $code == 0 && $state == Stopped && $out != *"not this VM's"* && $out != *"lost track of"* ]]; then
    pass case-path
  else
    fail case-path "stop through '$upper': exit $code, state $state: $out"
  fi
fi

# deep-path: nothing is created, exit 3, the limit named.
deep="$work/$(printf 'd%.0s' {1..40})/$(printf 'e%.0s' {1..40})"
if new_project "$deep"; then
  out=$(cd "$deep" && .pixi/bin/pixi-lima init 2>&1)
  code=$?
  if [[ $code == 3 && $out == *"must be shorter than 104"* && $out == *"at most"* ]]; then
    pass deep-path
  else
    fail deep-path "exit $code: $out"
  fi
else
  fail deep-path "install.sh failed in $deep"
fi

echo "$passed passed, $failed failed (of ${#checks[@]})"
((failed == 0))
