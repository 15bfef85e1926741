# shellcheck shell=sh
# env/activate.sh: pixi's activation script ([activation] scripts in
# pixi.toml), sourced by pixi for every `pixi run` and `pixi shell`.
#
# It lives in env/ because env/ is where pixi-lima decides the project's
# paths and variables (env.Paths.Bin is .pixi/bin); this is the one such
# decision that only the shell can carry out.
#
# It puts $PIXI_PROJECT_ROOT/.pixi/bin first on PATH, so before
# $CONDA_PREFIX/bin, exactly once however often it is sourced. The directory
# goes on PATH even before install.sh has run, so that `pixi run install`
# inside a running `pixi shell` takes effect at once (bash: `hash -r` if
# docker already ran). Until then .pixi/bin has no docker, a PATH lookup
# falls through to the environment's real docker, and nothing can loop.
# Sourced, not run: no `set -e`, no `exit`, and only __pixi_lima_* names.
if [ -n "${PIXI_PROJECT_ROOT:-}" ]; then
  __pixi_lima_bin=$PIXI_PROJECT_ROOT/.pixi/bin
  if [ -z "${PATH:-}" ]; then
    PATH=$__pixi_lima_bin
  else
    # Drop every copy of .pixi/bin, keeping the rest in order (empty
    # entries included), then put it first.
    __pixi_lima_rest=$PATH:
    __pixi_lima_path=
    while [ -n "$__pixi_lima_rest" ]; do
      __pixi_lima_dir=${__pixi_lima_rest%%:*}
      __pixi_lima_rest=${__pixi_lima_rest#*:}
      if [ "$__pixi_lima_dir" != "$__pixi_lima_bin" ]; then
        __pixi_lima_path=$__pixi_lima_path:$__pixi_lima_dir
      fi
    done
    PATH=$__pixi_lima_bin$__pixi_lima_path
  fi
  export PATH
  if [ ! -e "$__pixi_lima_bin/docker" ]; then
    echo "pixi-lima: not installed in this workspace yet, docker is the environment's own (hint: pixi run pixi-lima-install, or pixi run install in pixi-lima's own checkout)" >&2
  fi
  # DOCKER_HOST and Testcontainers' variables for clients that never call
  # the shim (the Python SDK, Testcontainers): pixi-lima writes them from
  # the settings; a value set before wins.
  if [ -r "$PIXI_PROJECT_ROOT/.pixi/pixi-lima/client.env" ]; then
    # shellcheck disable=SC1091 # written by pixi-lima at run time
    . "$PIXI_PROJECT_ROOT/.pixi/pixi-lima/client.env"
  fi
  unset __pixi_lima_bin __pixi_lima_rest __pixi_lima_path __pixi_lima_dir
fi
