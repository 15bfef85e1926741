package shim

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/pixi-lima/pixi-lima/shim/fastpath"
)

// depthVar and maxDepth are the depth guard's (see fastpath.DepthVar).
const (
	depthVar = fastpath.DepthVar
	maxDepth = fastpath.MaxDepth
)

// checkDepth returns the next depth, or an error when the chain is too long.
func checkDepth(tool string, getenv func(string) string) (int, error) {
	depth, _ := strconv.Atoi(getenv(depthVar))
	if depth >= maxDepth {
		return 0, &Error{Code: ExitLoop,
			Msg:  fmt.Sprintf("%s was wrapped %d times in a row: a wrapper on PATH calls pixi-lima back", tool, depth),
			Hint: fmt.Sprintf("put the real %s on PATH after %s, or remove the other wrapper", tool, filepath.Join(".pixi", "bin"))}
	}
	return depth + 1, nil
}
