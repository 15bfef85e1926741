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

// Diff is a unified diff (3 lines of context) from old to new, which must
// only add lines (see Added), as both named name.
func Diff(name, old, new string) string {
	added, ok := Added(old, new)
	if !ok || len(added) == 0 {
		return ""
	}
	n := lines(new)
	isAdded := make([]bool, len(n))
	for _, j := range added {
		isAdded[j] = true
	}
	// Hunks cover each added line and 3 lines around it, merged when they
	// touch.
	type span struct{ from, to int } // in new's lines, to exclusive
	var hunks []span
	for _, j := range added {
		from, to := max(j-3, 0), min(j+4, len(n))
		if len(hunks) > 0 && from <= hunks[len(hunks)-1].to {
			hunks[len(hunks)-1].to = max(hunks[len(hunks)-1].to, to)
			continue
		}
		hunks = append(hunks, span{from, to})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", name, name)
	oldLine := make([]int, len(n)+1) // old's line number (1-based) at new's line j, counting lines before it
	for j, k := 0, 0; j <= len(n); j++ {
		oldLine[j] = k + 1
		if j < len(n) && !isAdded[j] {
			k++
		}
	}
	for _, h := range hunks {
		oldCount, newCount := 0, h.to-h.from
		for j := h.from; j < h.to; j++ {
			if !isAdded[j] {
				oldCount++
			}
		}
		oldStart := oldLine[h.from]
		if oldCount == 0 {
			oldStart-- // diff's convention for an empty range: the line before it
		}
		fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", oldStart, oldCount, h.from+1, newCount)
		for j := h.from; j < h.to; j++ {
			mark := " "
			if isAdded[j] {
				mark = "+"
			}
			b.WriteString(mark + n[j] + "\n")
		}
	}
	return b.String()
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
