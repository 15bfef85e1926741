// Package wake serves the wake socket: a unix socket that stands in for the
// engine's, splicing each connection to it byte for byte, and starting the
// engine first when it is down, so that clients that never call the shim
// wake a VM that idle-stop powered off. It does not interpret the API.
package wake

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Server splices connections to Engine, starting it with Start when needed.
type Server struct {
	Engine string                          // the engine's unix socket
	Start  func(ctx context.Context) error // boots the engine; it takes its own lock
	Log    io.Writer

	starting sync.Mutex
	answered atomic.Int64 // when the engine last answered, in Unix nanoseconds
}

// fresh is how long an answer of the engine lets connections be spliced
// at once; Lima's forwarder accepts even while the guest is down.
const fresh = 2 * time.Second

// Serve accepts connections on l until ctx ends or l fails.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.serve(ctx, conn.(*net.UnixConn))
	}
}

func (s *Server) serve(ctx context.Context, client *net.UnixConn) {
	defer client.Close()
	engine, err := s.dial(ctx)
	if err != nil {
		fmt.Fprintf(s.Log, "%s %v\n", time.Now().Format(time.RFC3339), err)
		refuse(client, err)
		return
	}
	defer engine.Close()
	if splice(client, engine) > 0 {
		s.answered.Store(time.Now().UnixNano())
	}
}

// dial connects to the engine, starting it once for all the connections
// that find it down.
func (s *Server) dial(ctx context.Context) (*net.UnixConn, error) {
	if time.Since(time.Unix(0, s.answered.Load())) < fresh || s.answers() {
		return dialUnix(s.Engine)
	}
	s.starting.Lock()
	defer s.starting.Unlock()
	if s.answers() {
		return dialUnix(s.Engine)
	}
	begin := time.Now()
	fmt.Fprintf(s.Log, "%s a client connected while the engine was down; starting it\n", begin.Format(time.RFC3339))
	if err := s.Start(ctx); err != nil {
		return nil, fmt.Errorf("could not start the engine: %w", err)
	}
	fmt.Fprintf(s.Log, "%s the engine answers after %s\n", time.Now().Format(time.RFC3339), time.Since(begin).Round(time.Millisecond))
	return dialUnix(s.Engine)
}

func (s *Server) answers() bool {
	if !ping.Engine(s.Engine, 2*time.Second) {
		return false
	}
	s.answered.Store(time.Now().UnixNano())
	return true
}

func dialUnix(path string) (*net.UnixConn, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// splice copies both ways until both directions end, passing each end on
// as a half-close for hijacked streams, and returns what the engine sent.
func splice(client, engine *net.UnixConn) (fromEngine int64) {
	done := make(chan struct{})
	go func() {
		io.Copy(engine, client)
		engine.CloseWrite()
		close(done)
	}()
	fromEngine, _ = io.Copy(client, engine)
	client.CloseWrite()
	<-done
	return fromEngine
}

// refuse answers a client whose engine could not be started with an HTTP
// error, which Docker's clients show as it is.
func refuse(c *net.UnixConn, err error) {
	msg := strings.ReplaceAll(fmt.Sprintf("pixi-lima: %v (the full log is in .pixi/pixi-lima/log)", err), `"`, `'`)
	body := fmt.Sprintf(`{"message":%q}`+"\n", msg)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.CloseWrite()
	io.Copy(io.Discard, c) // let the client finish sending, or it may see a reset instead of the reply
}
