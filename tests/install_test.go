package tests

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInstallNoop runs install.sh a second time in an installed project:
// it must change nothing under .pixi (a rebuild racing a `limactl create`
// in another terminal would pull Lima's templates from under it) and say
// nothing.
func TestInstallNoop(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"noop\"\n")
	before := snapshotTree(t, filepath.Join(p.Root, ".pixi"))
	begin := time.Now()
	stdout, stderr, code := p.Run(t, p.Command(filepath.Join(s.Src, "install.sh"), p.Root))
	t.Logf("the no-op install took %s", time.Since(begin).Round(time.Millisecond))
	if code != 0 || stdout+stderr != "" {
		t.Errorf("second install.sh: exit %d, want 0 and no output; it said:\n%s%s", code, stdout, stderr)
	}
	sameTree(t, before, snapshotTree(t, filepath.Join(p.Root, ".pixi")))
}

// TestInstallPyproject: install.sh accepts a workspace whose manifest is a
// pyproject.toml with a pixi workspace table, and refuses one without (a
// plain Python project); the installed shim then finds that workspace.
func TestInstallPyproject(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"ignored\"\n")
	must(t, os.Remove(filepath.Join(p.Root, "pixi.toml")))
	writeAsUser := func(text string) {
		t.Helper()
		path := filepath.Join(p.Root, "pyproject.toml")
		must(t, os.WriteFile(path, []byte(text), 0o644))
		must(t, os.Chown(path, s.UID, s.GID))
	}
	install := filepath.Join(s.Src, "install.sh")

	writeAsUser("[project]\nname = \"plain\"\n\n[tool.pixi-lima]\ncpus = 4\n")
	_, stderr, code := p.Run(t, p.Command(install, p.Root))
	if code != 3 || !strings.Contains(stderr, "has no pixi.toml, nor a pyproject.toml with [tool.pixi.workspace]") {
		t.Errorf("install.sh in a plain Python project: exit %d, want 3 naming both manifests:\n%s", code, stderr)
	}

	writeAsUser("[project]\nname = \"py-lib\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n")
	p.MustRun(t, p.Command(install, p.Root))
	if st := statusMap(t, p); st["instance"] != "py-lib-docker" || st["root"] != p.Root || st["state"] != "Missing" {
		t.Errorf("status in the pyproject workspace: %v; want instance py-lib-docker (the Python project's name), root %s", st, p.Root)
	}
}

// entry is what a re-run could change about one path: its identity (a
// rewritten file gets a new inode, though a copy made right after a delete
// may reuse it), its time, size and mode, and where a symlink points.
type entry struct {
	ino   uint64
	mtime time.Time
	size  int64
	mode  fs.FileMode
	link  string
}

func (e entry) String() string {
	s := fmt.Sprintf("inode %d, mtime %s, %d bytes, %v", e.ino, e.mtime.Format("15:04:05.000000000"), e.size, e.mode)
	if e.link != "" {
		s += " → " + e.link
	}
	return s
}

// snapshotTree records every entry under root by its path relative to
// root, symlinks as themselves.
func snapshotTree(t testing.TB, root string) map[string]entry {
	t.Helper()
	snap := map[string]entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		e := entry{mtime: info.ModTime(), size: info.Size(), mode: info.Mode()}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.ino = st.Ino
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(root, path)
		snap[rel] = e
		return nil
	})
	must(t, err)
	return snap
}

// treeDiff lists, sorted, every entry added, removed or changed between
// two snapshots.
func treeDiff[E comparable](before, after map[string]E) []string {
	var diffs []string
	for path, b := range before {
		if a, ok := after[path]; !ok {
			diffs = append(diffs, "removed "+path)
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed %s:\n    %v\n  → %v", path, b, a))
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			diffs = append(diffs, "added "+path)
		}
	}
	slices.Sort(diffs)
	return diffs
}

