#!/usr/bin/env bash
# install.sh [--adopt] [PROJECT] — build pixi-lima, limactl and Lima's guest
# agent from the pinned Go modules into PROJECT/.pixi, and link the shim's
# names into PROJECT/.pixi/bin. PROJECT defaults to $PIXI_PROJECT_ROOT, else
# the directory of this script, and must be a pixi workspace: a pixi.toml,
# or a pyproject.toml with a [tool.pixi.workspace] (or [tool.pixi.project])
# table. Re-running it only rebuilds what changed; when nothing did, it
# changes nothing on disk and prints nothing. --adopt then adds pixi-lima's
# dependencies, activation and tasks to PROJECT's manifest, pointed at this
# checkout (`pixi-lima adopt`).
#
# Layout (everything under PROJECT/.pixi, so deleting .pixi removes it all):
#   pixi-lima/bin/pixi-lima          the multi-call binary
#   pixi-lima/bin/limactl            Lima, version-matched to go.mod
#   pixi-lima/share/lima/            the guest agent and Lima's templates
#   pixi-lima/go/mod                 Go's module cache (its build cache only
#                                    during a build, or PIXI_LIMA_KEEP_GO_CACHE=1)
#   pixi-lima/go/config/go/telemetry Go's telemetry, off (macOS: under pixi-lima/home)
#                                    (PIXI_LIMA_GO_CACHES=user: Go's own, in HOME)
#   bin/{docker,docker-compose,limactl-local,pixi-lima} -> ../pixi-lima/bin/pixi-lima
#   docker/cli-plugins/docker-compose -> ../../bin/docker-compose (`docker compose`)
# On macOS Time Machine skips pixi-lima/go, pixi-lima/bin and pixi-lima/share.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
adopt=
if [[ "${1:-}" == --adopt ]]; then
  adopt=1
  shift
fi
project=${1:-${PIXI_PROJECT_ROOT:-$src}}
# pixi-lima's test (env.ManifestPath) without a TOML parser: a pyproject.toml
# counts when a table header is [tool.pixi], [tool.pixi.workspace] or
# [tool.pixi.project] (or one below them), as pixi writes them; pixi-lima
# parses the file when it runs.
if [[ ! -e "$project/pixi.toml" ]] &&
  ! grep -Eqs '^[[:space:]]*\[tool\.pixi(\]|\.workspace[].]|\.project[].])' "$project/pyproject.toml"; then
  echo "install.sh: $project has no pixi.toml, nor a pyproject.toml with [tool.pixi.workspace]" >&2
  echo "  hint: ./install.sh /path/to/your/pixi/workspace" >&2
  exit 3
fi
project=$(cd "$project" && pwd -P)
prefix=$project/.pixi/pixi-lima
share=$prefix/share/lima

say() { echo "install.sh: $*" >&2; }

# On Apple silicon an x86_64 pixi, and so its x86_64 bash and Go, runs
# under Rosetta: Go would build an amd64 limactl, which Lima refuses to run,
# and an amd64 pixi-lima. The kernel says so (sysctl.proc_translated is 1;
# an Intel Mac has no such key), and hw.optional.arm64 says that the
# machine is Apple silicon whatever runs the shell.
rosetta_stop() {
  say "$1 on Apple silicon (under Rosetta): Go would build an x86_64 limactl, which Lima refuses to run"
  echo "  hint: use an arm64 pixi (and its arm64 Go): reinstall pixi from a terminal not under Rosetta" \
    "(curl -fsSL https://pixi.sh/install.sh | sh; file \"\$(command -v pixi)\" says arm64), then run install.sh again" >&2
  exit 3
}
darwin=
[[ "$(uname -s)" != Darwin ]] || darwin=1
if [[ -n $darwin && "$(sysctl -n sysctl.proc_translated 2>/dev/null)" == 1 ]]; then
  rosetta_stop "this shell is x86_64"
fi

