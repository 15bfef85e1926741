package tests

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/pelletier/go-toml/v2"
)

// readmeMaxLines keeps the README an overview; the rest is in docs/.
const readmeMaxLines = 250

// userPrograms are programs of a user's own environment that the docs run
// with `pixi run` to show where the activation applies; they are no task.
var userPrograms = map[string]bool{"pytest": true, "act": true}

// TestDocs checks README.md, docs/*.md and bench/*.md against the tree and
// the real binary: every relative link and #anchor resolves; every quoted
// `pixi-lima <command> --flag` exists; every `pixi run X` names a task
// (of pixi.toml, or of a workspace adopt has run in) or a program of the
// environment; the settings tables name real keys with their variables and
// the README's names them all; every PIXI_LIMA_* variable is a setting's or
// is read somewhere in the sources; each docs page opens with one line on
// what it covers; the README stays short. Needs no VM and no setup.
func TestDocs(t *testing.T) {
	if shimBin == "" {
		t.Fatal("testscript did not set up the shim's names")
	}
	root := repoRoot(t)
	cli := readCLI(t, filepath.Join(shimBin, "pixi-lima"))
	tasks := docTasks(t, root, filepath.Join(shimBin, "pixi-lima"))
	vars := sourceVars(t, root)

	var files []string
	for _, pattern := range []string{"README.md", "docs/*.md", "bench/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		must(t, err)
		files = append(files, m...)
	}
	cache := map[string]*mdFile{}
	parse := func(path string) *mdFile {
		if f, ok := cache[path]; ok {
			return f
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		f := parseMarkdown(path, string(data))
		cache[path] = f
		return f
	}
	for _, path := range files {
		f := parse(path)
		rel, _ := filepath.Rel(root, path)
		at := func(line int) string { return fmt.Sprintf("%s:%d", rel, line) }

		for _, l := range f.links {
			checkLink(t, at(l.line), path, l.target, parse)
		}
		for _, c := range f.code {
			for _, words := range commandWords(c.text) {
				checkCommand(t, at(c.line), words, cli, tasks)
			}
		}
		checkVars(t, f, at, cli, vars)
		checkSettingsTables(t, f, at, cli, rel == "README.md")
		if strings.HasPrefix(rel, "docs"+string(filepath.Separator)) {
			checkOpening(t, f, at)
		}
		if rel == "README.md" && len(f.lines) > readmeMaxLines {
			t.Errorf("%s: README.md has %d lines, at most %d: move detail into docs/", at(len(f.lines)), len(f.lines), readmeMaxLines)
		}
	}
}

// mdFile is what the checks need of one Markdown file.
type mdFile struct {
	lines    []string
	anchors  map[string]bool
	links    []mdRef // relative and in-page link targets, outside code
	code     []mdRef // inline code spans and fenced code lines
	headings []mdRef // text of each heading
	tables   []mdTable
}

type mdRef struct {
	line         int
	text, target string
}

type mdTable struct {
	line    int // of the header row
	section string
	rows    [][]string // header first; cells trimmed
}

var (
	mdLinkRe    = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	mdCodeRe    = regexp.MustCompile("`([^`]+)`")
	mdHeadingRe = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	envVarRe    = regexp.MustCompile(`PIXI_LIMA_[A-Z0-9_]*`)
	assignRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// parseMarkdown reads the headings (with GitHub's anchors), links, code
// and tables of a file, each with its line number.
func parseMarkdown(path, text string) *mdFile {
	f := &mdFile{lines: strings.Split(strings.TrimSuffix(text, "\n"), "\n"), anchors: map[string]bool{}}
	seen := map[string]int{}
	fence := ""
	var para []string // consecutive text lines, for code spans that wrap
	paraStart := 0
	section := ""
	var table *mdTable
	flush := func() {
		if len(para) == 0 {
			return
		}
		block := strings.Join(para, "\n")
		// Links outside code spans: blank the spans, keeping offsets.
		plain := mdCodeRe.ReplaceAllStringFunc(block, func(s string) string { return strings.Repeat(" ", len(s)) })
		for _, m := range mdLinkRe.FindAllStringSubmatchIndex(plain, -1) {
			f.links = append(f.links, mdRef{line: paraStart + strings.Count(block[:m[0]], "\n"), target: plain[m[4]:m[5]]})
		}
		for _, m := range mdCodeRe.FindAllStringSubmatchIndex(block, -1) {
			span := strings.ReplaceAll(block[m[2]:m[3]], "\n", " ") // a span may wrap
			f.code = append(f.code, mdRef{line: paraStart + strings.Count(block[:m[0]], "\n"), text: span})
		}
		para = nil
	}
	for i, line := range f.lines {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
				continue
			}
			code := line
			if i := strings.Index(code, " #"); i >= 0 || strings.HasPrefix(trimmed, "#") {
				code = code[:max(i, 0)] // a shell comment
			}
			f.code = append(f.code, mdRef{line: n, text: code})
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			flush()
			table = nil
			fence = trimmed[:3]
			continue
		}
		if m := mdHeadingRe.FindStringSubmatch(line); m != nil {
			flush()
			table = nil
			anchor := githubAnchor(m[2])
			if k := seen[anchor]; k > 0 {
				seen[anchor]++
				anchor = fmt.Sprintf("%s-%d", anchor, k)
			} else {
				seen[anchor] = 1
			}
			f.anchors[anchor] = true
			f.headings = append(f.headings, mdRef{line: n, text: m[2]})
			section = m[2]
		}
		if strings.HasPrefix(trimmed, "|") {
			if table == nil {
				f.tables = append(f.tables, mdTable{line: n, section: section})
				table = &f.tables[len(f.tables)-1]
			}
			cells := strings.Split(strings.Trim(trimmed, "|"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			if !strings.HasPrefix(cells[0], "---") {
				table.rows = append(table.rows, cells)
			}
		} else {
			table = nil
		}
		if trimmed == "" {
			flush()
			continue
		}
		if len(para) == 0 {
			paraStart = n
		}
		para = append(para, line)
	}
	flush()
	return f
}

// githubAnchor is the id GitHub gives a heading: its text as rendered,
// lowercased, spaces turned into '-', punctuation but '-' and '_' dropped.
func githubAnchor(heading string) string {
	heading = mdLinkRe.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkLink: a relative target exists, and its #anchor is a heading there.
func checkLink(t *testing.T, at, from, target string, parse func(string) *mdFile) {
	t.Helper()
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return
	}
	path, anchor, _ := strings.Cut(target, "#")
	dest := from
	if path != "" {
		if filepath.IsAbs(path) {
			t.Errorf("%s: link %q is absolute: GitHub needs a relative one", at, target)
			return
		}
		dest = filepath.Join(filepath.Dir(from), filepath.FromSlash(path))
		if _, err := os.Stat(dest); err != nil {
			t.Errorf("%s: link %q: %s does not exist", at, target, path)
			return
		}
	}
	if anchor == "" {
		return
	}
	if !strings.HasSuffix(dest, ".md") {
		t.Errorf("%s: link %q has an anchor into a file that is not Markdown", at, target)
		return
	}
	f := parse(dest)
	if f == nil || !f.anchors[anchor] {
		var have []string
		if f != nil {
			for _, h := range f.headings {
				have = append(have, githubAnchor(h.text))
			}
		}
		t.Errorf("%s: link %q: no heading with anchor #%s in %s (it has: %s)", at, target, anchor, filepath.Base(dest), strings.Join(have, ", "))
	}
}

// commandWords splits quoted shell into simple commands, each as its
// words, leading variable assignments dropped: `a && FOO=1 b | c`, the
// $(…) of `eval "$(pixi-lima env)"`.
func commandWords(code string) [][]string {
	code = strings.NewReplacer("&&", "\n", "||", "\n", ";", "\n", "|", "\n", "$(", "\n", "(", "\n", ")", " ", `"`, " ", "'", " ").Replace(code)
	var cmds [][]string
	for _, line := range strings.Split(code, "\n") {
		words := strings.Fields(line)
		for len(words) > 0 && assignRe.MatchString(words[0]) {
			words = words[1:]
		}
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
	}
	return cmds
}

// checkCommand: `pixi-lima X --flag` names a command and flags the binary
// has; `pixi run [options] X` a task or a program of the environment.
func checkCommand(t *testing.T, at string, words []string, cli docCLI, tasks map[string]bool) {
	t.Helper()
	switch {
	case filepath.Base(words[0]) == "pixi-lima" && !strings.Contains(words[0], "://") && len(words) > 1 && !strings.HasPrefix(words[1], "-"):
		name := words[1]
		flags, ok := cli.commands[name]
		if !ok && strings.HasPrefix(name, "_") && cli.hidden(name) {
			return
		}
		if !ok {
			t.Errorf("%s: `%s`: pixi-lima has no command %q (pixi-lima help lists %s)", at, strings.Join(words, " "), name, strings.Join(slices.Sorted(maps.Keys(cli.commands)), ", "))
			return
		}
		for _, w := range words[2:] {
			if !strings.HasPrefix(w, "--") || w == "--" {
				continue
			}
			flag, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			if flag != "help" && !flags[flag] {
				t.Errorf("%s: `%s`: pixi-lima %s has no flag --%s (pixi-lima %s --help)", at, strings.Join(words, " "), name, flag, name)
			}
		}
	case words[0] == "pixi" && len(words) > 1 && words[1] == "run":
		rest := words[2:]
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			switch rest[0] {
			case "-e", "--environment", "--manifest-path":
				rest = rest[min(2, len(rest)):]
			default:
				rest = rest[1:]
			}
		}
		if len(rest) == 0 || strings.ContainsAny(rest[0], "…<>") || rest[0] == "..." {
			return
		}
		if !tasks[rest[0]] && !userPrograms[rest[0]] {
			t.Errorf("%s: `%s`: %q is no task of pixi.toml or of an adopted workspace, nor a program of its environments", at, strings.Join(words, " "), rest[0])
		}
	}
}

// checkVars: every PIXI_LIMA_* named is a setting's variable, or one the
// sources use; PIXI_LIMA_X_* must be a prefix of one of those.
func checkVars(t *testing.T, f *mdFile, at func(int) string, cli docCLI, vars map[string]bool) {
	t.Helper()
	for i, line := range f.lines {
		for _, m := range envVarRe.FindAllStringIndex(line, -1) {
			name := line[m[0]:m[1]]
			if name == "PIXI_LIMA_" {
				continue // the prefix itself: "each key has a PIXI_LIMA_* variable"
			}
			if strings.HasSuffix(name, "_") && m[1] < len(line) && line[m[1]] == '*' {
				found := false
				for v := range vars {
					found = found || strings.HasPrefix(v, name)
				}
				if !found {
					t.Errorf("%s: no variable of the sources starts with %s", at(i+1), name)
				}
				continue
			}
			if !cli.envs[name] && !vars[name] {
				t.Errorf("%s: %s is neither a setting's variable (pixi-lima help settings) nor used by any source file", at(i+1), name)
			}
		}
	}
}

// checkSettingsTables: a table whose first column is "key" lists settings
// the binary has, each with its own variable where a column says it; the
// README's lists every one.
func checkSettingsTables(t *testing.T, f *mdFile, at func(int) string, cli docCLI, readme bool) {
	t.Helper()
	found := false
	for _, tb := range f.tables {
		if len(tb.rows) == 0 || tb.rows[0][0] != "key" {
			continue
		}
		found = true
		varCol := slices.Index(tb.rows[0], "variable")
		listed := map[string]bool{}
		for i, row := range tb.rows[1:] {
			line := tb.line + 2 + i
			key := strings.Trim(row[0], "`")
			listed[key] = true
			env, ok := cli.settings[key]
			if !ok {
				t.Errorf("%s: setting %q does not exist (pixi-lima help settings: %s)", at(line), key, strings.Join(cli.keys, ", "))
				continue
			}
			if varCol > 0 && varCol < len(row) {
				if got := strings.Fields(strings.Trim(row[varCol], "`"))[0]; strings.Trim(got, "`") != env {
					t.Errorf("%s: setting %q: the variable is %s, the table says %s", at(line), key, env, row[varCol])
				}
			}
		}
		if readme {
			for _, k := range cli.keys {
				if !listed[k] {
					t.Errorf("%s: README's settings table lacks %q", at(tb.line), k)
				}
			}
		}
	}
	if readme && !found {
		t.Errorf("%s: README has no settings table (| key | default | what it does |)", at(1))
	}
}

// checkOpening: a docs page is a title, then one line on what it covers.
func checkOpening(t *testing.T, f *mdFile, at func(int) string) {
	t.Helper()
	if len(f.lines) < 4 || !strings.HasPrefix(f.lines[0], "# ") || f.lines[1] != "" || strings.TrimSpace(f.lines[2]) == "" || f.lines[3] != "" {
		t.Errorf("%s: a docs page starts with its title, then one line saying what it covers", at(1))
	}
}

// docCLI is what the binary says of itself.
type docCLI struct {
	commands map[string]map[string]bool // command → its flags
	settings map[string]string          // key → variable
	keys     []string                   // in help's order
	envs     map[string]bool
	hidden   func(name string) bool
}

// readCLI asks the binary: `help` for the commands, `<command> --help`
// for their flags, `help settings` for the keys and their variables.
func readCLI(t *testing.T, bin string) docCLI {
	t.Helper()
	dir, home := t.TempDir(), t.TempDir()
	runBin := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	cli := docCLI{commands: map[string]map[string]bool{}, settings: map[string]string{}, envs: map[string]bool{}}
	out, errOut, err := runBin("help")
	if err != nil {
		t.Fatalf("pixi-lima help: %v\n%s", err, errOut)
	}
	_, list, ok := strings.Cut(out, "\nCommands:\n")
	if !ok {
		t.Fatalf("pixi-lima help lists no Commands:\n%s", out)
	}
	flagRe := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	for _, line := range strings.Split(list, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(line, "  ") {
			continue
		}
		name := fields[0]
		flags := map[string]bool{}
		if usage, _, _ := runBin(name, "--help"); strings.HasPrefix(usage, "usage: pixi-lima "+name) {
			for _, m := range flagRe.FindAllStringSubmatch(usage, -1) {
				flags[m[1]] = true
			}
		}
		cli.commands[name] = flags
	}
	out, errOut, err = runBin("help", "settings")
	if err != nil {
		t.Fatalf("pixi-lima help settings: %v\n%s", err, errOut)
	}
	for _, m := range regexp.MustCompile(`(?m)^  (\S+)\s+(PIXI_LIMA_[A-Z0-9_]+)$`).FindAllStringSubmatch(out, -1) {
		cli.settings[m[1]], cli.envs[m[2]] = m[2], true
		cli.keys = append(cli.keys, m[1])
	}
	if len(cli.commands) < 5 || len(cli.keys) < 5 {
		t.Fatalf("could not read the commands (%v) or settings (%v) from pixi-lima help", cli.commands, cli.keys)
	}
	// A command help does not list exists when a bad argument gets a
	// usage error from it rather than "unknown command"; none runs.
	cli.hidden = func(name string) bool {
		_, errOut, _ := runBin(name, "--no-such-flag-for-docs")
		return !strings.Contains(errOut, "unknown command")
	}
	return cli
}

// docTasks are the names `pixi run` finds: the tasks of pixi.toml, those
// pixi-lima adopt gives a workspace (run for real on an empty one), and
// the dependencies, whose programs pixi run also finds (`-e build go`).
func docTasks(t *testing.T, root, bin string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	collect := func(path string) {
		t.Helper()
		data, err := os.ReadFile(path)
		must(t, err)
		var doc map[string]any
		if err := toml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var walk func(table map[string]any)
		walk = func(table map[string]any) {
			for k, v := range table {
				sub, ok := v.(map[string]any)
				if !ok {
					continue
				}
				if k == "tasks" || k == "dependencies" {
					for name := range sub {
						names[name] = true
					}
					continue
				}
				walk(sub)
			}
		}
		walk(doc)
	}
	collect(filepath.Join(root, "pixi.toml"))
	ws := t.TempDir()
	must(t, os.WriteFile(filepath.Join(ws, "pixi.toml"), []byte("[workspace]\nname = \"docs\"\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n"), 0o644))
	cmd := exec.Command(bin, "adopt", "--checkout", root)
	cmd.Dir = ws
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pixi-lima adopt in an empty workspace: %v\n%s", err, out)
	}
	collect(filepath.Join(ws, "pixi.toml"))
	return names
}

// sourceVars are the PIXI_LIMA_* names in the repository's files other
// than its Markdown and this test.
func sourceVars(t *testing.T, root string) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	self := filepath.Join(root, "tests", "docs_test.go")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") && name != ".ci") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") || path == self || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range envVarRe.FindAll(data, -1) {
			vars[string(m)] = true
		}
		return nil
	})
	must(t, err)
	return vars
}
