#!/usr/bin/env bash
# bench/footprint.sh — what one more repository costs on disk.
#
# Run as root on this project's machine kind (Debian 12; see tests/setup.sh).
# Two repositories on one machine, each as a fresh machine gets it:
# install.sh from scratch (Go's caches in .pixi), then the VM created by
# the real limactl from the offline guest image (tests/setup.sh), served
# over HTTP on loopback so that Lima downloads it through its cache as it
# downloads a template's image. For each repository it reports the bytes
# allocated on disk (du -B1) by part: Go's caches, Lima's image cache, the
# VM's directory, the binaries, the rest of .pixi; and the machine's total.
#   before: image-cache unset, each repository caches the image in .pixi;
#   after:  image-cache set to one directory for both.
# The table goes to stdout and to bench/footprint.md; progress to stderr.
#
# Usage: bench/footprint.sh
#   PIXI_LIMA_BENCH_VM=1  boot each VM once (pixi-lima init, then stop)
#                         instead of only creating it: the first boot's growth
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
vm=${PIXI_LIMA_BENCH_VM:-0}
say() { echo "footprint: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  say "run as root (it runs limactl as an unprivileged user)"
  exit 3
fi
export PATH=$PATH:/usr/local/go/bin

# The machine setup the tests use (cached): the test user, the Go module
# cache install.sh is fed from, and the offline guest image.
if [[ -z "${PIXI_LIMA_TEST_USER_GO:-}" || -z "${PIXI_LIMA_E2E_TEMPLATE:-}" ]]; then
  eval "$("$repo/tests/setup.sh")"
fi
user=$PIXI_LIMA_TEST_USER
uid=$(id -u "$user")
gid=$(id -g "$user")
guest=$(dirname "$PIXI_LIMA_E2E_TEMPLATE")
[[ -r $guest/offline.yaml ]] || { say "no offline guest image in $guest"; exit 3; }

work=$(mktemp -d /tmp/plfXXXX)
chmod 755 "$work"
mkdir -p "$work/home"
chown "$uid:$gid" "$work/home"
shared=$work/home/.cache/pixi-lima # image-cache, in the "after" part
http_pid=
cleanup() {
  if [[ -n $http_pid ]]; then kill "$http_pid" 2>/dev/null || true; wait "$http_pid" 2>/dev/null || true; fi
  for r in "$work"/r*; do
    if [[ -x $r/.pixi/bin/pixi-lima ]]; then
      (cd "$r" && as_user .pixi/bin/pixi-lima delete --force >/dev/null 2>&1) || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# as_user CMD…: CMD as the test user in a clean environment, in the current directory.
as_user() {
  setpriv --reuid="$uid" --regid="$gid" --init-groups env -i \
    PATH="$PWD/.pixi/bin:$PIXI_LIMA_TEST_TOOLS:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    HOME="$work/home" USER="$user" LANG=C.UTF-8 "$@"
}

# The guest image's files over HTTP, as Lima would fetch a template's image:
# the image, its kernel and initrd. The server's log counts the downloads.
for ((port = 18780; port < 18880; port++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$guest" 2>"$work/http.log" >&2 &
http_pid=$!
for ((i = 0; i < 100; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
downloads() { grep -c '"GET ' "$work/http.log" || true; }
# The template: the offline image's settings with every location a URL.
sed -E "s|location: \".*/([^/\"]+)\"|location: \"http://127.0.0.1:$port/\1\"|" "$guest/offline.yaml" >"$work/offline-http.yaml"
printf 'base:\n- %s\n- template://docker\n' "$work/offline-http.yaml" >"$work/footprint.yaml"
chmod a+r "$work"/*.yaml

# new_repo N: a workspace named fpN with pixi-lima installed from this
# checkout by install.sh as on a fresh machine: no Go cache of the user's,
# so both of Go's caches go under .pixi, the modules fed from the tests'
# module cache (what proxy.golang.org serves). As root, as bench/run.sh
# installs: the test user may not read this checkout, or git refuses it.
new_repo() {
  local root=$work/r$1
  mkdir -p "$root" "$work/root-home"
  printf '[workspace]\nname = "fp%s"\n\n[tool.pixi-lima]\ntemplate = "%s"\n' "$1" "$work/footprint.yaml" >"$root/pixi.toml"
  say "repository $1: install.sh from scratch (minutes: Go builds limactl)"
  env -i PATH="$PATH" HOME="$work/root-home" GOPROXY="file://$PIXI_LIMA_TEST_USER_GO/mod/cache/download" GOSUMDB=off \
    GOFLAGS=-mod=mod GOTOOLCHAIN=local nice "$repo/install.sh" "$root" 2>&1 | grep -v '^go: downloading' | sed 's/^/  /' >&2
  chown -R "$uid:$gid" "$root"
}

# make_vm N: repository N's VM, created (or with PIXI_LIMA_BENCH_VM=1
# booted once and stopped); prints the image downloads it caused.
make_vm() {
  local before
  before=$(downloads)
  cd "$work/r$1"
  if [[ $vm == 1 ]]; then
    as_user .pixi/bin/pixi-lima init >/dev/null 2>"$work/last.log" || { tail -30 "$work/last.log" >&2; exit 1; }
    as_user .pixi/bin/pixi-lima stop >/dev/null 2>"$work/last.log" || { tail -30 "$work/last.log" >&2; exit 1; }
  else
    as_user .pixi/bin/limactl-local --tty=false create --name="fp$1-docker" "$work/footprint.yaml" >/dev/null 2>"$work/last.log" ||
      { tail -30 "$work/last.log" >&2; exit 1; }
  fi
  echo $(($(downloads) - before))
}

# bytes PATH…: allocated bytes of those that exist, hard links counted
# once, symlinks not followed.
bytes() {
  local p there=()
  for p; do [[ -e $p || -L $p ]] && there+=("$p"); done
  if ((${#there[@]})); then du -scB1 "${there[@]}" | awk 'END { print $1 }'; else echo 0; fi
}
mb() { awk -v b="$1" 'BEGIN { if (b < 1e6) printf "%.0f kB", b / 1e3; else printf "%.1f MB", b / 1e6 }'; }

rows=()
# measure SCENARIO N GETS: a row for repository N.
measure() {
  local root=$work/r$2 go cache vmdir bin total
  go=$(bytes "$root/.pixi/pixi-lima/go")
  cache=$(bytes "$root/.pixi/pixi-lima/cache" "$root/.pixi/pixi-lima/home/Library/Caches")
  vmdir=$(bytes "$root/.pixi/lima/fp$2-docker")
  bin=$(bytes "$root/.pixi/pixi-lima/bin" "$root/.pixi/pixi-lima/share")
  total=$(bytes "$root/.pixi")
  rows+=("| $1 | repository $2 | $3 | $(mb "$go") | $(mb "$cache") | $(mb "$vmdir") | $(mb "$bin") | $(mb $((total - go - cache - vmdir - bin))) | $(mb "$total") |")
}
# machine SCENARIO: rows for the shared cache, if any, and for both
# repositories' .pixi with it, measured at once; the total in $total.
machine() {
  local n
  n=$(bytes "$shared")
  total=$(bytes "$work/r1/.pixi" "$work/r2/.pixi" "$shared")
  if ((n)); then
    rows+=("| $1 | the shared image cache (\`image-cache\`) |  |  | $(mb "$n") |  |  |  | $(mb "$n") |")
  fi
  rows+=("| $1 | **machine: both repositories** |  |  |  |  |  |  | **$(mb "$total")** |")
}

new_repo 1
new_repo 2
say "before: image-cache unset"
gets1=$(make_vm 1)
gets2=$(make_vm 2)
measure before 1 "$gets1"
measure before 2 "$gets2"
machine before
total_before=$total

say "after: image-cache shared"
for n in 1 2; do
  (cd "$work/r$n" && as_user .pixi/bin/limactl-local delete --force "fp$n-docker" >/dev/null 2>&1)
  printf 'image-cache = "%s"\n' "$shared" >>"$work/r$n/pixi.toml"
done
gets1=$(make_vm 1)
gets2=$(make_vm 2)
for n in 1 2; do
  [[ -L $work/r$n/.pixi/pixi-lima/cache/lima ]] || { say "repository $n does not use the shared cache:"; cat "$work/last.log" >&2; exit 1; }
done
measure after 1 "$gets1"
measure after 2 "$gets2"
machine after
total_after=$total

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$repo" status --porcelain -- main.go env lima shim install.sh go.mod 2>/dev/null) ]] || commit="$commit (with local changes)"
{
  echo "# pixi-lima footprint: bytes on disk per repository"
  echo
  echo "$(date -u +%Y-%m-%d), commit $commit, \`bench/footprint.sh\`$([[ $vm == 1 ]] && echo " with PIXI_LIMA_BENCH_VM=1")."
  echo "Machine: $(nproc) cores, $(awk -F= '$1 == "PRETTY_NAME" { gsub(/"/, "", $2); print $2 }' /etc/os-release), Linux $(uname -r), $(stat -f -c %T "$work") under /tmp."
  echo "Image served over HTTP on loopback: the offline guest image ($(mb "$(stat -c %s "$guest/disk.qcow2")") qcow2, with its kernel and initrd)."
  echo "Each repository after install.sh from scratch and \`$([[ $vm == 1 ]] && echo "pixi-lima init\` and \`pixi-lima stop" || echo "limactl-local create")\`;"
  echo "allocated bytes (\`du -B1\`; 1 MB = 10^6 bytes; hard links counted once)."
  echo
  echo "| scenario | what | image downloads (GET) | Go's caches \`.pixi/pixi-lima/go\` | Lima's image cache | VM \`.pixi/lima/<name>\` | binaries \`.pixi/pixi-lima/{bin,share}\` | rest of \`.pixi\` | total |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Two repositories: $(mb "$total_before") before, $(mb "$total_after") after ($(mb $((total_before - total_after))) less)."
} | tee "$here/footprint.md"