# Go keeps its module cache (Lima's dependencies, hundreds of MB), its build
# cache and its telemetry counters in HOME; here they go under .pixi too, so
# that deleting .pixi removes every trace of the build. A GOMODCACHE or
# GOCACHE in the environment wins; PIXI_LIMA_GO_CACHES=user leaves all of
# Go's defaults alone, to share the caches with the user's other builds.
modcacherw=
if [[ "${PIXI_LIMA_GO_CACHES:-}" != user ]]; then
  export GOMODCACHE=${GOMODCACHE:-$prefix/go/mod} GOCACHE=${GOCACHE:-$prefix/go/cache}
  # Telemetry has no variable of its own (GOTELEMETRYDIR is read-only): it
  # is os.UserConfigDir()/go/telemetry, and only XDG_CONFIG_HOME (Linux) or
  # HOME (macOS) moves that. The same directory holds `go env -w`'s
  # settings: GOENV keeps them, NETRC and GIT_CONFIG_GLOBAL the credentials
  # a direct (GOPROXY=direct, GOPRIVATE) download may need on macOS.
  if [[ "$OSTYPE" == darwin* ]]; then
    export GOENV=${GOENV:-$HOME/Library/Application Support/go/env} NETRC=${NETRC:-$HOME/.netrc} \
      GIT_CONFIG_GLOBAL=${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig} HOME=$prefix/home
    telemetry="$HOME/Library/Application Support/go/telemetry"
  else
    export GOENV=${GOENV:-${XDG_CONFIG_HOME:-$HOME/.config}/go/env} XDG_CONFIG_HOME=$prefix/go/config
    telemetry=$XDG_CONFIG_HOME/go/telemetry
  fi
  # And off: counters kept in .pixi would never be uploaded, and Go writes
  # them on every call, so a run with nothing to do would change .pixi.
  # (This is the file `go telemetry off` writes.)
  if [[ ! -f "$telemetry/mode" ]]; then
    mkdir -p "$telemetry" && echo off >"$telemetry/mode"
  fi
  # Go makes its module cache read-only, which rm -rf .pixi could not delete.
  [[ "$GOMODCACHE" != "$prefix/go/mod" ]] || modcacherw=-modcacherw
fi
# The checkout may sit inside a Go workspace (a submodule of the user's
# repository): build it as the module it is.
export GOWORK=off

if ! command -v go >/dev/null 2>&1; then
  say "go is not on PATH"
  echo "  hint: pixi run install (the workspace provides go), or install Go 1.25 or newer" >&2
  exit 127
fi

# One go call per fact: a run with nothing to do is these three calls and
# the source hash below.
cd "$src"
go_version=$(go version)
go_env=$(go env GOOS GOARCH CC)
{ read -r goos; read -r goarch; read -r go_cc; } <<<"$go_env"
if [[ -n $darwin && $goarch == amd64 && "$(sysctl -n hw.optional.arm64 2>/dev/null)" == 1 ]]; then
  rosetta_stop "Go ($(command -v go)) is x86_64"
fi
lima_mod=$(go list ${modcacherw:+"$modcacherw"} -m -f '{{.Version}} {{.Dir}}' github.com/lima-vm/lima)
read -r lima_version lima_dir <<<"$lima_mod"
if [[ -z "$lima_dir" || ! -d "$lima_dir" ]]; then
  go mod download ${modcacherw:+"$modcacherw"} github.com/lima-vm/lima
  lima_dir=$(go list ${modcacherw:+"$modcacherw"} -m -f '{{.Dir}}' github.com/lima-vm/lima)
fi

# stamp PATH KEY: true when PATH (a file or a directory) was built with
# KEY already.
stamp_ok() { [[ -e "$1" && -f "$1.stamp" && "$(<"$1.stamp")" == "$2" ]]; }
# Replace the stamp, never write into it: it may be a hard link shared with
# another .pixi (tests copy a golden install with cp -al), whose binary did
# not change.
stamp_set() { printf '%s' "$2" >"$1.stamp.new" && mv -f "$1.stamp.new" "$1.stamp"; }
# Set when this run built or linked anything; otherwise it says nothing.
changed=

# On macOS, limactl needs cgo for vz (macOS's virtualization framework,
# used from Objective-C), and a signature with Lima's entitlements.
cgo=0
[[ "$goos" != darwin ]] || cgo=1
ldflags="-s -w -X github.com/lima-vm/lima/pkg/version.Version=$lima_version"
lima_key="$lima_version $goos/$goarch cgo=$cgo $go_version"

