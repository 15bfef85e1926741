// Package fastpath execs docker or docker-compose from an init function
// when the Record the full path saved still matches and the engine answers.
// It must import as little as possible: the inits of Lima's packages cost
// more than the rest of the call, and this one must run before them.
package fastpath

import (
	"bytes"
	"os"
	"syscall"
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

const (
	docker  = "docker"
	compose = "docker-compose"
)

// DepthVar counts the pixi-lima shims between the user and the real tool,
// so that two wrappers that find each other cannot loop.
const (
	DepthVar = "PIXI_LIMA_SHIM_DEPTH"
	MaxDepth = 8
)

// forceArg0Var lets tests run the binary under any name, on the full path.
const forceArg0Var = "PIXI_LIMA_FORCE_ARG0"

func init() {
	real, argv, environ, ok := plan(os.Args, os.Environ())
	if !ok {
		return
	}
	// Not x/sys/unix, which would order this init late.
	_ = syscall.Exec(real, argv, environ)
}

// plan returns what to exec when this call can skip the full path; any
// doubt leaves the call to the full path, which says what is wrong.
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
	if rec.Socket != "" && (!ping.Engine(rec.Socket, 2*time.Second) || !lockFree(root)) {
		return "", nil, nil, false
	}
	argv = append([]string{tool}, args[1:]...)
	return real, argv, rec.environ(environ, depth+1), true
}

// lockFree says whether no start, stop or delete holds the instance lock
// (env.Paths.LockFile) after the ping answered: one shared, non-blocking
// flock released at once. A holder may be about to take the engine down,
// so the call goes to the full path, which waits for it.
func lockFree(root string) bool {
	f, err := os.Open(root + "/.pixi/lima/.pixi-lima.lock")
	if err != nil {
		return os.IsNotExist(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	return err == nil // closing the file releases it
}

// rootOf returns X when exe is X/.pixi/…, as env.FindRoot decides first.
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
