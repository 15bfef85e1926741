package manifest

import (
	"fmt"
	"strings"
)

// Added lines up old's lines with new's in order and returns the indexes
// (0-based, into new) of the lines new adds, or ok == false when new is
// not old with lines added: a line of old is changed, gone or moved. A
// greedy match is enough to tell, since new keeps old's lines in order.
func Added(old, new string) (added []int, ok bool) {
	o, n := lines(old), lines(new)
	i := 0
	for j, l := range n {
		if i < len(o) && l == o[i] {
			i++
			continue
		}
		added = append(added, j)
	}
	return added, i == len(o)
}

// Diff is a unified diff (3 lines of context) from old to new, both named
// name, which patch(1) applies: lines added, and lines changed as a line
// removed and a line added.
func Diff(name, old, new string) string {
	o, n := lines(old), lines(new)
	keptOld, keptNew := common(o, n)
	// The edit script: each line of old or new in order, marked ' ', '-' or
	// '+', a removed line before the line that replaces it.
	type line struct {
		mark       byte
		text       string
		oldN, newN int // lines of old and new before this one
	}
	var script []line
	i, j := 0, 0
	for i < len(o) || j < len(n) {
		switch {
		case i < len(o) && !keptOld[i]:
			script = append(script, line{'-', o[i], i, j})
			i++
		case j < len(n) && !keptNew[j]:
			script = append(script, line{'+', n[j], i, j})
			j++
		default:
			script = append(script, line{' ', o[i], i, j})
			i, j = i+1, j+1
		}
	}
	// Hunks cover each change and 3 lines around it, merged when they
	// touch.
	type span struct{ from, to int } // in script, to exclusive
	var hunks []span
	for k, l := range script {
		if l.mark == ' ' {
			continue
		}
		from, to := max(k-3, 0), min(k+4, len(script))
		if len(hunks) > 0 && from <= hunks[len(hunks)-1].to {
			hunks[len(hunks)-1].to = max(hunks[len(hunks)-1].to, to)
			continue
		}
		hunks = append(hunks, span{from, to})
	}
	if len(hunks) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", name, name)
	for _, h := range hunks {
		oldCount, newCount := 0, 0
		for _, l := range script[h.from:h.to] {
			if l.mark != '+' {
				oldCount++
			}
			if l.mark != '-' {
				newCount++
			}
		}
		first := script[h.from]
		oldStart, newStart := first.oldN+1, first.newN+1
		if oldCount == 0 {
			oldStart-- // diff's convention for an empty range: the line before it
		}
		if newCount == 0 {
			newStart--
		}
		fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", oldStart, oldCount, newStart, newCount)
		for _, l := range script[h.from:h.to] {
			b.WriteString(string(l.mark) + l.text + "\n")
		}
	}
	return b.String()
}

// Changed are the lines of old that new does not keep (changed or gone),
// and the lines new adds, by a longest common subsequence of lines.
func Changed(old, new string) (removed, added []string) {
	o, n := lines(old), lines(new)
	keptOld, keptNew := common(o, n)
	for i, l := range o {
		if !keptOld[i] {
			removed = append(removed, l)
		}
	}
	for j, l := range n {
		if !keptNew[j] {
			added = append(added, l)
		}
	}
	return removed, added
}

// common marks the lines of a and of b that are in a longest common
// subsequence of the two. A manifest has hundreds of lines, not millions:
// the quadratic table is small.
func common(a, b []string) (inA, inB []bool) {
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	inA, inB = make([]bool, len(a)), make([]bool, len(b))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			inA[i], inB[j] = true, true
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			j++
		}
	}
	return inA, inB
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
