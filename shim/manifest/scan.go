package manifest

import (
	"bytes"

	"github.com/pelletier/go-toml/v2/unstable"
)

// valueStart is the offset of the value of the key-value n: past its key,
// the "=" and the blanks after it. go-toml records no offset for an array.
func valueStart(text []byte, n *unstable.Node) int {
	end := 0
	for it := n.Key(); it.Next(); {
		r := it.Node().Raw
		end = int(r.Offset + r.Length)
	}
	end += bytes.IndexByte(text[end:], '=') + 1
	for end < len(text) && (text[end] == ' ' || text[end] == '\t') {
		end++
	}
	return end
}

// scanValue reads the array or inline table that opens at text[at], in a
// text that parses. It returns the offset of the closing bracket, the
// offset just past the last element (past the opening bracket when there
// is none) and whether a comma follows that element.
func scanValue(text []byte, at int) (closing, last int, comma bool) {
	table := text[at] == '{'
	last = at + 1
	for i := at + 1; i < len(text); {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			i = lineEnd(text, i)
		case c == ']' || c == '}':
			return i, last, comma
		case c == ',':
			comma = true
			i++
		default:
			if table { // key = value
				for text[i] != '=' {
					if text[i] == '"' || text[i] == '\'' {
						i = skipString(text, i)
						continue
					}
					i++
				}
				i++
				for text[i] == ' ' || text[i] == '\t' {
					i++
				}
			}
			i = skipValue(text, i)
			last, comma = i, false
		}
	}
	return len(text), last, comma
}

// skipValue is the offset just past the value that starts at text[i].
func skipValue(text []byte, i int) int {
	switch text[i] {
	case '"', '\'':
		return skipString(text, i)
	case '[', '{':
		closing, _, _ := scanValue(text, i)
		return closing + 1
	}
	for i < len(text) && bytes.IndexByte([]byte(" \t\r\n,]}#"), text[i]) < 0 {
		i++
	}
	return i
}

// skipString is the offset just past the string that starts at text[i]:
// basic or literal, on one line or several.
func skipString(text []byte, i int) int {
	q := text[i]
	delim := []byte{q}
	if bytes.HasPrefix(text[i:], []byte{q, q, q}) {
		delim = []byte{q, q, q}
	}
	j := i + len(delim)
	for j < len(text) {
		if q == '"' && text[j] == '\\' {
			j += 2
			continue
		}
		if bytes.HasPrefix(text[j:], delim) {
			j += len(delim)
			// A multi-line string may end in one or two quotes of its own.
			for k := 0; len(delim) == 3 && k < 2 && j < len(text) && text[j] == q; k++ {
				j++
			}
			return j
		}
		j++
	}
	return j
}
