package lima

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// commandLine is a process's argv, as /proc has it.
func commandLine(pid int) ([]string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"), true
}

// processName is the name the kernel keeps for a process (its first 15
// bytes), "" if it cannot be read.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// allPIDs lists the processes /proc shows.
func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