// sameTree reports every entry added, removed or changed between two snapshots.
func sameTree(t testing.TB, before, after map[string]entry) {
	t.Helper()
	if diffs := treeDiff(before, after); len(diffs) > 0 {
		if n := len(diffs); n > 8 {
			diffs = append(diffs[:8], fmt.Sprintf("… and %d more", n-8))
		}
		t.Errorf("install.sh with nothing to do changed .pixi:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestInstallUnderRosetta: on Apple silicon, an x86_64 shell (pixi or Go
// run under Rosetta) or an x86_64 Go would build an amd64 limactl, which
// Lima refuses to run; install.sh stops first with the one fix. An Intel
// Mac, where the sysctl key does not exist, and Linux go on. macOS's
// inputs come from fake uname, sysctl and go on PATH: the only way to give
// this Linux machine a Mac's answers.
func TestInstallUnderRosetta(t *testing.T) {
	install, err := filepath.Abs(filepath.Join("..", "install.sh"))
	must(t, err)
	for _, tc := range []struct {
		name                  string
		uname, translated, hw string // uname -s; sysctl's answers, "" for "unknown oid"
		goarch                string
		code                  int
		stop                  bool
	}{
		{"x86_64 shell on Apple silicon", "Darwin", "1", "1", "amd64", 3, true},
		{"x86_64 Go on Apple silicon", "Darwin", "0", "1", "amd64", 3, true},
		{"arm64 on Apple silicon", "Darwin", "0", "1", "arm64", 42, false},
		{"Intel Mac", "Darwin", "", "", "amd64", 42, false},
		{"Linux", "Linux", "1", "1", "amd64", 42, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, project := t.TempDir(), t.TempDir()
			must(t, os.WriteFile(filepath.Join(project, "pixi.toml"), []byte("[workspace]\nname = \"r\"\n"), 0o644))
			fakes := map[string]string{
				"uname": "#!/bin/sh\ncase \"$1\" in -s) echo " + tc.uname + " ;; -m) echo x86_64 ;; *) echo " + tc.uname + " ;; esac\n",
				"sysctl": "#!/bin/sh\necho \"$*\" >>" + filepath.Join(dir, "sysctl.log") + "\ncase \"$*\" in\n" +
					"'-n sysctl.proc_translated') v='" + tc.translated + "' ;;\n'-n hw.optional.arm64') v='" + tc.hw + "' ;;\nesac\n" +
					"[ -n \"$v\" ] || { echo \"sysctl: unknown oid '$2'\" >&2; exit 1; }\necho \"$v\"\n",
				"go": "#!/bin/sh\ncase \"$1\" in version) echo 'go version go1.25.0 darwin/" + tc.goarch + "' ;;\n" +
					"env) printf 'darwin\\n" + tc.goarch + "\\nclang\\n' ;;\n*) echo 'fake go: no further' >&2; exit 42 ;;\nesac\n",
			}
			for name, script := range fakes {
				must(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
			}
			cmd := exec.Command("bash", install, project)
			cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			said := strings.Contains(stderr.String(), "Rosetta")
			if code != tc.code || said != tc.stop {
				t.Errorf("exit %d, want %d; stopped for Rosetta: %v, want %v:\n%s", code, tc.code, said, tc.stop, stderr.String())
			}
			if tc.stop && !strings.Contains(stderr.String(), "hint: use an arm64 pixi") {
				t.Errorf("no fix named:\n%s", stderr.String())
			}
			if log, _ := os.ReadFile(filepath.Join(dir, "sysctl.log")); tc.uname == "Linux" && len(log) > 0 {
				t.Errorf("sysctl asked on Linux: %s", log)
			}
		})
	}
}

// TestInstallExcludesFromBackup: on macOS install.sh has Time Machine skip
// what it builds and caches (the attribute lima/backup.go sets), once: a
// run that finds it set writes nothing. macOS's uname, sysctl and xattr are
// fakes on PATH here, which record what they were asked.
func TestInstallExcludesFromBackup(t *testing.T) {
	s := requireSetup(t)
	p := newProject(t, s, "[workspace]\nname = \"tm\"\n")
	fakes, err := os.MkdirTemp("/tmp", "plx")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(fakes) })
	must(t, os.Chmod(fakes, 0o777))
	log := filepath.Join(fakes, "xattr.log")
	for name, script := range map[string]string{
		"uname":  "#!/bin/sh\necho Darwin\n",
		"sysctl": "#!/bin/sh\nexit 1\n",
		// The attribute is there once written: a file per directory.
		"xattr": "#!/bin/sh\necho \"$*\" >>" + log + "\n" +
			"case \"$1\" in -p) [ -e \"" + fakes + "/set$(echo \"$3\" | tr / _)\" ] ;; -wx) touch \"" + fakes + "/set$(echo \"$4\" | tr / _)\" ;; esac\n",
	} {
		must(t, os.WriteFile(filepath.Join(fakes, name), []byte(script), 0o755))
	}
	install := func() string {
		cmd := p.Command(filepath.Join(s.Src, "install.sh"), p.Root)
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "PATH=") {
				cmd.Env[i] = "PATH=" + fakes + ":" + kv[len("PATH="):]
			}
		}
		p.MustRun(t, cmd)
		b, _ := os.ReadFile(log)
		must(t, os.RemoveAll(log))
		return string(b)
	}
	prefix := filepath.Join(p.Root, ".pixi", "pixi-lima")
	const attr = "com.apple.metadata:com_apple_backup_excludeItem"
	const value = "62706c69737430305f1011636f6d2e6170706c652e6261636b75706408000000000000010100000000000000010000000000000000000000000000001c"
	got := install()
	for _, dir := range []string{"go", "bin", "share"} {
		if want := "-wx " + attr + " " + value + " " + filepath.Join(prefix, dir) + "\n"; !strings.Contains(got, want) {
			t.Errorf("install.sh did not exclude %s: xattr was asked\n%s", dir, got)
		}
	}
	if got := install(); strings.Contains(got, "-wx") {
		t.Errorf("a second install.sh wrote the attribute again:\n%s", got)
	}
}
