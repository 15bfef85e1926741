package lima

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// TestStopWinsOverAWaitingRequest: a client's request that arrived before a
// stop or delete does not start the VM after it; one that arrived since,
// and a command at a terminal, do.
func TestStopWinsOverAWaitingRequest(t *testing.T) {
	paths := env.NewPaths(t.TempDir())
	if err := os.MkdirAll(paths.LimaHome, 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	m := &Manager{Paths: paths, Config: settings.Config{Name: "p-docker"}, Stderr: &stderr}
	before := time.Now()
	if err := m.stoppedSince(Request{By: "a request on the wake socket", At: before}); err != nil {
		t.Errorf("no stop yet: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	m.markStopped("pixi-lima stop")
	err := m.stoppedSince(Request{By: "a request on the wake socket", At: before})
	var hint *HintError
	if !errors.As(err, &hint) || !strings.Contains(err.Error(), `VM "p-docker" was stopped (pixi-lima stop, at `) ||
		!strings.Contains(err.Error(), "after a request on the wake socket arrived; it stays stopped") {
		t.Errorf("a request from before the stop: %v, want it refused naming the stop", err)
	}
	if err := m.stoppedSince(Request{By: "a request on the wake socket", At: time.Now()}); err != nil {
		t.Errorf("a request after the stop: %v", err)
	}
	if err := m.stoppedSince(Request{By: "a docker call"}); err != nil {
		t.Errorf("a docker call at a terminal: %v", err)
	}
	m.markStopped("pixi-lima delete")
	if mark, ok := m.stopMark(); !ok || mark.by != "pixi-lima delete" {
		t.Errorf("the mark after a delete: %+v %v", mark, ok)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q", stderr.String())
	}
}
