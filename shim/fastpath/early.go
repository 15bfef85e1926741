package fastpath

import (
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// `pixi-lima status` must ask the engine, and on a running VM that round
// trip through Lima's forward into the guest costs about as much as the
// process start with Lima's inits (bench/results.md). When the record
// knows the socket, init starts the ping, so the two overlap.
var early struct {
	socket  string
	answers chan bool
}

// startEarlyPing starts the ping for a status call whose record matches.
func startEarlyPing(exe string, args, environ []string) {
	if len(args) < 2 || base(args[0]) != "pixi-lima" || args[1] != "status" {
		return
	}
	root, ok := rootOf(exe)
	if !ok {
		return
	}
	rec, ok := load(root, exe, environ)
	if !ok || rec.Socket == "" {
		return
	}
	early.socket, early.answers = rec.Socket, make(chan bool, 1)
	go func() { early.answers <- ping.Engine(rec.Socket, 2*time.Second) }()
}

// Answers reports whether the engine on socket answers: the answer of the
// ping init started for it, or of a new one.
func Answers(socket string) bool {
	if early.answers != nil && early.socket == socket {
		answer := <-early.answers
		early.answers <- answer // for the next caller
		return answer
	}
	return ping.Engine(socket, 2*time.Second)
}
