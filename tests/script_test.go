package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pixi-lima/pixi-lima/shim"
)

// shimBin is the directory where testscript put the test binary under each
// of pixi-lima's names (hard links, as install.sh's symlinks are: the shim
// must recognise itself through them).
var shimBin string

// TestMain registers the test binary as pixi-lima, docker, docker-compose
// and limactl-local: run under one of those names it is the product itself,
// dispatching on argv[0] exactly as the installed binary does.
func TestMain(m *testing.M) {
	run := func() { os.Exit(shim.Main(os.Args)) }
	testscript.Main(pathKeeper{m}, map[string]func(){
		"pixi-lima":      run,
		"docker":         run,
		"docker-compose": run,
		"limactl-local":  run,
	})
}

// pathKeeper takes testscript's directory of commands off the process's
// PATH again before the tests run: only the scripts get it. The other tests
// here run real tools by name (docker, dockerd) and must not meet the shim.
type pathKeeper struct{ m *testing.M }

func (k pathKeeper) Run() int {
	if v := os.Getenv(lockHelperVar); v != "" {
		mode, path, _ := strings.Cut(v, ":")
		return lockHelper(mode, path)
	}
	path := filepath.SplitList(os.Getenv("PATH"))
	if len(path) > 0 {
		if _, err := os.Stat(filepath.Join(path[0], "pixi-lima")); err == nil {
			shimBin = path[0]
			os.Setenv("PATH", strings.Join(path[1:], string(filepath.ListSeparator)))
		}
	}
	return k.m.Run()
}

// TestScripts runs testdata/script/*.txtar: every user-visible behaviour of
// the shim's names and subcommands that needs neither a VM nor an engine.
// They run as whoever runs go test (root on CI: the scripts that depend on
// it say so with [root]).
func TestScripts(t *testing.T) {
	if shimBin == "" {
		t.Fatal("testscript did not set up the shim's names")
	}
	tools := os.Getenv("PIXI_LIMA_TEST_TOOLS") // the real Compose v2, from tests/setup.sh
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			path := []string{shimBin}
			if tools != "" {
				path = append(path, tools)
			}
			path = append(path, e.Getenv("PATH"))
			e.Setenv("PATH", strings.Join(path, string(filepath.ListSeparator)))
			e.Setenv("SHIMBIN", shimBin)
			e.Setenv("HOME", filepath.Join(e.WorkDir, ".home"))
			return os.MkdirAll(filepath.Join(e.WorkDir, ".home"), 0o755)
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "compose":
				return tools != "", nil
			}
			return false, errors.New("unknown condition " + cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": cmdExits,
		},
	})
}

// cmdExits is `exits CODE program args...`: exec that must end with exactly
// CODE (testscript's `! exec` accepts any failure). stdout and stderr are
// left for the next `stdout`/`stderr` checks.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
