package lima

import "os"

// UseHome points Lima's own packages at dir. pkg/store (through
// dirnames.LimaDir) reads LIMA_HOME from this process's environment on
// every call and has no parameter for it, so this is the one place that
// sets it; everything else passes the home explicitly.
func UseHome(dir string) { os.Setenv("LIMA_HOME", dir) }
