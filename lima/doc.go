// Package lima owns everything Lima for the project's VM: its lima.yaml,
// inspection through Lima's pkg/store, limactl runs, the lock around every
// change, drift, idle-stop and orphaned QEMU. It prints only to the Stderr
// it is given and never decides for the user what to delete.
package lima
