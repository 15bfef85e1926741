package wake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixture is a wake socket in front of an engine socket where nothing
// listens until Start runs: start makes serve listen there.
type fixture struct {
	wake, engine string
	starts       atomic.Int32
}

func newFixture(t *testing.T, serve func(net.Listener), startErr error) *fixture {
	dir := t.TempDir()
	f := &fixture{wake: filepath.Join(dir, "wake.sock"), engine: filepath.Join(dir, "engine.sock")}
	ln, err := net.Listen("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{Engine: f.engine, Log: io.Discard, Start: func(context.Context) error {
		f.starts.Add(1)
		if startErr != nil {
			return startErr
		}
		time.Sleep(200 * time.Millisecond) // a boot: clients pile up meanwhile
		el, err := net.Listen("unix", f.engine)
		if err != nil {
			return err
		}
		t.Cleanup(func() { el.Close() })
		go serve(el)
		return nil
	}}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

func (f *fixture) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", f.wake)
		},
		DisableKeepAlives: true,
	}}
}

// Concurrent clients of a stopped engine start it once, and each gets its answer.
func TestConcurrentClientsStartOnce(t *testing.T) {
	f := newFixture(t, func(l net.Listener) {
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") }))
	}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.client().Get("http://docker/_ping")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); string(b) != "OK" {
				errs <- fmt.Errorf("body %q", b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.starts.Load(); n != 1 {
		t.Errorf("the engine was started %d times, want 1", n)
	}
	// Running now: no more starts.
	if resp, err := f.client().Get("http://docker/_ping"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if n := f.starts.Load(); n != 1 {
		t.Errorf("a call to the running engine started it again (%d starts)", n)
	}
}

// A hijacked stream, as docker attach uses it: the client half-closes
// its input, and output still flows back after that.
func TestHalfClosePassesThrough(t *testing.T) {
	f := newFixture(t, func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				in, _ := io.ReadAll(c) // until the client's half-close
				fmt.Fprintf(c, "got %d bytes, then EOF", len(in))
			}()
		}
	}, nil)
	c, err := net.Dial("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "hello")
	c.(*net.UnixConn).CloseWrite()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil || string(out) != "got 5 bytes, then EOF" {
		t.Errorf("through the wake socket: %q, %v", out, err)
	}
}

// An engine that cannot be started gives the client an API error it shows.
func TestStartFailureIsAnAPIError(t *testing.T) {
	f := newFixture(t, nil, errors.New(`error at "starting VM": disk full`))
	c, err := net.Dial("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
	c.(*net.UnixConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "could not start the engine") ||
		!strings.Contains(string(body), "disk full") {
		t.Errorf("%s: %s", resp.Status, body)
	}
}
