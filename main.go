// Command pixi-lima is a per-repository Docker engine for pixi workspaces.
// One binary, called as docker, docker-compose, limactl-local or pixi-lima.
package main

import (
	"os"

	"github.com/pixi-lima/pixi-lima/shim"
)

func main() { os.Exit(shim.Main(os.Args)) }
