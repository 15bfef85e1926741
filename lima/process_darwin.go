package lima

import "golang.org/x/sys/unix"

// commandLine is a process's argv, word for word, which ps does not give.
func commandLine(pid int) ([]string, bool) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, false
	}
	return parseProcArgs2(b)
}

// processName is the name the kernel keeps for a process (its first 16
// bytes), "" if it cannot be read.
func processName(pid int) string {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(k.Proc.P_comm[:])
}

// allPIDs lists the processes the kernel shows.
func allPIDs() []int {
	procs, _ := unix.SysctlKinfoProcSlice("kern.proc.all")
	pids := make([]int, 0, len(procs))
	for _, p := range procs {
		pids = append(pids, int(p.Proc.P_pid))
	}
	return pids
}
