// Package lima owns everything Lima for the project's VM: its lima.yaml,
// inspection through Lima's pkg/store, limactl runs, the lock around every
// change, drift, idle-stop and orphaned QEMU. It prints only to the Stderr
// it is given and never decides for the user what to delete.
//
// Manager is the one owner of the VM's lifecycle (lifecycle.go): every
// transition the host makes goes through it, under the instance lock,
// with its reason. Idle-stop is the guest's own poweroff, watched for and
// waited out, never raced.
//
//	from                    to       transition                          caused by
//	Missing                 Running  create, start                       docker call, init, wake request
//	Stopped                 Running  start (applies drift)               same, restart, prune
//	Stopped + lost QEMU     Running  ACPI shutdown, stop --force, start  same
//	Broken                  Running  ACPI shutdown, stop --force, start  same (stop: to Stopped)
//	Running                 Stopped  trim, limactl stop                  stop, restart, a leftover VM's stop
//	Running                 Stopped  limactl stop --force                stop --force
//	Running                 Stopped  guest poweroff (idle-stop)          the guest; callers wait it out
//	any                     Missing  limactl delete --force              delete
//
// A stop or delete records its time (env.Paths.StopMark); a wake request
// that arrived before it does not start the VM again.
package lima
