// Package manifest reads a pixi manifest and adds keys, tables and list
// items to its TOML text for adopt with the smallest edits, keeping the
// user's comments, formatting and order. It never changes what is there:
// Result refuses any text that is not the old document plus the additions.
package manifest

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Edit is a manifest and the keys to add to it.
type Edit struct {
	text     []byte
	eol      string // the manifest's line ending, which added lines take
	doc      map[string]any
	sections map[string]int // table path → offset where a line added to its section goes
	values   map[string]int // path of a list or inline table → offset of its [ or {
	inserts  map[int][]string
	grown    map[int]*growth // lists and inline tables that gain items, by offset
	appended []*block        // new [tables] for the end of the file, in the order first added
	added    map[string]any
	order    [][]string // every header and key-value path, as they come
}

// growth is what a list (items) or an inline table (key = value pairs)
// gains.
type growth struct {
	path  []string
	items []string // as written
	list  []any    // the list's new items, as parsed
}

type block struct {
	path  []string
	lines []string
}

// Inline is a table to write inline, { key = value, ... }, in its order.
type Inline []Field

// Field is a key and its value.
type Field struct {
	Key   string
	Value any
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
	e := &Edit{text: text, eol: "\n", sections: map[string]int{}, values: map[string]int{}, inserts: map[int][]string{},
		grown: map[int]*growth{}, added: map[string]any{}}
	if i := bytes.IndexByte(text, '\n'); i > 0 && text[i-1] == '\r' {
		e.eol = "\r\n"
	}
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
			path := append(slices.Clone(table), keyPath(n)...)
			e.order = append(e.order, path)
			e.locate(path, n)
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	closeSection(len(text))
	return e, nil
}

// locate records where the lists and inline tables of the key-value n,
// at path, open: those inside inline tables too.
func (e *Edit) locate(path []string, n *unstable.Node) {
	switch v := n.Value(); v.Kind {
	case unstable.Array:
		e.values[pathKey(path)] = valueStart(e.text, n)
	case unstable.InlineTable:
		e.values[pathKey(path)] = int(v.Raw.Offset)
		for it := v.Children(); it.Next(); {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				e.locate(append(slices.Clone(path), keyPath(kv)...), kv)
			}
		}
	}
}

// Text is the manifest as it was read.
func (e *Edit) Text() []byte { return e.text }

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

