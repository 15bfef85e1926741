package wake

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pixi-lima/pixi-lima/env/atomicfile"
)

// heartbeat is how often a count above 0 is written again, with a new seq:
// the guest takes a count whose seq stood still for 30 s as a dead
// server's, so that none can hide real activity.
var heartbeat = 10 * time.Second

// readers counts the read-only requests the server has open to the engine
// (an /events stream included) and writes "<count> <seq>" to path: the
// guest's idle watcher counts connections to docker.sock, and cannot tell
// a poll or an events stream from a pull. A nil readers counts nothing.
type readers struct {
	path    string
	n       atomic.Int64
	changed chan struct{}
}

func newReaders(path string) *readers {
	if path == "" {
		return nil
	}
	return &readers{path: path, changed: make(chan struct{}, 1)}
}

func (c *readers) add(d int64) {
	if c == nil {
		return
	}
	c.n.Add(d)
	select {
	case c.changed <- struct{}{}:
	default: // a write is due anyway, and reads the count then
	}
}

// run writes the count when it changes, off the requests' path (the write
// syncs to disk), and every heartbeat while it is above 0; it removes the
// file when ctx ends.
func (c *readers) run(ctx context.Context) {
	seq := 0
	write := func() {
		seq++
		atomicfile.WriteFile(c.path, fmt.Appendf(nil, "%d %d\n", c.n.Load(), seq), 0o644)
	}
	write()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			os.Remove(c.path)
			return
		case <-c.changed:
			write()
		case <-t.C:
			if c.n.Load() > 0 {
				write()
			}
		}
	}
}

// counted is a transport whose requests count as readers until their
// response's body is closed.
type counted struct {
	http.RoundTripper
	readers *readers
}

func (t counted) RoundTrip(req *http.Request) (*http.Response, error) {
	t.readers.add(1)
	resp, err := t.RoundTripper.RoundTrip(req)
	if err != nil {
		t.readers.add(-1)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, done: func() { t.readers.add(-1) }}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
