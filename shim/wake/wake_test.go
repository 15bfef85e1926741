package wake

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fixture is a wake socket in front of an engine socket where nothing
// listens until Start runs: after a boot of delay, Start serves engine
// there, or fails with startErr.
type fixture struct {
	wake, engine string
	starts       atomic.Int32
	requested    chan time.Time // each Start's request time
}

func newFixture(t *testing.T, engine http.Handler, delay time.Duration, startErr error) *fixture {
	return newFixtureOn(t, engine, delay, startErr, func(l net.Listener) net.Listener { return l }, nil)
}

// newFixtureOn is newFixture with the listener wrapped, and the server
// configured by configure, if not nil.
func newFixtureOn(t *testing.T, engine http.Handler, delay time.Duration, startErr error, wrap func(net.Listener) net.Listener, configure func(*Server)) *fixture {
	dir := t.TempDir()
	f := &fixture{wake: filepath.Join(dir, "wake.sock"), engine: filepath.Join(dir, "engine.sock"), requested: make(chan time.Time, 100)}
	ln, err := Listen(f.wake)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{Engine: f.engine, Log: io.Discard, Start: func(_ context.Context, requested time.Time) error {
		f.starts.Add(1)
		f.requested <- requested
		time.Sleep(delay) // a boot: clients pile up meanwhile
		if startErr != nil {
			return startErr
		}
		el, err := net.Listen("unix", f.engine)
		if err != nil {
			return err
		}
		es := &http.Server{Handler: engine}
		t.Cleanup(func() { es.Close() })
		go es.Serve(el)
		return nil
	}}
	if configure != nil {
		configure(srv)
	}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, wrap(ln)) }()
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
	}, Timeout: 10 * time.Second}
}

// raw connects to the wake socket and sends request as it is.
func (f *fixture) raw(t *testing.T, request string) (*net.UnixConn, *textproto.Reader) {
	t.Helper()
	c, err := net.Dial("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn), textproto.NewReader(bufio.NewReader(c))
}

// noStart waits a moment and fails if anything started the engine.
func (f *fixture) noStart(t *testing.T) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if n := f.starts.Load(); n != 0 {
		t.Errorf("the engine was started %d times, want none", n)
	}
}

func ok(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") }

// shorten sets a package variable for the test.
func shorten(t *testing.T, v *time.Duration, d time.Duration) {
	old := *v
	*v = d
	t.Cleanup(func() { *v = old })
}

// A connection that sends nothing, or closes at once, starts nothing.
func TestConnectAndCloseStartsNothing(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(ok), 0, nil)
	c, err := net.Dial("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	idle, err := net.Dial("unix", f.wake)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	f.noStart(t)
}

// Bytes that are no HTTP request start nothing.
func TestGarbageStartsNothing(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(ok), 0, nil)
	c, r := f.raw(t, "\x16\x03\x01\x02\x00 not http at all\r\n\r\n")
	c.CloseWrite()
	r.ReadLine() // whatever answer, or none
	f.noStart(t)
}

// A request that needs the engine starts it once, and the engine's answer
// comes back as it is; the request reaches the engine as the client sent it.
func TestCreateStartsTheEngine(t *testing.T) {
	var got http.Header
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ := io.ReadAll(r.Body)
		w.Header()["Content-Type"] = nil // none, as on some of dockerd's answers
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	}), 100*time.Millisecond, nil)
	req, _ := http.NewRequest("POST", "http://docker/v1.47/containers/create?name=web", strings.NewReader(`{"Image":"alpine"}`))
	req.Header.Set("X-Client", "mine")
	arrived := time.Now()
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(body) != `POST /v1.47/containers/create?name=web {"Image":"alpine"}` {
		t.Errorf("%s: %q", resp.Status, body)
	}
	if ct, set := resp.Header["Content-Type"]; set {
		t.Errorf("the engine sent no Content-Type, the client got %q", ct)
	}
	if got.Get("X-Client") != "mine" || got.Get("X-Forwarded-For") != "" || got.Get("Forwarded") != "" {
		t.Errorf("the engine got the headers %v", got)
	}
	if n := f.starts.Load(); n != 1 {
		t.Errorf("the engine was started %d times, want 1", n)
	}
	if at := <-f.requested; at.Before(arrived.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("Start was told the request arrived at %v, it arrived at %v", at, arrived)
	}
}

// Concurrent clients of a stopped engine start it once, and each gets its answer.
func TestConcurrentClientsStartOnce(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(ok), 200*time.Millisecond, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
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

// A start that fails answers each of its waiters with Docker's API error,
// and for a while every later request too, without starting again.
func TestStartFailureAnswersAllWaiters(t *testing.T) {
	shorten(t, &failureMemo, 2*time.Second)
	f := newFixture(t, nil, 200*time.Millisecond, errors.New(`error at "starting VM": disk full`))
	check := func() {
		resp, err := f.client().Get("http://docker/_ping")
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		var msg struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&msg)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" || err != nil ||
			!strings.Contains(msg.Message, "could not start the engine") || !strings.Contains(msg.Message, `"starting VM": disk full`) {
			t.Errorf("%s %s: %+v, %v", resp.Status, resp.Header.Get("Content-Type"), msg, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); check() }()
	}
	wg.Wait()
	check()
	if n := f.starts.Load(); n != 1 {
		t.Errorf("the failed start ran %d times, want once for all", n)
	}
	time.Sleep(2 * time.Second)
	check()
	if n := f.starts.Load(); n != 2 {
		t.Errorf("after a while a request started the engine %d times, want 2", n)
	}
}

