package wake

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// engine is a fake engine on a unix socket that can go down and come back.
type engine struct {
	sock    string
	handler http.Handler
	srv     *http.Server
}

func (e *engine) up(t testing.TB) {
	t.Helper()
	l, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &http.Server{Handler: e.handler}
	go e.srv.Serve(l)
	t.Cleanup(func() { e.srv.Close() })
}

// down closes the socket and every connection, streams included.
func (e *engine) down() { e.srv.Close() }

// serve runs srv on a wake socket until the test ends.
func serve(t testing.TB, srv *Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "wake.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Log == nil {
		srv.Log = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func dial(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}, DisableKeepAlives: true}}
}

// A client's events stream outlives the engine: when the engine goes down
// the stream stays open, and when it comes back the stream goes on from
// the event after the last, with the client's filters.
func TestEventsSurviveTheSleep(t *testing.T) {
	shorten(t, &eventsRetry, 100*time.Millisecond)
	var mu sync.Mutex
	var queries []url.Values
	next := make(chan string, 10) // events the engine sends, one stream's worth each
	e := &engine{sock: filepath.Join(t.TempDir(), "e.sock")}
	e.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			fmt.Fprint(w, "OK")
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-next:
				fmt.Fprintln(w, ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	e.up(t)
	var starts int
	sock := serve(t, &Server{Engine: e.sock, Start: func(context.Context, time.Time) error { starts++; return io.EOF }})

	filters := `{"type":["container"]}`
	req, _ := http.NewRequest("GET", "http://docker/v1.41/events?filters="+url.QueryEscape(filters), nil)
	resp, err := dial(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	ended := make(chan error, 1)
	go func() {
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ended <- err
				return
			}
			lines <- line
		}
	}()
	read := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want+"\n" {
				t.Errorf("event %q, want %q", got, want)
			}
		case err := <-ended:
			t.Fatalf("the client's stream ended: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %s", want)
		}
	}
	ev := func(id string, nanos int64) string {
		return fmt.Sprintf(`{"status":"start","id":%q,"Type":"container","time":%d,"timeNano":%d}`, id, nanos/1e9, nanos)
	}
	next <- ev("a", 1700000000000000123)
	read(ev("a", 1700000000000000123))
	next <- ev("b", 1700000001999999999)
	read(ev("b", 1700000001999999999))

	e.down()
	select {
	case err := <-ended:
		t.Fatalf("the client's stream ended with the engine's: %v", err)
	case line := <-lines:
		t.Fatalf("got %q while the engine was down", line)
	case <-time.After(time.Second):
	}
	e.up(t)
	next <- ev("c", 1700000003000000000)
	read(ev("c", 1700000003000000000))

	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 {
		t.Fatalf("the engine got %d subscriptions, want 2: %v", len(queries), queries)
	}
	if q := queries[0]; q.Get("filters") != filters || q.Has("since") {
		t.Errorf("first subscription %v, want the client's query", q)
	}
	if q := queries[1]; q.Get("filters") != filters || q.Get("since") != "1700000002.000000000" {
		t.Errorf("second subscription %v, want since the last event + 1 ns and the same filters", q)
	}
	if starts != 0 {
		t.Errorf("the engine was started %d times", starts)
	}
}

// While the engine is down, a client's events get their 200 at once from
// the snapshot and no start, and the events once the engine is back, since
// the request arrived.
func TestEventsWhileAsleep(t *testing.T) {
	shorten(t, &eventsRetry, 100*time.Millisecond)
	snap := filepath.Join(t.TempDir(), "snapshot.json")
	data, _ := os.ReadFile(recorded)
	os.WriteFile(snap, data, 0o644)
	got := make(chan url.Values, 1)
	e := &engine{sock: filepath.Join(t.TempDir(), "e.sock"), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			fmt.Fprint(w, "OK")
			return
		}
		got <- r.URL.Query()
		fmt.Fprintln(w, `{"status":"start","timeNano":1}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})}
	var starts int
	sock := serve(t, &Server{Engine: e.sock, Snapshot: snap, Start: func(context.Context, time.Time) error { starts++; return io.EOF }})
	arrived := time.Now()
	resp, err := dial(sock).Get("http://docker/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Api-Version") == "" {
		t.Fatalf("%s %v", resp.Status, resp.Header)
	}
	e.up(t)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "{\"status\":\"start\",\"timeNano\":1}\n" {
		t.Errorf("%q, %v", line, err)
	}
	since := (<-got).Get("since")
	if sec, _, _ := strings.Cut(since, "."); sec != fmt.Sprint(arrived.Unix()) && sec != fmt.Sprint(arrived.Unix()+1) {
		t.Errorf("since=%s, want the request's arrival, %d", since, arrived.Unix())
	}
	if starts != 0 {
		t.Errorf("the engine was started %d times", starts)
	}
}