# cgo needs a C compiler: Xcode's command line tools are enough. But
# conda-forge's go (the one pixi installs) was built with conda-forge's
# clang and keeps its name as the default CC (arm64-apple-darwin20.0.0-clang,
# x86_64-apple-darwin13.4.0-clang), which only conda-forge's compilers
# (go-cgo, clang_osx-arm64, ...) put on PATH; without them, Xcode's clang
# does it. Checked before minutes of building, and only when limactl is built.
if ((cgo)) && ! stamp_ok "$prefix/bin/limactl" "$lima_key"; then
  if ! xcode-select -p >/dev/null 2>&1; then
    say "Xcode's command line tools are missing: limactl needs a C compiler (cgo) to use macOS's virtualization (vz)"
    echo "  hint: xcode-select --install, then run install.sh again" >&2
    exit 127
  fi
  if [[ -z "${CC:-}" ]] && ! command -v "${go_cc%% *}" >/dev/null 2>&1; then
    export CC=clang
  fi
  if ! cgo_err=$(CGO_ENABLED=1 go build ${modcacherw:+"$modcacherw"} runtime/cgo 2>&1); then
    say "cgo does not work here with CC=${CC:-$go_cc}, and limactl needs it to use macOS's virtualization (vz):"
    printf '  %s\n' "$cgo_err" | tail -n 5 >&2
    echo "  hint: xcode-select --install (after a macOS update: softwareupdate --install --all, or reinstall the tools:" \
      "sudo rm -rf /Library/Developer/CommandLineTools && xcode-select --install), then run install.sh again" >&2
    exit 127
  fi
fi

mkdir -p "$prefix/bin" "$share" "$project/.pixi/bin" "$project/.pixi/docker/cli-plugins"

# 1. pixi-lima itself, keyed by its sources. macOS has shasum, not always
# GNU's sha256sum; the build needs no GNU tools.
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }
self_key=$( (echo "$go_version"; find . -path ./.pixi -prune -o \( -name '*.go' -o -name go.mod -o -name go.sum \) -print |
  LC_ALL=C sort | xargs cat) | sha256 | cut -c1-16)
if ! stamp_ok "$prefix/bin/pixi-lima" "$self_key"; then
  say "building pixi-lima"
  # Lima's packages inside pixi-lima check lima.yaml's minimumLimaVersion
  # against their own version, which only -X sets (as for limactl).
  go build ${modcacherw:+"$modcacherw"} -trimpath -ldflags "-X github.com/lima-vm/lima/pkg/version.Version=$lima_version" -o "$prefix/bin/pixi-lima.new" .
  mv -f "$prefix/bin/pixi-lima.new" "$prefix/bin/pixi-lima"
  stamp_set "$prefix/bin/pixi-lima" "$self_key"
  changed=1
fi

# 2. limactl and the guest agent, from the module go.mod pins.
if ! stamp_ok "$prefix/bin/limactl" "$lima_key"; then
  say "building limactl $lima_version (a few minutes the first time)"
  CGO_ENABLED=$cgo go build ${modcacherw:+"$modcacherw"} -trimpath -ldflags "$ldflags" -o "$prefix/bin/limactl.new" github.com/lima-vm/lima/cmd/limactl
  if [[ "$goos" == darwin ]]; then
    codesign --sign - --force --entitlements "$lima_dir/vz.entitlements" "$prefix/bin/limactl.new"
  fi
  mv -f "$prefix/bin/limactl.new" "$prefix/bin/limactl"
  stamp_set "$prefix/bin/limactl" "$lima_key"
  changed=1
fi

case "$goarch" in
  amd64) guest_arch=x86_64 ;;
  arm64) guest_arch=aarch64 ;;
  *) say "no Lima guest agent for GOARCH=$goarch"; exit 3 ;;
esac
agent=$share/lima-guestagent.Linux-$guest_arch.gz
if ! stamp_ok "$agent" "$lima_key"; then
  say "building Lima's guest agent for Linux/$guest_arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$goarch go build ${modcacherw:+"$modcacherw"} -trimpath -ldflags "$ldflags" -o "$share/guestagent.new" github.com/lima-vm/lima/cmd/lima-guestagent
  gzip -9 -c "$share/guestagent.new" >"$agent.new"
  rm -f "$share/guestagent.new"
  mv -f "$agent.new" "$agent"
  stamp_set "$agent" "$lima_key"
  changed=1
