package lima

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The host's process table, read through variables so that tests can run
// the package on a fake one.
var (
	allPIDs     = hostPIDs
	commandLine = hostCommandLine
	processName = hostProcessName
	kill        = syscall.Kill
)

// sameDir says whether two paths name one directory, by file identity.
// A variable so that tests can say so of paths this disk does not have.
var sameDir = func(a, b string) bool {
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	return err == nil && os.SameFile(ia, ib)
}

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

// isLimaProcess says whether argv is the host agent, QEMU or ssh master of
// this very instance: the file Lima has it use must lie in the instance
// directory, judged by file identity, so that neither a pid reused after a
// reboot nor another project whose path ends as this one's matches.
func isLimaProcess(argv []string, instDir string) bool {
	file, ok := limaFile(argv)
	if !ok || !filepath.IsAbs(file) {
		return false // a relative path is the process's own cwd's
	}
	dir := filepath.Dir(file)
	return dir == filepath.Clean(instDir) || sameDir(dir, instDir)
}

// limaFile is the file in its instance directory that Lima v1.2.2 starts a
// process with: the host agent's --pidfile (pkg/instance/start.go), QEMU's
// -pidfile (pkg/driver/qemu/qemu.go), the ssh master's ControlPath
// (pkg/sshutil/sshutil.go). A pid file may be gone; its directory is not.
func limaFile(argv []string) (string, bool) {
	if len(argv) == 0 {
		return "", false
	}
	// OpenSSH's ControlPersist master retitles itself where it can (Linux):
	// control_persist_detach's setproctitle("%s [mux]", control_path).
	if title, ok := strings.CutPrefix(argv[0], "ssh: "); ok && len(argv) == 1 {
		return strings.CutSuffix(title, " [mux]")
	}
	switch name := filepath.Base(argv[0]); {
	case name == "limactl" && slices.Contains(argv, "hostagent"):
		return flagValue(argv[1:], "--pidfile")
	case strings.HasPrefix(name, "qemu-system-"):
		return flagValue(argv[1:], "-pidfile")
	case name == "ssh":
		return controlPath(argv[1:])
	}
	return "", false
}

// flagValue is the last value of flag, given as "flag value" or "flag=value".
func flagValue(args []string, flag string) (value string, ok bool) {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			value, ok = args[i+1], true
		} else if v, found := strings.CutPrefix(a, flag+"="); found {
			value, ok = v, true
		}
	}
	return value, ok
}

// controlPath is the last ControlPath of ssh's -o options, which Lima
// quotes (ControlPath="<instDir>/ssh.sock") and ssh unquotes.
func controlPath(args []string) (path string, ok bool) {
	for i, a := range args {
		opt, found := strings.CutPrefix(a, "-o")
		if !found {
			continue
		}
		if opt == "" && i+1 < len(args) {
			opt = args[i+1]
		}
		key, value, found := strings.Cut(opt, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(key), "ControlPath") {
			continue
		}
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			value = value[1 : n-1]
		}
		path, ok = value, true
	}
	return path, ok
}

// isLimaName says whether an executable's name, as the kernel may cut it
// short, is limactl's or QEMU's.
func isLimaName(exe string) bool {
	return exe == "limactl" || strings.HasPrefix(exe, "qemu-system-")
}

// parseProcArgs2 reads argv from macOS's kern.procargs2: argc (32 bits,
// little endian), the executable's path, NUL padding, then the arguments.
func parseProcArgs2(b []byte) ([]string, bool) {
	if len(b) < 4 {
		return nil, false
	}
	argc := int32(binary.LittleEndian.Uint32(b))
	exe, rest, ok := bytes.Cut(b[4:], []byte{0})
	if argc <= 0 || len(exe) == 0 || !ok {
		return nil, false
	}
	rest = bytes.TrimLeft(rest, "\x00")
	var argv []string
	for int32(len(argv)) < argc {
		arg, after, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			return nil, false
		}
		argv, rest = append(argv, string(arg)), after
	}
	return argv, true
}

// alive says whether pid exists (signal 0 checks without sending).
func alive(pid int) bool {
	err := kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// livePIDs lists the instance's Lima processes that run, or may: named so,
// with arguments that cannot be read.
func livePIDs(instDir string) []int {
	var pids []int
	files, _ := filepath.Glob(filepath.Join(instDir, "*.pid"))
	for _, f := range files {
		pid, ours := limaPID(instDir, filepath.Base(f))
		if pid != 0 && alive(pid) && (ours || unreadable(pid) && isLimaName(processName(pid))) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func unreadable(pid int) bool {
	_, ok := commandLine(pid)
	return !ok
}

// forgetForeignPIDs removes the instance's pid files whose pid is shown to
// be another process's, which `limactl stop --force` would SIGKILL. Where
// that cannot be shown the file stays, lest a live QEMU run on unseen.
func forgetForeignPIDs(instDir string, stderr io.Writer) {
	files, _ := filepath.Glob(filepath.Join(instDir, "*.pid"))
	for _, f := range files {
		pid, ours := limaPID(instDir, filepath.Base(f))
		if pid == 0 || ours || !alive(pid) {
			continue // unreadable, ours, or dead: Lima handles a dead pid itself
		}
		what, ok := commandLine(pid)
		if !ok {
			name := processName(pid)
			if name == "" || isLimaName(name) {
				continue // not shown to be another's
			}
			what = []string{name}
		}
		fmt.Fprintf(stderr, "pixi-lima: %s names pid %d, which is not this VM's (%s); forgetting it rather than killing it\n",
			filepath.Base(f), pid, strings.Join(what, " "))
		os.Remove(f)
	}
}

// Orphaned says whether a QEMU of the instance runs that Lima does not know of.
func Orphaned(instDir string) bool { return len(orphanQEMU(instDir)) > 0 }

// killOrphans kills the instance's QEMU processes that Lima does not know of.
func killOrphans(instDir string) {
	for _, pid := range orphanQEMU(instDir) {
		kill(pid, syscall.SIGKILL)
	}
}

// orphanQEMU lists the instance's QEMU processes that no pid file names,
// left by a host agent killed before qemu.pid was written.
func orphanQEMU(instDir string) []int {
	var orphans []int
	named := livePIDs(instDir)
	for _, pid := range allPIDs() {
		if argv, ok := commandLine(pid); ok && isLimaProcess(argv, instDir) &&
			strings.HasPrefix(filepath.Base(argv[0]), "qemu-system-") && !slices.Contains(named, pid) {
			orphans = append(orphans, pid)
		}
	}
	return orphans
}
