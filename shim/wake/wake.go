// Package wake serves a unix socket that stands in for the engine's: each
// connection is spliced, byte for byte, to the engine's socket, so HTTP,
// hijacked streams (attach, exec, logs -f) and BuildKit sessions all pass.
// When the engine's socket does not accept, the engine is started first,
// once for all the connections that wait for it. Clients that never call
// the shim (SDKs, Testcontainers) thus wake a VM that stopped for idle-stop,
// as Docker Desktop's Resource Saver wakes on any API call.
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

// fresh is how long an answer of the engine stands for the next
// connections: within it they are spliced at once, later they ask the
// engine first. Lima's forwarder accepts connections even while the guest
// powers off or boots, so accepting proves nothing.
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

// dial connects to the engine, starting it if its socket does not accept.
// Connections that find it down wait in line: the first starts it, the
// others then connect.
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

// splice copies both ways until both directions end, and returns how
// many bytes the engine sent. Each direction's end is passed on as a
// half-close, which is how a hijacked stream (docker attach with stdin)
// says that its input is over while output still comes.
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
// error Docker's clients show as it is: the API speaks HTTP/1.1 and every
// client reads the reply to what it sent.
func refuse(c *net.UnixConn, err error) {
	msg := strings.ReplaceAll(fmt.Sprintf("pixi-lima: %v (the full log is in .pixi/pixi-lima/log)", err), `"`, `'`)
	body := fmt.Sprintf(`{"message":%q}`+"\n", msg)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.CloseWrite()
	io.Copy(io.Discard, c) // let the client finish sending, or it may see a reset instead of the reply
}