// Add sets table.key = value, a string, a []string, a bool, an Inline
// table or a list of strings and Inline tables: nothing when the manifest
// has that already, a *Conflict when it has another value. A table the
// manifest writes inline gets the key inside its braces.
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
	if at, ok := e.values[pathKey(table)]; ok && e.text[at] == '{' {
		e.grow(at, table).items = append(e.grown[at].items, line)
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

// Append adds item at the end of the list at path, which the manifest
// writes out as a list: nothing when the list has it already. The list
// keeps its layout: one item more on its line, or one line more, indented
// as the line before, in a list of one item a line.
func (e *Edit) Append(path []string, item string) error {
	have, _ := lookup(e.doc, path)
	list, isList := have.([]any)
	at, ok := e.values[pathKey(path)]
	if !isList || !ok || e.text[at] != '[' {
		return fmt.Errorf("%s is not a list written out in the manifest", strings.Join(path, "."))
	}
	if slices.Contains(list, any(item)) || e.grown[at] != nil && slices.Contains(e.grown[at].list, any(item)) {
		return nil
	}
	g := e.grow(at, path)
	g.items, g.list = append(g.items, quote(item)), append(g.list, item)
	return nil
}

func (e *Edit) grow(at int, path []string) *growth {
	if e.grown[at] == nil {
		e.grown[at] = &growth{path: slices.Clone(path)}
	}
	return e.grown[at]
}

// Changed reports whether Result would differ from the manifest as read.
func (e *Edit) Changed() bool { return len(e.added) > 0 || len(e.grown) > 0 }

// Result is the manifest with the additions; new tables come after
// comment (lines without their "# "), at the end. It fails when the text
// would not parse as the old document plus exactly the additions, for
// example where a table was defined inline or with dotted keys, which a
// [header] cannot extend.
func (e *Edit) Result(comment []string) ([]byte, error) {
	if !e.Changed() {
		return e.text, nil
	}
	splices := map[int]string{} // offset → text to write there
	for at, lines := range e.inserts {
		s := strings.Join(lines, "\n") + "\n"
		if at > 0 && e.text[at-1] != '\n' {
			s = "\n" + s
		}
		splices[at] += s
	}
	for _, at := range slices.Sorted(maps.Keys(e.grown)) {
		for where, s := range e.growText(at, e.grown[at]) {
			splices[where] += s
		}
	}
	var out bytes.Buffer
	prev := 0
	for _, at := range slices.Sorted(maps.Keys(splices)) {
		out.Write(e.text[prev:at])
		out.WriteString(strings.ReplaceAll(splices[at], "\n", e.eol))
		prev = at
	}
	out.Write(e.text[prev:])
	if len(e.appended) > 0 {
		var b strings.Builder
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			b.WriteByte('\n')
		}
		if out.Len() > 0 {
			b.WriteByte('\n')
		}
		for _, c := range comment {
			b.WriteString(strings.TrimRight("# "+c, " ") + "\n")
		}
		for i, block := range e.appended {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("[" + strings.Join(quoteKeys(block.path), ".") + "]\n")
			for _, l := range block.lines {
				b.WriteString(l + "\n")
			}
		}
		out.WriteString(strings.ReplaceAll(b.String(), "\n", e.eol))
	}
	var got map[string]any
	if err := toml.Unmarshal(out.Bytes(), &got); err != nil {
		return nil, fmt.Errorf("the additions would not be valid TOML here: %v", err)
	}
	want := merge(clone(e.doc), e.added)
	for _, g := range e.grown {
		if g.list != nil {
			have, _ := lookup(want, g.path)
			set(want, g.path, append(slices.Clone(have.([]any)), g.list...))
		}
	}
	if !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("the additions would change what is there (a table defined inline or with dotted keys?)")
	}
	return out.Bytes(), nil
}

// growText is what to write where for g, the growth of the list or inline
// table that opens at at: after its last item, on that item's line or on
// lines of their own, in the list's style.
func (e *Edit) growText(at int, g *growth) map[int]string {
	closing, last, comma := scanValue(e.text, at)
	items := strings.Join(g.items, ", ")
	switch {
	case last == at+1 && e.text[at] == '{':
		return map[int]string{at + 1: " " + items + " "}
	case last == at+1:
		return map[int]string{at + 1: items}
	case !bytes.Contains(e.text[last:closing], []byte("\n")):
		if comma {
			return map[int]string{last + bytes.IndexByte(e.text[last:], ',') + 1: " " + items + ","}
		}
		return map[int]string{last: ", " + items}
	}
	start := lineStart(e.text, last-1)
	indent := e.text[start : len(e.text)-len(bytes.TrimLeft(e.text[start:], " \t"))]
	var b strings.Builder
	for i, item := range g.items {
		b.WriteString(string(indent) + item)
		if comma || i < len(g.items)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	splices := map[int]string{lineEnd(e.text, last): b.String()}
	if !comma {
		splices[last] = ","
	}
	return splices
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
	switch v := v.(type) {
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case Inline:
		out := make(map[string]any, len(v))
		for _, f := range v {
			out[f.Key] = normalize(f.Value)
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
	if m, ok := v.(map[string]any); ok {
		parts := make([]string, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, quoteKey(k)+" = "+show(m[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
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
		return render(normalize(v))
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = render(x)
		}
		if line := "[" + strings.Join(parts, ", ") + "]"; len(line) <= 80 {
			return line
		}
		return "[\n  " + strings.Join(parts, ",\n  ") + ",\n]"
	case Inline:
		parts := make([]string, len(v))
		for i, f := range v {
			parts[i] = quoteKey(f.Key) + " = " + render(f.Value)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
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
