package lima

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// guestShutdownWait is how long a guest gets to shut down cleanly before
// it is killed, as in Lima's QEMU driver.
const guestShutdownWait = 3 * time.Minute

// powerdown presses the ACPI power button of a QEMU that runs without its
// host agent, as Lima's driver does, until QEMU exits; a press during boot
// is lost, so it is repeated.
func powerdown(ctx context.Context, instDir string, qemuPID int, within time.Duration) error {
	sock := filepath.Join(instDir, "qmp.sock")
	deadline := time.Now().Add(within)
	var lastErr error
	var press time.Time
	for ; runsFor(qemuPID, instDir); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			if lastErr != nil {
				return fmt.Errorf("the guest did not shut down within %s (last QMP error: %w)", within, lastErr)
			}
			return fmt.Errorf("the guest did not shut down within %s", within)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(press) > 10*time.Second {
			press = time.Now()
			lastErr = qmp(sock, "system_powerdown")
		}
	}
	return nil
}

// runsFor says whether pid is still the instance's own process: a QEMU
// that exited may leave its pid to another process before the deadline,
// which must never be killed in its place.
func runsFor(pid int, instDir string) bool {
	if !alive(pid) {
		return false
	}
	argv, ok := commandLine(pid)
	return !ok || isLimaProcess(argv, instDir)
}

// qmp runs one QMP command after the capabilities negotiation.
func qmp(sock, command string) error {
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadBytes('\n'); err != nil { // {"QMP": {...}}
		return err
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		if _, err := fmt.Fprintf(conn, `{"execute": %q}`+"\n", cmd); err != nil {
			return err
		}
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return err
			}
			var reply struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Desc string `json:"desc"`
				} `json:"error"`
			}
			if json.Unmarshal(line, &reply) != nil {
				continue
			}
			if reply.Error != nil {
				return errors.New(cmd + ": " + reply.Error.Desc)
			}
			if reply.Return != nil {
				break
			}
		}
	}
	return nil
}
