package wake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// eventsRetry is how often a client's events stream, its engine gone, asks
// whether the engine is back; and the least time between two subscriptions.
var eventsRetry = time.Second

// events serves GET /events itself, so that a client's stream outlives the
// engine's sleeps: when the engine's stream ends, the client's stays open,
// without a byte, until the engine answers again, and then goes on from
// the event after the last it got (since=). A stream with an end (until=)
// ends when the engine's does.
func (s *Server) events(w http.ResponseWriter, r *http.Request, arrived time.Time) {
	ctx := r.Context()
	q := r.URL.Query()
	until := q.Has("until")
	rc := http.NewResponseController(w)
	var last int64                   // the last event's timeNano
	open, subscribed := false, false // the client has its 200; the engine had a subscription
	var tried time.Time
	for ctx.Err() == nil {
		if !s.fresh() && !s.answers() {
			if !open {
				snap := (*snapshot)(nil)
				if s.Snapshot != "" && !until {
					snap = s.snapshots.get(s.Snapshot)
				}
				if snap == nil {
					if err := s.wait(w, r, arrived); err != nil {
						if ctx.Err() == nil {
							refuse(w, http.StatusServiceUnavailable, err)
						}
						return
					}
				} else {
					snapshotHeaders(w.Header(), snap)
					w.WriteHeader(http.StatusOK)
					rc.Flush()
					open = true
				}
			}
			if open && !s.waitUp(ctx) {
				return
			}
		}
		if wait := eventsRetry - time.Since(tried); wait > 0 && !tried.IsZero() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		tried = time.Now()

		raw := r.URL.RawQuery // the client's own, the first time
		switch {
		case last > 0:
			raw = withSince(q, last+1)
		case subscribed || open && !q.Has("since"):
			raw = withSince(q, arrived.UnixNano())
		}
		resp, err := s.subscribe(ctx, r, raw)
		if err != nil || resp.StatusCode != http.StatusOK && open {
			if err == nil {
				resp.Body.Close()
			}
			if !open {
				if ctx.Err() == nil {
					refuse(w, http.StatusBadGateway, fmt.Errorf("the engine did not answer: %w", err))
				}
				return
			}
			if until {
				return
			}
			continue
		}
		subscribed = true
		if !open {
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			rc.Flush()
			if resp.StatusCode != http.StatusOK { // the engine's refusal, as it is
				io.Copy(w, resp.Body)
				resp.Body.Close()
				return
			}
			open = true
		}
		dec := json.NewDecoder(resp.Body)
		for {
			var m json.RawMessage
			if dec.Decode(&m) != nil {
				break
			}
			w.Write(append(m, '\n'))
			rc.Flush()
			var e struct {
				TimeNano int64 `json:"timeNano"`
			}
			if json.Unmarshal(m, &e) == nil && e.TimeNano > 0 {
				last = e.TimeNano
			}
		}
		resp.Body.Close()
		if until {
			return
		}
	}
}

// subscribe opens the engine's events stream for r with the query raw,
// through the readers' transport: an open stream counts as a reader.
func (s *Server) subscribe(ctx context.Context, r *http.Request, raw string) (*http.Response, error) {
	u := url.URL{Scheme: "http", Host: "docker", Path: r.URL.Path, RawQuery: raw}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	for _, k := range []string{"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		req.Header.Del(k)
	}
	resp, err := s.reads.RoundTrip(req)
	if err == nil {
		s.answered.Store(time.Now().UnixNano())
	}
	return resp, err
}

// waitUp waits until the engine answers, asking every eventsRetry or when
// this server's start finishes. It says false when ctx ends first.
func (s *Server) waitUp(ctx context.Context) bool {
	t := time.NewTicker(eventsRetry)
	defer t.Stop()
	for !s.fresh() && !s.answers() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		case <-s.started():
		}
	}
	return true
}

// withSince is q with since= the time nanos, as dockerd reads it:
// <seconds>.<nanoseconds, 9 digits>.
func withSince(q url.Values, nanos int64) string {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("since", fmt.Sprintf("%d.%09d", nanos/1e9, nanos%1e9))
	return q2.Encode()
}
