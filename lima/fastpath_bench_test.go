package lima

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/identifiers"
)

// The docker shim's fast path in this package: read the settings, ask the
// engine. bench/run.sh measures whole processes; these show that the work
// itself is microseconds, so a process's cost is start-up and package init.

const benchManifest = `[workspace]
name = "bench"
channels = ["conda-forge"]
platforms = ["linux-64", "osx-arm64"]

[tasks]
compose-up = "docker compose up -d"

[tool.pixi-lima]
cpus = 4
memory = "4GiB"
disk = 30
`

func BenchmarkParseConfig(b *testing.B) {
	root := b.TempDir()
	getenv := func(string) string { return "" }
	for b.Loop() {
		if _, err := ParseConfig(root, []byte(benchManifest), getenv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPing asks a real HTTP server on a unix socket, as dockerd's
// /_ping answers: one dial, one request line, one status line per call.
func BenchmarkPing(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("OK"))
	})}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	for b.Loop() {
		if !Ping(sock, 2*time.Second) {
			b.Fatal("no answer")
		}
	}
}

// FuzzNameCharsLikeLima holds the hand-written name check (it replaced a
// package-level regexp that ran in every process) to Lima's own rule. Lima
// also caps names at 76 bytes; validName checks the characters only.
func FuzzNameCharsLikeLima(f *testing.F) {
	for _, s := range []string{"", "a", "demo-docker", "a.b_c-d", "-a", "a-", "a--b", "a..b", "a_.b",
		"A9", "ä", "a b", "a/b", ".", "x-docker\n", strings.Repeat("ab-", 20) + "z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 76 {
			return
		}
		want := identifiers.Validate(s) == nil
		if got := validName(s); got != want {
			t.Errorf("validName(%q) = %v, Lima's identifiers.Validate says %v", s, got, want)
		}
	})
}