// statusLines reads responses' status lines and headers until a final one.
func statusLines(t *testing.T, r *textproto.Reader) []string {
	t.Helper()
	var lines []string
	for {
		line, err := r.ReadLine()
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, line)
		if _, err := r.ReadMIMEHeader(); err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		if !strings.HasPrefix(line, "HTTP/1.1 1") || strings.HasPrefix(line, "HTTP/1.1 101") {
			return lines
		}
	}
}

// While the engine boots, a waiting client gets 100 Continue now and then,
// and then the engine's answer.
func TestContinueWhileWaiting(t *testing.T) {
	shorten(t, &keepalive, 50*time.Millisecond)
	f := newFixture(t, http.HandlerFunc(ok), 400*time.Millisecond, nil)
	_, r := f.raw(t, "GET /v1.47/info HTTP/1.1\r\nHost: docker\r\n\r\n")
	lines := statusLines(t, r)
	if len(lines) < 3 || lines[0] != "HTTP/1.1 100 Continue" || lines[len(lines)-1] != "HTTP/1.1 200 OK" {
		t.Errorf("status lines %q, want some 100 Continue, then 200 OK", lines)
	}
}

// Python's http.client skips a 100 and reads the next status line: its
// pattern (read the status line; on 100, skip the headers; again) gets the
// engine's answer.
func TestContinueSkippedAsPythonDoes(t *testing.T) {
	shorten(t, &keepalive, 30*time.Millisecond)
	f := newFixture(t, http.HandlerFunc(ok), 300*time.Millisecond, nil)
	_, r := f.raw(t, "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
	var status string
	skipped := 0
	for {
		line, err := r.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadMIMEHeader(); err != nil {
			t.Fatal(err)
		}
		if _, code, _ := strings.Cut(line, " "); !strings.HasPrefix(code, "100 ") {
			status = line
			break
		}
		skipped++
	}
	body, _ := io.ReadAll(r.R)
	if skipped == 0 || status != "HTTP/1.1 200 OK" || string(body) != "OK" {
		t.Errorf("%d skipped, then %q: %q", skipped, status, body)
	}
}

// An HTTP/1.0 client gets no 1xx, which it cannot know.
func TestNoContinueToHTTP10(t *testing.T) {
	shorten(t, &keepalive, 30*time.Millisecond)
	f := newFixture(t, http.HandlerFunc(ok), 300*time.Millisecond, nil)
	_, r := f.raw(t, "GET /_ping HTTP/1.0\r\n\r\n")
	if line, err := r.ReadLine(); err != nil || !strings.HasSuffix(line, " 200 OK") {
		t.Errorf("first line %q, %v; want the engine's 200", line, err)
	}
}

// upgrader answers as dockerd does on attach: 101, then a raw stream that
// reads the client's input until its half-close and answers after that.
func upgrader(w http.ResponseWriter, r *http.Request) {
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprint(brw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	brw.Flush()
	in, _ := io.ReadAll(brw) // until the client's half-close
	fmt.Fprintf(c, "got %q, then EOF", in)
	c.(*net.UnixConn).CloseWrite()
	io.Copy(io.Discard, c)
}

// An upgraded stream, as docker attach and BuildKit's sessions use it,
// flows both ways, half-closes included; a client waiting for its 101
// gets no 100 before it, since Docker's Go client reads one response only.
func TestUpgradeBothWaysWithHalfClose(t *testing.T) {
	shorten(t, &keepalive, 30*time.Millisecond)
	f := newFixture(t, http.HandlerFunc(upgrader), 300*time.Millisecond, nil)
	c, r := f.raw(t, "POST /v1.47/containers/x/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	line, err := r.ReadLine()
	if err != nil || line != "HTTP/1.1 101 UPGRADED" {
		t.Fatalf("first line %q, %v; want the engine's 101", line, err)
	}
	if h, err := r.ReadMIMEHeader(); err != nil || h.Get("Upgrade") != "tcp" {
		t.Fatalf("headers %v, %v", h, err)
	}
	fmt.Fprint(c, "hello")
	c.CloseWrite()
	out, err := io.ReadAll(r.R)
	if err != nil || string(out) != `got "hello", then EOF` {
		t.Errorf("through the wake socket: %q, %v", out, err)
	}
}

// A response that streams (docker events, logs -f) reaches the client as
// the engine flushes it, not when it ends.
func TestStreamsAsTheEngineFlushes(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"start"}`)
		w.(http.Flusher).Flush()
		<-release
	}), 0, nil)
	resp, err := f.client().Get("http://docker/v1.47/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "{\"status\":\"start\"}\n" {
		t.Errorf("first event %q, %v", line, err)
	}
}

// failingAccepts fails its first Accepts as a process out of descriptors does.
type failingAccepts struct {
	net.Listener
	left atomic.Int32
}

func (l *failingAccepts) Accept() (net.Conn, error) {
	if l.left.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Running out of file descriptors for a while does not end the server.
func TestAcceptErrorsSurvived(t *testing.T) {
	f := newFixtureOn(t, http.HandlerFunc(ok), 0, nil, func(l net.Listener) net.Listener {
		fl := &failingAccepts{Listener: l}
		fl.left.Store(4)
		return fl
	}, nil)
	resp, err := f.client().Get("http://docker/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// The socket is only ever its owner's: mode 0600 whatever the umask, and
// created that way rather than changed after.
func TestListenPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	os.WriteFile(sock, nil, 0o644) // a dead server's leftover
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v", sock, fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left in %s: %v", dir, entries)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
