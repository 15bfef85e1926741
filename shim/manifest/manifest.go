// Package manifest adds keys and tables to a pixi manifest's TOML text
// without changing a line that is there: the user's comments, formatting
// and order stay as they wrote them, as pixi's own `pixi add` keeps them.
// A key goes at the end of its table's section when the table has a
// [header], else into a new [header] appended at the end of the file. The
// result is checked by parsing the text before and after: the new
// document must be the old one plus exactly the additions, or Result
// refuses.
package manifest

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Edit is a manifest and the keys to add to it.
type Edit struct {
	text     []byte
	doc      map[string]any
	sections map[string]int // table path → offset where a line added to its section goes
	inserts  map[int][]string
	appended []*block // new [tables] for the end of the file, in the order first added
	added    map[string]any
	order    [][]string // every header and key-value path, as they come
}

type block struct {
	path  []string
	lines []string
}

// Conflict is a key that the manifest already has, with another value.
type Conflict struct {
	Path       []string
	Have, Want any
}

func (c *Conflict) Error() string {
	return fmt.Sprintf("%s is %s, not %s", strings.Join(c.Path, "."), show(c.Have), show(c.Want))
}

// Parse reads a manifest. Its tables' [headers] are where keys can go.
func Parse(text []byte) (*Edit, error) {
	e := &Edit{text: text, sections: map[string]int{}, inserts: map[int][]string{}, added: map[string]any{}}
	if err := toml.Unmarshal(text, &e.doc); err != nil {
		return nil, err
	}
	if e.doc == nil {
		e.doc = map[string]any{}
	}
	// Each expression starts on the line of its first key. A key added to
	// a section goes after the section's last key-value: after the last
	// line before the next expression that is neither blank nor only a
	// comment (comments there usually speak of what follows).
	var p unstable.Parser
	p.Reset(text)
	var current string // the section being read, as pathKey
	var table []string // and its path
	lastKV := -1       // offset of the line where the section's last key-value starts
	closeSection := func(next int) {
		if current == "" {
			return
		}
		end := next
		for end > lastKV {
			start := lineStart(text, end-1)
			line := strings.TrimSpace(string(text[start:end]))
			if line != "" && !strings.HasPrefix(line, "#") {
				break
			}
			end = start
		}
		e.sections[current] = end
	}
	for p.NextExpression() {
		n := p.Expression()
		key := n.Key()
		key.Next()
		at := lineStart(text, int(key.Node().Raw.Offset))
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			closeSection(at)
			table = keyPath(n)
			current, lastKV = "", at
			if n.Kind == unstable.Table {
				current = pathKey(table)
				lastKV = lineEnd(text, at) // an empty section: right after its header
			}
			e.order = append(e.order, table)
		case unstable.KeyValue:
			lastKV = at
			e.order = append(e.order, append(slices.Clone(table), keyPath(n)...))
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	closeSection(len(text))
	return e, nil
}

// Get is the value at path in the manifest as it was read.
func (e *Edit) Get(path ...string) (any, bool) { return lookup(e.doc, path) }

// Keys are the keys of table in the order the manifest first names them
// (as a key or in a [header]), which a map does not keep.
func (e *Edit) Keys(table ...string) []string {
	var keys []string
	for _, path := range e.order {
		if len(path) > len(table) && slices.Equal(path[:len(table)], table) && !slices.Contains(keys, path[len(table)]) {
			keys = append(keys, path[len(table)])
		}
	}
	return keys
}

// Add sets table.key = value, a string, a []string or a bool: nothing when
// the manifest has that already, a *Conflict when it has another value.
func (e *Edit) Add(table []string, key string, value any) error {
	path := append(slices.Clone(table), key)
	want := normalize(value)
	if have, ok := lookup(e.doc, path); ok {
		if !reflect.DeepEqual(have, want) {
			return &Conflict{Path: path, Have: have, Want: want}
		}
		return nil
	}
	if have, ok := lookup(e.added, path); ok {
		if !reflect.DeepEqual(have, want) {
			return &Conflict{Path: path, Have: have, Want: want}
		}
		return nil
	}
	set(e.added, path, want)
	line := quoteKey(key) + " = " + render(value)
	if at, ok := e.sections[pathKey(table)]; ok {
		e.inserts[at] = append(e.inserts[at], line)
		return nil
	}
	for _, b := range e.appended {
		if slices.Equal(b.path, table) {
			b.lines = append(b.lines, line)
			return nil
		}
	}
	e.appended = append(e.appended, &block{path: slices.Clone(table), lines: []string{line}})
	return nil
}

// Changed reports whether Result would differ from the manifest as read.
func (e *Edit) Changed() bool { return len(e.added) > 0 }

// Result is the manifest with the additions; new tables come after
// comment (lines without their "# "), at the end. It fails when the text
// would not parse as the old document plus exactly the additions, for
// example where a table was defined inline or with dotted keys, which a
// [header] cannot extend.
func (e *Edit) Result(comment []string) ([]byte, error) {
	if !e.Changed() {
		return e.text, nil
	}
	var out bytes.Buffer
	offsets := make([]int, 0, len(e.inserts))
	for at := range e.inserts {
		offsets = append(offsets, at)
	}
	sort.Ints(offsets)
	prev := 0
	for _, at := range offsets {
		out.Write(e.text[prev:at])
		if at > 0 && e.text[at-1] != '\n' {
			out.WriteByte('\n')
		}
		for _, l := range e.inserts[at] {
			out.WriteString(l + "\n")
		}
		prev = at
	}
	out.Write(e.text[prev:])
	if len(e.appended) > 0 {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		for _, c := range comment {
			out.WriteString(strings.TrimRight("# "+c, " ") + "\n")
		}
		for i, b := range e.appended {
			if i > 0 {
				out.WriteByte('\n')
			}
			out.WriteString("[" + strings.Join(quoteKeys(b.path), ".") + "]\n")
			for _, l := range b.lines {
				out.WriteString(l + "\n")
			}
		}
	}
	var got map[string]any
	if err := toml.Unmarshal(out.Bytes(), &got); err != nil {
		return nil, fmt.Errorf("the additions would not be valid TOML here: %v", err)
	}
	want := merge(clone(e.doc), e.added)
	if !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("the additions would change what is there (a table defined inline or with dotted keys?)")
	}
	return out.Bytes(), nil
}

