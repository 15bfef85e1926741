package lima

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive flock on a file in LIMA_HOME, taken around every
// change to the instance.
type Lock struct{ f *os.File }

// TryLock takes the lock if it is free; ok is false when another process holds it.
func TryLock(path string) (l *Lock, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	err = flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return &Lock{f}, true, nil
}

// lockPoll is how often a waiter tries again: a blocking flock has no timeout.
const lockPoll = 100 * time.Millisecond

// announceAfter is how long a waiter waits before it says so: a lock
// released at once (a probe's look, a short holder) is not worth a line.
const announceAfter = 250 * time.Millisecond

// Acquire takes the lock for doing (say "stopping it"), waiting at most
// within, after calling waiting with the holder's own description, which
// is in the file because flock says nothing of its owner.
func Acquire(path, doing string, within time.Duration, waiting func(holder string)) (*Lock, error) {
	l, ok, err := TryLock(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		holder := Holder(path)
		begin := time.Now()
		for deadline := begin.Add(within); !ok; {
			if time.Now().After(deadline) {
				return nil, &BusyError{Holder: holder, Waited: within}
			}
			time.Sleep(lockPoll)
			if l, ok, err = TryLock(path); err != nil {
				return nil, err
			}
			if !ok {
				holder = Holder(path)
				if waiting != nil && time.Since(begin) >= announceAfter {
					waiting(holder)
					waiting = nil
				}
			}
		}
	}
	l.f.Truncate(0)
	l.f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), doing)), 0)
	return l, nil
}

// Free says whether no process holds the lock at path right now. It looks
// with a shared, non-blocking flock released at once, so that lookers never
// block each other or a holder; a missing file is free.
func Free(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	if flock(f, unix.LOCK_SH|unix.LOCK_NB) != nil {
		return false
	}
	flock(f, unix.LOCK_UN)
	return true
}

// Holder describes who holds the lock at path: "pid 42 is stopping it".
func Holder(path string) string {
	if n, doing := holder(path); n > 0 && unix.Kill(n, 0) != unix.ESRCH {
		return fmt.Sprintf("pid %d is %s", n, doing)
	}
	return "another process holds its lock"
}

// HolderPID is the pid the lock's holder wrote into it, 0 if none.
func HolderPID(path string) int {
	n, _ := holder(path)
	return n
}

// holder reads the "PID DOING" line Acquire writes.
func holder(path string) (pid int, doing string) {
	b, _ := os.ReadFile(path)
	p, doing, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if n, err := strconv.Atoi(p); err == nil && n > 0 {
		return n, doing
	}
	return 0, doing
}

// BusyError: the lock stayed taken for the whole wait.
type BusyError struct {
	Holder string
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("gave up after waiting %s: %s", round(e.Waited), e.Holder)
}

// Unlock releases the lock and clears the description.
func (l *Lock) Unlock() error {
	defer l.f.Close()
	l.f.Truncate(0)
	return flock(l.f, unix.LOCK_UN)
}

// flock retries on EINTR, as Lima's pkg/lockutil does.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
