package lima

// backupExcludeAttr is the extended attribute `tmutil addexclusion` sets,
// without root, so that Time Machine skips a VM's disk of gigabytes.
const backupExcludeAttr = "com.apple.metadata:com_apple_backup_excludeItem"

// backupExcludeValue is the binary property list tmutil writes.
func backupExcludeValue() []byte {
	const s = "com.apple.backupd"
	b := []byte("bplist00")
	b = append(b, 0x5f, 0x10, byte(len(s))) // an ASCII string, its length as a 1-byte int
	b = append(b, s...)
	table := len(b)
	b = append(b, 8)                      // the offset table: object 0 is at 8
	b = append(b, 0, 0, 0, 0, 0, 0)       // trailer: unused
	b = append(b, 1, 1)                   // offset and reference sizes
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 1) // one object
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // the top object is object 0
	return append(b, 0, 0, 0, 0, 0, 0, 0, byte(table))
}
