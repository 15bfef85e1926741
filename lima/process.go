package lima

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// limaPID reads a pid file of the instance and says whether that pid is,
// right now, one of the instance's own Lima processes.
func limaPID(instDir, file string) (pid int, ours bool) {
	b, err := os.ReadFile(filepath.Join(instDir, file))
	if err != nil {
		return 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	argv, ok := commandLine(pid)
	return pid, ok && isLimaProcess(argv, instDir)
}

// isLimaProcess says whether argv is limactl (the host agent) or QEMU
// running this very instance: the executable by its exact name, and the
// instance's directory in an argument (the host agent's --pidfile, QEMU's
// -pidfile and -qmp). A pid reused after a reboot by anything else, even
// `vim lima/x.go`, does not match.
func isLimaProcess(argv []string, instDir string) bool {
	if len(argv) == 0 {
		return false
	}
	exe := filepath.Base(argv[0])
	if exe != "limactl" && !strings.HasPrefix(exe, "qemu-system-") {
		return false
	}
	for _, arg := range argv[1:] {
		if strings.Contains(arg, instDir+string(filepath.Separator)) || arg == instDir {
			return true
		}
	}
	return false
}

// commandLine is a process's argv: /proc on Linux, ps elsewhere (macOS
// has no /proc; ps joins the words with spaces, so a word with a space
// splits, which only weakens the match on instDir to a prefix test).
func commandLine(pid int) ([]string, bool) {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			return nil, false
		}
		return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"), true
	}
	out, err := exec.Command("ps", "-ww", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return nil, false
	}
	return strings.Fields(string(out)), true
}

// alive says whether pid exists (signal 0 checks without sending).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// livePIDs lists the instance's Lima processes that run now.
func livePIDs(instDir string) []int {
	var pids []int
	files, _ := filepath.Glob(filepath.Join(instDir, "*.pid"))
	for _, f := range files {
		if pid, ours := limaPID(instDir, filepath.Base(f)); ours && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// forgetForeignPIDs removes pid files of the instance whose pid now belongs
// to a process that is not the instance's own. After a host crash and
// reboot the pid in ha.pid or qemu.pid can be reused by anything, and
// `limactl stop --force` would SIGKILL it. A pid file is Lima's
// bookkeeping, not data: dropping a wrong one loses nothing.
func forgetForeignPIDs(instDir string, stderr io.Writer) {
	files, _ := filepath.Glob(filepath.Join(instDir, "*.pid"))
	for _, f := range files {
		pid, ours := limaPID(instDir, filepath.Base(f))
		if pid == 0 || ours || !alive(pid) {
			continue // unreadable, ours, or dead: Lima handles a dead pid itself
		}
		argv, _ := commandLine(pid)
		fmt.Fprintf(stderr, "pixi-lima: %s names pid %d, which is not this VM's (%s); forgetting it rather than killing it\n",
			filepath.Base(f), pid, strings.Join(argv, " "))
		os.Remove(f)
	}
}
