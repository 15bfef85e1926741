// Package wake serves the wake socket: a unix socket that stands in for the
// engine's, an HTTP reverse proxy to it that starts the engine first when a
// request needs it and it is down, so that clients that never call the shim
// wake a VM that idle-stop powered off. A connection that sends no request
// starts nothing.
package wake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pixi-lima/pixi-lima/lima/ping"
)

// Server proxies requests to Engine, starting it with Start when needed.
type Server struct {
	Engine string // the engine's unix socket
	// Start boots the engine for a request that arrived at requested; it
	// takes its own lock.
	Start func(ctx context.Context, requested time.Time) error
	Log   io.Writer
	// Snapshot is the engine's state taken before it stopped: read-only
	// calls get their answers from it while the engine is down, without
	// starting it ("" answers none).
	Snapshot string
	// Readers is where the count of read-only requests open to the engine
	// is kept for the guest's idle watcher ("" keeps none).
	Readers string

	ctx          context.Context
	proxy        *httputil.ReverseProxy
	reads        http.RoundTripper // read-only requests: counted, never pooled
	readers      *readers
	snapshots    snapshotCache
	loggedAsleep atomic.Int64 // answered as of the last "answering from the snapshot"
	upMu         sync.Mutex
	up           chan struct{} // closed when a start finishes
	starting     sync.Mutex    // held by the one request that starts the engine
	failed       error         // the last start's failure, under starting
	failedAt     time.Time
	answered     atomic.Int64 // when the engine last answered, in Unix nanoseconds
}

// fresh is how long an answer of the engine lets requests through at once;
// Lima's forwarder accepts even while the guest is down.
const fresh = 2 * time.Second

var (
	// keepalive is how often a request waiting for the boot gets a
	// 100 Continue, within the read timeouts of clients (Python SDK: 60 s).
	keepalive = 50 * time.Second
	// failureMemo is how long a failed start answers new requests, so that
	// queued clients do not boot again, one after another, into the same failure.
	failureMemo = 10 * time.Second
)

// needsEngine says whether a request must start the engine when it is
// down. The read-only ones do not when the snapshot answers them.
func needsEngine(r *http.Request) bool { return !readOnly(r) }

// Serve answers requests on l until ctx ends or l fails for good.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.ctx = ctx
	s.loggedAsleep.Store(-1)
	s.up = make(chan struct{})
	s.readers = newReaders(s.Readers)
	if s.readers != nil {
		counting, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.readers.run(counting); close(done) }()
		defer func() { cancel(); <-done }() // the file goes with the server
	}
	// A read's connection is closed after it: an idle pooled one would
	// count, in the guest, as a client keeping the VM awake.
	reads := s.transport()
	reads.DisableKeepAlives = true
	s.reads = counted{reads, s.readers}
	pooled := s.transport()
	s.proxy = &httputil.ReverseProxy{
		Rewrite: s.rewrite,
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			if readOnly(r) {
				return s.reads.RoundTrip(r)
			}
			return pooled.RoundTrip(r)
		}),
		FlushInterval: -1,
		ModifyResponse: func(*http.Response) error {
			s.answered.Store(time.Now().UnixNano())
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				s.logf("%s %s: the engine did not answer: %v", r.Method, r.URL.Path, err)
				refuse(w, http.StatusBadGateway, fmt.Errorf("the engine did not answer: %w", err))
			}
		},
		ErrorLog: log.New(s.Log, "", log.LstdFlags),
	}
	// No timeouts: docker events, logs -f and builds stream for as long as
	// they like, as on the engine's own socket. http.Server retries
	// temporary Accept errors (EMFILE, ENFILE) with a backoff.
	srv := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ErrorLog: log.New(s.Log, "", log.LstdFlags)}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// transport dials the engine's socket for every request, whatever its URL,
// and changes nothing on the way: no proxy from the environment, no gzip.
func (s *Server) transport() *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", s.Engine)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 8,
		// A pooled connection older than fresh may lead to a guest since stopped.
		IdleConnTimeout: fresh,
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rewrite keeps the request as the client sent it, forwarding headers
// included: the engine sees what it would on its own socket.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "docker"
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = v
		}
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	if r.Method == http.MethodGet && unversioned(r.URL.Path) == "/events" {
		s.events(w, r, arrived)
		return
	}
	if !s.fresh() && !s.answers() {
		if !needsEngine(r) && s.fromSnapshot(w, r) {
			return
		}
		if err := s.wait(w, r, arrived); err != nil {
			if r.Context().Err() == nil {
				refuse(w, http.StatusServiceUnavailable, err)
			}
			return
		}
	}
	// No Content-Type sniffed onto responses the engine sent without one.
	w.Header()["Content-Type"] = nil
	s.proxy.ServeHTTP(w, r)
}

// wait starts the engine, or waits for the request that starts it, telling
// the client with a 100 Continue every keepalive that the request is alive.
func (s *Server) wait(w http.ResponseWriter, r *http.Request, arrived time.Time) error {
	done := make(chan error, 1)
	go func() { done <- s.ensure(arrived) }()
	var tick <-chan time.Time
	if continues(r) {
		t := time.NewTicker(keepalive)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			return err
		case <-tick:
			w.WriteHeader(http.StatusContinue)
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
}

// continues says whether the client can take interim responses: HTTP/1.1
// requires it, but Docker's Go client reads exactly one response to a
// protocol upgrade (attach, exec, BuildKit's /session and /grpc).
func continues(r *http.Request) bool {
	if !r.ProtoAtLeast(1, 1) || r.Header.Get("Upgrade") != "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return false
			}
		}
	}
	return true
}

// ensure starts the engine once for all the requests that find it down, and
// gives a failure to those that come within failureMemo of it.
func (s *Server) ensure(requested time.Time) error {
	s.starting.Lock()
	defer s.starting.Unlock()
	if s.fresh() {
		return nil
	}
	if s.failed != nil && time.Since(s.failedAt) < failureMemo {
		return s.failed
	}
	if s.answers() {
		return nil
	}
	begin := time.Now()
	s.logf("a request arrived while the engine was down; starting it")
	if err := s.Start(s.ctx, requested); err != nil {
		s.failed, s.failedAt = fmt.Errorf("could not start the engine: %w", err), time.Now()
		s.logf("%v", s.failed)
		return s.failed
	}
	s.failed = nil
	s.answered.Store(time.Now().UnixNano())
	s.upMu.Lock()
	close(s.up)
	s.up = make(chan struct{})
	s.upMu.Unlock()
	s.logf("the engine answers after %s", time.Since(begin).Round(time.Millisecond))
	return nil
}

// started is closed when the next start finishes.
func (s *Server) started() <-chan struct{} {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	return s.up
}

func (s *Server) fresh() bool { return time.Since(time.Unix(0, s.answered.Load())) < fresh }

func (s *Server) answers() bool {
	if !ping.Engine(s.Engine, 2*time.Second) {
		return false
	}
	s.answered.Store(time.Now().UnixNano())
	return true
}

func (s *Server) logf(format string, a ...any) {
	fmt.Fprintf(s.Log, "%s %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, a...))
}

// refuse answers with an error in the Docker API's shape, which Docker's
// clients show as it is.
func refuse(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{fmt.Sprintf("pixi-lima: %v (the full log is in .pixi/pixi-lima/log)", err)})
}
