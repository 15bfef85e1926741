package wake

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// readersFile polls the readers file until its count is want, and returns its seq.
func readersFile(t *testing.T, path string, want int) int {
	t.Helper()
	var n, seq int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(path)
		if c, _ := fmt.Sscanf(string(data), "%d %d\n", &n, &seq); c == 2 && n == want {
			return seq
		}
	}
	t.Fatalf("%s: count %d, want %d", path, n, want)
	return 0
}

// The count of reads open to the engine is 1 while a read or an events
// stream is open, 0 after; while above 0, it is written again each
// heartbeat with a new seq; the file goes with the server.
func TestReadersCount(t *testing.T) {
	shorten(t, &heartbeat, 50*time.Millisecond)
	release := make(chan struct{})
	e := &engine{sock: filepath.Join(t.TempDir(), "e.sock"), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch unversioned(r.URL.Path) {
		case "/_ping":
			fmt.Fprint(w, "OK")
		case "/containers/json", "/events":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})}
	e.up(t)
	path := filepath.Join(t.TempDir(), "wake-readers")
	srv := &Server{Engine: e.sock, Readers: path, Log: io.Discard}
	sock := filepath.Join(t.TempDir(), "wake.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()

	readersFile(t, path, 0)
	// A POST is no reader.
	if resp, err := dial(sock).Post("http://docker/containers/create", "application/json", nil); err == nil {
		resp.Body.Close()
	}
	resp, err := dial(sock).Get("http://docker/v1.41/containers/json")
	if err != nil {
		t.Fatal(err)
	}
	first := readersFile(t, path, 1)
	time.Sleep(200 * time.Millisecond)
	if again := readersFile(t, path, 1); again < first+2 {
		t.Errorf("seq %d then %d after 4 heartbeats: not written again", first, again)
	}
	release <- struct{}{}
	resp.Body.Close()
	readersFile(t, path, 0)

	events, err := dial(sock).Get("http://docker/events")
	if err != nil {
		t.Fatal(err)
	}
	readersFile(t, path, 1)
	events.Body.Close()
	readersFile(t, path, 0)

	cancel()
	<-done
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s after Serve returned: %v", path, err)
	}
}
