package lima

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// forgetForeignPIDs removes pid files of the instance whose pid now belongs
// to a process that is not Lima's. After a host crash and reboot the pid in
// ha.pid or qemu.pid can be reused by anything, and `limactl stop --force`
// would SIGKILL it. A pid file is Lima's bookkeeping, not data: dropping a
// wrong one loses nothing.
func forgetForeignPIDs(instDir string, stderr io.Writer) {
	files, _ := filepath.Glob(filepath.Join(instDir, "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		out, err := exec.Command("ps", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
		if err != nil {
			continue // no such process: Lima handles a dead pid itself
		}
		if cmd := string(out); strings.Contains(cmd, "limactl") || strings.Contains(cmd, "qemu-system") || strings.Contains(cmd, "lima") {
			continue
		}
		fmt.Fprintf(stderr, "pixi-lima: %s names pid %d, which is not Lima's (%s); forgetting it rather than killing it\n",
			filepath.Base(f), pid, strings.TrimSpace(string(out)))
		os.Remove(f)
	}
}
