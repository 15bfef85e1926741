package wake

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAsleepVersion is one GET /version on a fresh connection: on a
// sleeping wake socket (answered from the snapshot; nothing listens on the
// engine's socket), and, for scale, on an engine: a stub that writes the
// recorded answer, or the dockerd on $PIXI_LIMA_BENCH_DOCKERD.
func BenchmarkAsleepVersion(b *testing.B) {
	data, err := os.ReadFile(recorded)
	if err != nil {
		b.Fatal(err)
	}
	snap := filepath.Join(b.TempDir(), "snapshot.json")
	os.WriteFile(snap, data, 0o644)
	s, err := loadSnapshot(snap)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("asleep", func(b *testing.B) {
		version(b, serve(b, &Server{Engine: filepath.Join(b.TempDir(), "none.sock"), Snapshot: snap}))
	})
	b.Run("stub engine", func(b *testing.B) {
		e := &engine{sock: filepath.Join(b.TempDir(), "e.sock"), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(append(s.Version, '\n'))
		})}
		e.up(b)
		version(b, e.sock)
	})
	if sock := os.Getenv("PIXI_LIMA_BENCH_DOCKERD"); sock != "" {
		b.Run("dockerd", func(b *testing.B) { version(b, sock) })
	}
}

func version(b *testing.B, sock string) {
	for b.Loop() {
		c, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(c, "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		c.Close()
	}
}
