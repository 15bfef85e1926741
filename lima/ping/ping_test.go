package ping

import (
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// serve answers every request on a fresh unix socket with code, as
// dockerd's /_ping does with 200.
func serve(t testing.TB, code int) string {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		w.Write([]byte("OK"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestEngine(t *testing.T) {
	if !Engine(serve(t, http.StatusOK), 2*time.Second) {
		t.Error("an engine answering 200 was not seen")
	}
	if Engine(serve(t, http.StatusInternalServerError), 2*time.Second) {
		t.Error("an engine answering 500 counted as up")
	}
	if Engine(filepath.Join(t.TempDir(), "none.sock"), 2*time.Second) {
		t.Error("a missing socket counted as up")
	}

	// A socket file whose listener is gone, as after a crash.
	gone := filepath.Join(t.TempDir(), "gone.sock")
	l, err := net.Listen("unix", gone)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if Engine(gone, 2*time.Second) {
		t.Error("a socket with no listener counted as up")
	}

	// A listener that accepts and never answers, as Lima's forwarder can
	// when the guest is gone: false, once the timeout is up.
	silent := filepath.Join(t.TempDir(), "silent.sock")
	ls, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	go func() {
		for {
			c, err := ls.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	if Engine(silent, 300*time.Millisecond) {
		t.Error("a silent listener counted as up")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the timeout of 300ms was not kept: %v", took)
	}
}

func TestWait(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "late.sock")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	t.Cleanup(func() { srv.Close() })
	go func() {
		time.Sleep(600 * time.Millisecond)
		if l, err := net.Listen("unix", sock); err == nil {
			srv.Serve(l)
		}
	}()
	if !Wait(sock, 10*time.Second) {
		t.Error("an engine that came up after 600ms was not waited for")
	}
	if Wait(filepath.Join(t.TempDir(), "never.sock"), 300*time.Millisecond) {
		t.Error("Wait saw an engine that never came")
	}
}

// BenchmarkEngine asks a real HTTP server on a unix socket: one connect,
// one request, one status line per call.
func BenchmarkEngine(b *testing.B) {
	sock := serve(b, http.StatusOK)
	for b.Loop() {
		if !Engine(sock, 2*time.Second) {
			b.Fatal("no answer")
		}
	}
}
