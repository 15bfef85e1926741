// Command floor is the benchmarks' design floor for the docker shim:
// a minimal Go program that asks the engine on
// DOCKER_HOST's socket for GET /_ping (with package net, as such a program
// is usually written) and then execs the real docker with the environment
// unchanged. It finds no project, reads no settings and builds no
// environment.
//
//	floor /usr/local/bin/docker version
//
// Built with -tags store it also links Lima's pkg/store, as pixi-lima must
// for its slow path: the difference is the price of that import alone
// (package init and binary size). pixi-lima's fast path runs before that
// package init (see shim/fastpath), so it can come in under this floor.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor /path/to/docker [args…]")
		os.Exit(2)
	}
	socket := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if !ping(socket, 2*time.Second) {
		fmt.Fprintf(os.Stderr, "floor: no engine answers on %s\n", socket)
		os.Exit(1)
	}
	err := unix.Exec(os.Args[1], append([]string{"docker"}, os.Args[2:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(127)
}

// ping asks for /_ping as lima/ping.Engine does, written with package net.
func ping(socket string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "HTTP/1.") && strings.Contains(line, " 200 ")
}
