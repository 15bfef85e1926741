package lima

import "golang.org/x/sys/unix"

// hostCommandLine is a process's argv, word for word, which ps does not give.
func hostCommandLine(pid int) ([]string, bool) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, false
	}
	return parseProcArgs2(b)
}

// hostProcessName is the name the kernel keeps for a process (its first 16
// bytes), "" if it cannot be read.
func hostProcessName(pid int) string {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(k.Proc.P_comm[:])
}

// hostPIDs lists the processes the kernel shows.
func hostPIDs() []int {
	procs, _ := unix.SysctlKinfoProcSlice("kern.proc.all")
	pids := make([]int, 0, len(procs))
	for _, p := range procs {
		pids = append(pids, int(p.Proc.P_pid))
	}
	return pids
}
