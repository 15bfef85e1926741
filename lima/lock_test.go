package lima

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockGoroutines is Lima's lockutil test: many takers, never two holders
// at once. flock belongs to the open file, and each call opens its own, so
// goroutines of one process exclude each other like processes do.
func TestLockGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	const n = 20
	var holders, maxHolders, entered atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l *Lock
			var err error
			if i%2 == 0 {
				l, err = Acquire(path, "testing", time.Minute, nil)
			} else {
				// TryLock until it is ours: the non-blocking path must exclude too.
				for {
					var ok bool
					if l, ok, err = TryLock(path); err != nil || ok {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			if err != nil {
				errs <- err
				return
			}
			h := holders.Add(1)
			for {
				m := maxHolders.Load()
				if h <= m || maxHolders.CompareAndSwap(m, h) {
					break
				}
			}
			entered.Add(1)
			time.Sleep(20 * time.Millisecond) // long enough that a second holder of a broken lock would be seen
			holders.Add(-1)
			if err := l.Unlock(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if maxHolders.Load() != 1 || entered.Load() != n {
		t.Errorf("max %d holders at once (want 1), %d of %d took the lock", maxHolders.Load(), entered.Load(), n)
	}
}

func TestTryLockWhileHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, ok, err := TryLock(path)
	if err != nil || !ok {
		t.Fatalf("TryLock on a free lock: ok=%v err=%v", ok, err)
	}
	if _, ok, err := TryLock(path); err != nil || ok {
		t.Fatalf("TryLock on a held lock: ok=%v err=%v, want ok=false and no error", ok, err)
	}
	got := make(chan *Lock)
	go func() {
		l, err := Acquire(path, "testing", time.Minute, nil)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	select {
	case <-got:
		t.Fatal("Acquire returned while the lock was held")
	case <-time.After(100 * time.Millisecond):
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	(<-got).Unlock()
}

func TestLockErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "dir", "lock")
	if _, _, err := TryLock(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TryLock in a missing directory: %v", err)
	}
	if _, err := Acquire(missing, "testing", time.Second, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Acquire in a missing directory: %v", err)
	}
}

// lockChildVar makes the test binary a lock-taking child process: it takes
// the lock at the path the variable names, records its stay, and exits.
const lockChildVar = "PIXI_LIMA_LOCK_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockChildVar); path != "" {
		os.Exit(lockChild(path, os.Getenv("PIXI_LIMA_LOCK_HOLD") == "1"))
	}
	os.Exit(m.Run())
}

// lockChild holds the lock for a moment while it owns a marker file created
// with O_EXCL: if another process held the lock too, one of them would find
// the marker and fail. With hold, it takes the lock, says so, and waits to be killed.
func lockChild(path string, hold bool) int {
	l, err := Acquire(path, "holding it for a test", time.Minute, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if hold {
		fmt.Println("locked")
		select {}
	}
	marker := path + ".holder"
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "two holders at once:", err)
		return 2
	}
	f.Close()
	time.Sleep(5 * time.Millisecond)
	log, err := os.OpenFile(path+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(log, os.Getpid())
		log.Close()
	}
	if err := os.Remove(marker); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := l.Unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func lockChildCmd(t *testing.T, path string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildVar+"="+path)
	return cmd
}

// TestLockProcesses: 20 processes take the lock; never two at once.
func TestLockProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	const n = 20
	cmds := make([]*exec.Cmd, n)
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cmds {
		cmds[i] = lockChildCmd(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cmds[i].CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	data, err := os.ReadFile(path + ".log")
	if err != nil {
		t.Fatal(err)
	}
	if lines := len(strings.Fields(string(data))); lines != n {
		t.Errorf("%d of %d children recorded holding the lock", lines, n)
	}
}

// TestLockReleasedWhenHolderDies: a killed holder (say, a shim the user
// interrupts mid-start) must not leave the lock taken.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	cmd := lockChildCmd(t, path)
	cmd.Env = append(cmd.Env, "PIXI_LIMA_LOCK_HOLD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("locked\n"))
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	if _, ok, err := TryLock(path); ok || err != nil {
		t.Fatalf("TryLock while the child holds it: ok=%v err=%v", ok, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, ok, err := TryLock(path)
	if err != nil || !ok {
		t.Fatalf("TryLock after the holder was killed: ok=%v err=%v", ok, err)
	}
	l.Unlock()
}

// TestAcquireNamesHolderAndGivesUp: a waiter learns who holds the lock,
// and a holder that never lets go costs it the bound, not forever.
func TestAcquireNamesHolderAndGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	cmd := lockChildCmd(t, path)
	cmd.Env = append(cmd.Env, "PIXI_LIMA_LOCK_HOLD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, len("locked\n"))
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pid %d is holding it for a test", cmd.Process.Pid)
	var said []string
	begin := time.Now()
	_, err = Acquire(path, "testing", 500*time.Millisecond, func(h string) { said = append(said, h) })
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Holder != want || !strings.Contains(err.Error(), "gave up after waiting 500ms: "+want) {
		t.Errorf("Acquire on a held lock: %v, want a BusyError naming %q", err, want)
	}
	if waited := time.Since(begin); waited < 500*time.Millisecond || waited > 5*time.Second {
		t.Errorf("Acquire gave up after %s, want about 500ms", waited)
	}
	if len(said) != 1 || said[0] != want {
		t.Errorf("waiting was told %q, want once %q", said, want)
	}
	// Once the holder is gone, its description names nobody.
	cmd.Process.Kill()
	cmd.Wait()
	if h := Holder(path); h != "another process holds its lock" {
		t.Errorf("Holder of a dead holder's file: %q", h)
	}
	l, err := Acquire(path, "testing", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != fmt.Sprintf("%d testing\n", os.Getpid()) {
		t.Errorf("the lock file says %q while held", b)
	}
	l.Unlock()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("the lock file says %q after Unlock", b)
	}
}

// TestAcquireSilentForAShortHold: a holder that lets go at once (a probe's
// look) costs the waiter no "busy" line; only a real wait is announced.
func TestAcquireSilentForAShortHold(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	held, ok, err := TryLock(path)
	if err != nil || !ok {
		t.Fatalf("TryLock: ok=%v err=%v", ok, err)
	}
	time.AfterFunc(50*time.Millisecond, func() { held.Unlock() })
	var said []string
	l, err := Acquire(path, "testing", 5*time.Second, func(h string) { said = append(said, h) })
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if len(said) != 0 {
		t.Errorf("waiting was told %q for a hold of 50ms, want nothing", said)
	}
}

// TestFree: the look tells a held lock from a free or missing one, and
// leaves the lock free for the next holder.
func TestFree(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".pixi-lima.lock")
	if !Free(path) {
		t.Error("Free of a missing lock file: false")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Free created the lock file: %v", err)
	}
	l, ok, err := TryLock(path)
	if err != nil || !ok {
		t.Fatalf("TryLock: ok=%v err=%v", ok, err)
	}
	if Free(path) {
		t.Error("Free of a held lock: true")
	}
	l.Unlock()
	if !Free(path) || !Free(path) {
		t.Error("Free of a released lock: false")
	}
	if l, ok, err := TryLock(path); err != nil || !ok {
		t.Errorf("TryLock after Free: ok=%v err=%v", ok, err)
	} else {
		l.Unlock()
	}
}
