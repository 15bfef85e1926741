package settings

import (
	"strings"
	"testing"

	"github.com/lima-vm/lima/pkg/identifiers"
)

// The settings the docker shim's full path reads. bench/run.sh measures
// whole processes; this shows that the work itself is microseconds.

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

func BenchmarkParse(b *testing.B) {
	root := b.TempDir()
	getenv := func(string) string { return "" }
	for b.Loop() {
		if _, err := Parse(root, []byte(benchManifest), getenv); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzNameCharsLikeLima holds the hand-written name check to Lima's own
// rule. validName checks the characters only, not Lima's length cap.
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
