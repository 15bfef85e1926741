package lima

import "os"

// UseHome points Lima's own packages at dir: pkg/store reads LIMA_HOME
// from the environment and has no parameter for it.
func UseHome(dir string) { os.Setenv("LIMA_HOME", dir) }
