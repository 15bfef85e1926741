//go:build !linux && !darwin

package lima

// commandLine cannot read a process's argv here.
func commandLine(pid int) ([]string, bool) { return nil, false }

// processName cannot read a process's name here.
func processName(pid int) string { return "" }

// allPIDs cannot list processes here.
func allPIDs() []int { return nil }
