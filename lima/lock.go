package lima

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive flock on a file in LIMA_HOME. Lock, re-check, act:
// whoever takes it second finds the VM already running.
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

// WaitLock blocks until the lock is ours.
func WaitLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f}, nil
}

// Unlock releases the lock. The kernel also releases it if we die.
func (l *Lock) Unlock() error {
	defer l.f.Close()
	return flock(l.f, unix.LOCK_UN)
}

// flock retries on EINTR: a signal arriving while we wait is not a failure
// (as in Lima's pkg/lockutil).
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
