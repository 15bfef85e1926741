//go:build !darwin

package lima

// excludeFromBackup: only macOS has Time Machine.
func excludeFromBackup(string) {}
