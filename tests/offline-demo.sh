#!/usr/bin/env bash
# tests/offline-demo.sh — the main job on an offline Debian 12 machine (as
# root): prepare the machine (tests/setup.sh), make a demo pixi workspace
# owned by the unprivileged test user, install pixi-lima into it, bring up
# the engine with `pixi-lima init`, and run a container through the shim.
# The image is built FROM scratch with Debian's busybox-static: no registry
# is reachable here. The VM is left running; stop it with
#   setpriv --reuid=plci --regid=plci --init-groups /tmp/pixi-lima-demo/.pixi/bin/pixi-lima stop
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
eval "$("$here/setup.sh")"
demo=${1:-/tmp/pixi-lima-demo}
user=$PIXI_LIMA_TEST_USER

mkdir -p "$demo/img"
cat >"$demo/pixi.toml" <<TOML
[workspace]
name = "demo"

[tool.pixi-lima]
template = "$PIXI_LIMA_E2E_TEMPLATE"
TOML
cp /bin/busybox "$demo/img/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n' >"$demo/img/Dockerfile"
chown -R "$user:$user" "$demo"

as_user() {
  (cd "$demo" && setpriv --reuid="$user" --regid="$user" --init-groups env -i \
    PATH="$demo/.pixi/bin:$PIXI_LIMA_TEST_TOOLS:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    HOME="$demo/.home" GOPATH="$PIXI_LIMA_TEST_USER_GO" GOMODCACHE="$PIXI_LIMA_TEST_USER_GO/mod" \
    GOCACHE="$PIXI_LIMA_TEST_USER_GO/cache" XDG_CONFIG_HOME="$PIXI_LIMA_TEST_USER_GO/config" \
    GOFLAGS=-mod=mod "$@")
}
as_user mkdir -p "$demo/.home"
as_user "$PIXI_LIMA_TEST_SRC/install.sh" "$demo"
as_user pixi-lima init
as_user docker build -q -t demo-busybox "$demo/img"
as_user docker run --rm demo-busybox echo "hello from pixi-lima's VM"
as_user pixi-lima status