fi

# 3. Lima's templates. The module zip drops Git symlinks, so the aliases
# that templates refer to (docker.yaml's base is template://_images/ubuntu-lts)
# are recreated here, pointing where Lima's repository points them. A
# `limactl create` in another terminal may be reading them: the new copy is
# made aside and swapped in, and only when Lima's version changed.
if ! stamp_ok "$share/templates" "$lima_key"; then
  new=$share/templates.new
  rm -rf "$new" "$share/templates.old"
  cp -R "$lima_dir/templates" "$new"
  chmod -R u+w "$new"
  while read -r alias target; do
    if [[ -e "$new/$target" && ! -e "$new/$alias" ]]; then
      ln -s "$(basename "$target")" "$new/$alias"
    fi
  done <<'EOF'
_images/ubuntu-lts.yaml _images/ubuntu-24.04.yaml
_images/ubuntu.yaml _images/ubuntu-25.04.yaml
_images/fedora.yaml _images/fedora-42.yaml
ubuntu-lts.yaml ubuntu-24.04.yaml
ubuntu.yaml ubuntu-25.04.yaml
fedora.yaml fedora-42.yaml
debian.yaml debian-12.yaml
almalinux.yaml almalinux-10.yaml
rocky.yaml rocky-10.yaml
centos-stream.yaml centos-stream-10.yaml
oraclelinux.yaml oraclelinux-9.yaml
EOF
  if [[ -e "$share/templates" ]]; then mv "$share/templates" "$share/templates.old"; fi
  mv "$new" "$share/templates"
  rm -rf "$share/templates.old"
  stamp_set "$share/templates" "$lima_key"
  changed=1
fi

# 4. The shim's names: relative links, replaced only when they differ.
link() { # link TARGET NAME
  [[ "$(readlink "$2" 2>/dev/null)" == "$1" ]] && return
  ln -sfn "$1" "$2.new" && mv -f "$2.new" "$2"
  changed=1
}
for name in pixi-lima docker docker-compose limactl-local; do
  link ../pixi-lima/bin/pixi-lima "$project/.pixi/bin/$name"
done
link ../../bin/docker-compose "$project/.pixi/docker/cli-plugins/docker-compose"

# Go's build cache under .pixi is only worth keeping for the next rebuild
# (an update of pixi-lima), which then compiles from scratch: about a
# gigabyte in every repository otherwise. PIXI_LIMA_KEEP_GO_CACHE=1 keeps
# it; the module cache stays, so a rebuild needs no download.
if [[ -n $changed && "${GOCACHE:-}" == "$prefix/go/cache" && "${PIXI_LIMA_KEEP_GO_CACHE:-}" != 1 ]]; then
  rm -rf "$prefix/go/cache"
fi

# Time Machine skips what this builds and caches, as pixi-lima has it skip
# the VM and Lima's image cache (lima/backup.go): the attribute `tmutil
# addexclusion` sets, written once, so that a run with nothing to do writes
# nothing.
if [[ -n $darwin ]]; then
  backup_attr=com.apple.metadata:com_apple_backup_excludeItem
  backup_value=62706c69737430305f1011636f6d2e6170706c652e6261636b75706408000000000000010100000000000000010000000000000000000000000000001c
  for dir in "$prefix/go" "$prefix/bin" "$prefix/share"; do
    if [[ -d $dir && ! -L $dir ]] && ! xattr -p "$backup_attr" "$dir" >/dev/null 2>&1; then
      xattr -wx "$backup_attr" "$backup_value" "$dir" || true
    fi
  done
fi

if [[ -n $changed ]]; then
  # The variables env/activate.sh gives other Docker clients
  # (.pixi/pixi-lima/client.env): any call that reads the settings writes them.
  "$project/.pixi/bin/pixi-lima" env >/dev/null 2>&1 || true
  say "installed into $project/.pixi (pixi-lima, limactl $lima_version)"
fi
if [[ -n $adopt ]]; then
  exec "$project/.pixi/bin/pixi-lima" adopt --checkout "$src"
fi
