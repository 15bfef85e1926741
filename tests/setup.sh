#!/usr/bin/env bash
# tests/setup.sh — prepare this machine (Debian 12, run as root) for the
# tests and the offline demo: Debian packages, an unprivileged user for
# limactl (which refuses root), Compose v2 and buildx built from the Go
# module proxy, pixi-lima + limactl installed once as a "golden" .pixi that
# tests copy, and the offline guest image. Everything heavy is cached outside the repo
# in $PIXI_LIMA_CI_CACHE, keyed by what built it, so a re-run skips it.
#
# It prints `export NAME=value` lines on stdout for the caller to eval.
# Usage: tests/setup.sh [--no-image]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
cache=${PIXI_LIMA_CI_CACHE:-/var/cache/pixi-lima-ci}
user=${PIXI_LIMA_TEST_USER:-plci}
compose_version=v2.40.3
buildx_version=v0.38.2
say() { echo "setup: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  say "run as root (it installs packages and creates the test user $user)"
  exit 3
fi

# 1. Debian packages.
packages=(qemu-system-x86 qemu-utils debootstrap docker.io busybox-static e2fsprogs
  iptables hyperfine shellcheck time procps rsync git openssh-server patch python3-docker iproute2 zsh)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 2. The unprivileged user limactl runs as.
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
mkdir -p "$cache"
chmod 755 "$cache"
install -d -o "$user" -g "$user" "$cache/user-go" "$cache/golden"

# The guest image (step 6) waits mostly on Debian's mirror and disk, the Go
# builds on the CPU: start it now and collect it at the end.
image_log=$(mktemp)
image_pid=
if [[ "${1:-}" != --no-image ]]; then
  "$here/e2e/guest/build-image.sh" "$cache" >"$image_log" &
  image_pid=$!
fi

# Go for the test user: its own module and build caches, outside any HOME.
as_user() {
  setpriv --reuid="$user" --regid="$user" --init-groups \
    env -i PATH="$PATH" HOME="$cache/user-go" GOPATH="$cache/user-go" \
    GOMODCACHE="$cache/user-go/mod" GOCACHE="$cache/user-go/cache" GOFLAGS=-mod=mod \
    GOPROXY="$(go env GOPROXY)" GOTOOLCHAIN=local "$@"
}

# 3. Compose v2 and buildx, built from the module proxy (Debian's
# docker-compose is v1, and Debian 12 has no buildx). They go into one
# directory on the tests' PATH, as conda-forge's docker-compose and
# docker-buildx put bin/docker-compose and bin/docker-buildx beside
# bin/docker: neither package installs a CLI-plugin link.
tools=$cache/tools-compose-$compose_version-buildx-$buildx_version-$(go env GOOS)-$(go env GOARCH)
build_tool() { # build_tool NAME MODULE@VERSION PACKAGE LDFLAGS
  [[ -x "$tools/$1" ]] && return
  say "building $1 from $2 (minutes the first time)"
  local work
  work=$(mktemp -d)
  (cd "$work" && go mod init toolbuild >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go get "$2" >&2 &&
    GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $4" -o "$work/$1" "$3" >&2)
  mkdir -p "$tools"
  mv "$work/$1" "$tools/$1"
  rm -rf "$work"
}
build_tool docker-compose "github.com/docker/compose/v2@$compose_version" github.com/docker/compose/v2/cmd \
  "-X github.com/docker/compose/v2/internal.Version=$compose_version"
build_tool docker-buildx "github.com/docker/buildx@$buildx_version" github.com/docker/buildx/cmd/buildx \
  "-X github.com/docker/buildx/version.Version=$buildx_version"

# 3b. Deno, for its task shell: pixi runs a task's cmd with
# deno_task_shell, and `deno task` runs the same shell
# (tests/taskshell_test.go). Deno's npm package for this platform ships the
# binary.
deno_version=2.9.6
case $(uname -m) in aarch64) deno_pkg=@deno/linux-arm64-glibc ;; *) deno_pkg=@deno/linux-x64-glibc ;; esac
deno_dir=$cache/deno-$deno_version
if [[ ! -x "$deno_dir/node_modules/$deno_pkg/deno" ]]; then
  say "installing deno $deno_version from the npm registry"
  rm -rf "$deno_dir.new"
  npm install --prefix "$deno_dir.new" --no-save --no-audit --no-fund --loglevel=error "$deno_pkg@$deno_version" >&2
  chmod -R a+rX "$deno_dir.new"
  rm -rf "$deno_dir" && mv "$deno_dir.new" "$deno_dir"
fi

# 4. A copy of the sources the test user can read wherever CI cloned them
# (a clone under /root is not).
src=$cache/src
rm -rf "$src.new" && mkdir -p "$src.new"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$repo" ls-files -z --cached --others --exclude-standard | (cd "$repo" && xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$src.new"
else
  (cd "$repo" && tar cf - --exclude=./.pixi .) | tar xf - -C "$src.new"
fi
chmod -R a+rX "$src.new"
rm -rf "$src" && mv "$src.new" "$src"

# 5. The golden install: install.sh run once, as the test user. Tests copy
# its .pixi/pixi-lima (hard links) so install.sh finds its stamps and only links.
golden=$cache/golden
[[ -f "$golden/pixi.toml" ]] || as_user sh -c "printf '[workspace]\nname = \"golden\"\n' > '$golden/pixi.toml'"
say "installing pixi-lima into the golden project"
as_user "$src/install.sh" "$golden" >&2

# 6. The offline guest image for the end-to-end tests (--no-image skips it,
# and with it the tests that boot a VM).
template=
if [[ -n "$image_pid" ]]; then
  if ! wait "$image_pid"; then
    say "building the guest image failed"
    exit 1
  fi
  template=$(tail -n 1 "$image_log")
fi
rm -f "$image_log"

cat <<OUT
export PIXI_LIMA_TEST_USER=$user
export PIXI_LIMA_TEST_GOLDEN=$golden
export PIXI_LIMA_TEST_SRC=$src
export PIXI_LIMA_TEST_USER_GO=$cache/user-go
export PIXI_LIMA_TEST_TOOLS=$tools
export PIXI_LIMA_TEST_DENO=$deno_dir/node_modules/$deno_pkg/deno
export PIXI_LIMA_E2E_TEMPLATE=$template
OUT
