package shim

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/pixi-lima/pixi-lima/env/atomicfile"
)

// saveClientEnv writes the project's env.ClientVars where env/activate.sh
// sources them, so that in `pixi run` and `pixi shell` the Python SDK,
// Testcontainers and other clients that never call the shim reach the
// project's engine. Each line keeps a value the user set: theirs wins. It
// writes only when the file changes, and gives up silently: clients then
// fall back to what they find by themselves.
func saveClientEnv(p *project) {
	vars, lines := p.engine.clients()
	var b bytes.Buffer
	b.WriteString("# Written by pixi-lima for env/activate.sh: a variable set before wins.\n")
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "[ -n \"${%s+set}\" ] || export %s=%s\n", k, k, shellQuote(vars[k]))
	}
	b.WriteString(lines)
	file := p.paths.ClientEnv()
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, b.Bytes()) {
		return
	}
	_ = atomicfile.WriteFile(file, b.Bytes(), 0o644)
}
