// Package fastpath turns a docker or docker-compose call into the real
// tool before the rest of pixi-lima, and Lima's packages with it,
// initialize.
//
// Go runs every linked package's init before main. pixi-lima links Lima's
// pkg/store for its slow path, and with it some 120 packages (yq, YAML,
// go-cmp, crypto, …) whose init costs more than the rest of a docker call
// through the shim (bench/results.md). A call whose engine already answers
// needs none of them. The linker orders inits by dependency and, among
// packages that are ready, by import path (the Go spec, "Package
// initialization"), so this package imports only packages the runtime
// readies first (os, syscall, bytes, hash/fnv, path, time) and its init runs
// about 20th, before all of Lima's. tests/fastpath_test.go checks that.
//
// The fast path cannot read the project's settings here: a TOML parser
// would order this package late. So the full path saves a Record of what
// it worked out, keyed by everything that went into it. When the key
// matches and the engine answers, init execs the real tool with the
// recorded environment. Anything else, and init returns: main does the
// whole job, reports any error, and saves a fresh record.
package fastpath

import (
	"bytes"
	"os"
	"syscall"
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// The names that have a fast path, as install.sh links them.
const (
	docker  = "docker"
	compose = "docker-compose"
)

// DepthVar counts how many pixi-lima shims are between the user and the
// real tool. Two wrappers that find each other would loop forever; the
// counter stops them (as rustup's RUST_RECURSION_COUNT does). `docker
// compose` passes the shim twice: docker, then the plugin link.
const (
	DepthVar = "PIXI_LIMA_SHIM_DEPTH"
	MaxDepth = 8
)

// forceArg0Var lets tests run the binary under any name; those calls take
// the full path.
const forceArg0Var = "PIXI_LIMA_FORCE_ARG0"

func init() {
	real, argv, environ, ok := plan(os.Args, os.Environ())
	if !ok {
		return
	}
	// syscall.Exec is what golang.org/x/sys/unix.Exec calls; importing
	// x/sys/unix here would order this init after ~55 other packages'.
	_ = syscall.Exec(real, argv, environ)
	// The exec failed (the tool went away?): the full path says why.
}

// plan returns what to exec when this call can skip the full path: the
// name is docker or docker-compose, a record for this binary, the
// manifest and these settings exists, the depth guard allows it, $PWD
// reaches the project by a path the VM mounts and is in no other
// workspace not yet warned about, the real tool is on PATH
// and the recorded engine answers.
func plan(args, environ []string) (real string, argv, env []string, ok bool) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, false
	}
	return planFor(exe, args, environ)
}

// planFor is plan for the binary at exe.
func planFor(exe string, args, environ []string) (real string, argv, env []string, ok bool) {
	if len(args) == 0 {
		return "", nil, nil, false
	}
	tool := base(args[0])
	if tool != docker && tool != compose || lookup(environ, forceArg0Var) != "" {
		return "", nil, nil, false
	}
	depth, ok := parseDepth(lookup(environ, DepthVar))
	if !ok || depth >= MaxDepth {
		return "", nil, nil, false
	}
	root, ok := rootOf(exe)
	if !ok {
		return "", nil, nil, false
	}
	self, err := os.Stat(exe) // for the key and to skip ourselves on PATH
	if err != nil {
		return "", nil, nil, false
	}
	rec, ok := load(root, self, environ)
	if !ok {
		return "", nil, nil, false
	}
	if pwd := lookup(environ, "PWD"); !rec.reaches(pwd, root) || rec.elsewhere(pwd, root) {
		return "", nil, nil, false
	}
	if rec.portLogChanged() {
		return "", nil, nil, false
	}
	real, ok = FindReal(tool, lookup(environ, "PATH"), self)
	if !ok {
		return "", nil, nil, false
	}
	if rec.Socket != "" && !ping.Engine(rec.Socket, 2*time.Second) {
		return "", nil, nil, false
	}
	argv = append([]string{tool}, args[1:]...)
	return real, argv, rec.environ(environ, depth+1), true
}

// rootOf returns X when exe is X/.pixi/…: the workspace whose .pixi holds
// the binary, as env.FindRoot decides first. Other calls take the full path.
func rootOf(exe string) (string, bool) {
	i := bytes.LastIndex([]byte(exe), []byte("/.pixi/"))
	if i <= 0 {
		return "", false
	}
	return exe[:i], true
}

// lookup is os.Getenv on a given environment.
func lookup(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := cut(environ[i], '='); ok && k == key {
			return v
		}
	}
	return ""
}

// parseDepth reads DepthVar: unset is 0.
func parseDepth(s string) (int, bool) {
	if len(s) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// formatDepth writes a depth for DepthVar.
func formatDepth(n int) string {
	if n <= 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// base is filepath.Base for the names we compare.
func base(path string) string {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if i := bytes.LastIndexByte([]byte(path), '/'); i >= 0 && path != "/" {
		return path[i+1:]
	}
	return path
}

// cut is strings.Cut on one byte.
func cut(s string, sep byte) (before, after string, found bool) {
	if i := bytes.IndexByte([]byte(s), sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
