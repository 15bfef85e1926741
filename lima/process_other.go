//go:build !linux && !darwin

package lima

// hostCommandLine cannot read a process's argv here.
func hostCommandLine(pid int) ([]string, bool) { return nil, false }

// hostProcessName cannot read a process's name here.
func hostProcessName(pid int) string { return "" }

// hostPIDs cannot list processes here.
func hostPIDs() []int { return nil }
