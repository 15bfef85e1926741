package lima

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// hostCommandLine is a process's argv, as /proc has it.
func hostCommandLine(pid int) ([]string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"), true
}

// hostProcessName is the name the kernel keeps for a process (its first 15
// bytes), "" if it cannot be read.
func hostProcessName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// hostPIDs lists the processes /proc shows.
func hostPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