// keyPath is a table header's key, unquoted.
func keyPath(n *unstable.Node) []string {
	var path []string
	for it := n.Key(); it.Next(); {
		path = append(path, string(it.Node().Data))
	}
	return path
}

func pathKey(path []string) string { return strings.Join(quoteKeys(path), ".") }

func lineStart(text []byte, at int) int { return bytes.LastIndexByte(text[:at], '\n') + 1 }

func lineEnd(text []byte, at int) int {
	if i := bytes.IndexByte(text[at:], '\n'); i >= 0 {
		return at + i + 1
	}
	return len(text)
}

func lookup(doc map[string]any, path []string) (any, bool) {
	var v any = doc
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func set(doc map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := doc[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			d, ok := dst[k].(map[string]any)
			if !ok {
				d = map[string]any{}
			}
			dst[k] = merge(d, sub)
			continue
		}
		dst[k] = v
	}
	return dst
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = clone(sub)
		}
		c[k] = v
	}
	return c
}

// normalize is a value as go-toml reads it back into an any.
func normalize(v any) any {
	if list, ok := v.([]string); ok {
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out
	}
	return v
}

func show(v any) string {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = show(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if s, ok := v.(string); ok {
		return render(s)
	}
	return fmt.Sprint(v)
}

// render writes a value as a person would (and pixi add does): a "string"
// where it needs no escapes, else a 'literal' one; a list on one line, or
// one item a line when that is long.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = quote(s)
		}
		if line := "[" + strings.Join(parts, ", ") + "]"; len(line) <= 80 {
			return line
		}
		return "[\n  " + strings.Join(parts, ",\n  ") + ",\n]"
	case bool:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("manifest: cannot write a %T", v))
}

func quote(s string) string {
	plain := !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
	switch {
	case plain && !strings.ContainsAny(s, `"\`):
		return `"` + s + `"`
	case plain && !strings.Contains(s, "'"):
		return "'" + s + "'"
	case plain && !strings.Contains(s, "'''") && !strings.HasSuffix(s, "'"):
		return "'''" + s + "'''"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteKey(k string) string {
	if k != "" && !strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return k
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
}

func quoteKeys(path []string) []string {
	out := make([]string, len(path))
	for i, k := range path {
		out[i] = quoteKey(k)
	}
	return out
}
