package tests

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDeleteWaitsForStart: `pixi-lima delete --force` while another call
// starts the VM waits for that start to end, saying who it waits for,
// instead of removing the directory under it. The start is the real
// limactl, held in its image download: the image comes from a local
// server that sends it slowly and then breaks off, so the start fails
// without a boot.
func TestDeleteWaitsForStart(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"lr\"\n")
	requested := make(chan struct{}, 1)
	release := make(chan struct{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case requested <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Length", "67108864")
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 1024)
		for {
			select {
			case <-release:
				return // short of Content-Length: the download fails
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
				w.Write(chunk)
				w.(http.Flusher).Flush()
			}
		}
	})}
	go srv.Serve(l)
	var once sync.Once
	stopServing := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { stopServing(); srv.Close() })

	start := replaceEnv(p.Command(p.Bin("pixi-lima"), "init"), "PIXI_LIMA_IMAGE=http://"+l.Addr().String()+"/slow.qcow2")
	var startErr strings.Builder
	start.Stderr = &startErr
	must(t, start.Start())
	started := make(chan error, 1)
	go func() { started <- start.Wait() }()
	select {
	case <-requested:
	case err := <-started:
		t.Fatalf("init ended before it downloaded the image: %v\n%s", err, startErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("limactl start never asked for the image:\n%s", startErr.String())
	}
	instDir := filepath.Join(p.Root, ".pixi", "lima", "lr-docker")
	if _, err := os.Stat(filepath.Join(instDir, "lima.yaml")); err != nil {
		t.Fatalf("the instance does not exist during its start: %v", err)
	}

	del := p.Command(p.Bin("pixi-lima"), "delete", "--force")
	delErr, w := io.Pipe()
	del.Stderr = w
	must(t, del.Start())
	deleted := make(chan error, 1)
	go func() { deleted <- del.Wait(); w.Close() }()
	lines := bufio.NewScanner(delErr)
	if !lines.Scan() || !regexp.MustCompile(`^pixi-lima: VM "lr-docker" is busy: pid \d+ is starting it for pixi-lima init; waiting up to \S+ …$`).MatchString(lines.Text()) {
		t.Errorf("delete's first line is %q, want that it waits for the start", lines.Text())
	}
	select {
	case err := <-deleted:
		t.Fatalf("delete ended while the start ran: %v", err)
	case <-time.After(3 * time.Second):
	}
	if _, err := os.Stat(filepath.Join(instDir, "lima.yaml")); err != nil {
		t.Errorf("the instance went during its start: %v", err)
	}

	stopServing()
	if err := <-started; err == nil {
		t.Errorf("init succeeded with a broken download:\n%s", startErr.String())
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	if err := <-deleted; err != nil {
		t.Errorf("delete after the start ended: %v\n%s", err, rest.String())
	}
	if _, err := os.Stat(instDir); !os.IsNotExist(err) {
		t.Errorf("after delete: %v", err)
	}
	t.Logf("init:\n%s\ndelete, after the wait:\n%s", startErr.String(), rest.String())
}
