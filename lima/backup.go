package lima

// backupExcludeAttr is the extended attribute `tmutil addexclusion` sets
// (no root needed): Time Machine skips the item and what is under it, as
// it does Docker Desktop's disk image. A VM's disk is gigabytes that
// change with every container; backing it up costs space and time, and a
// restored copy of a running VM's disk is not consistent anyway.
const backupExcludeAttr = "com.apple.metadata:com_apple_backup_excludeItem"

// backupExcludeValue is the attribute's value: a binary property list
// holding the string "com.apple.backupd", byte for byte what tmutil
// writes.
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
