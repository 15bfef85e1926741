package lima

import "strings"

// MaskCredentials hides the password of every scheme://user:password@ in
// s, keeping the user (which says whose proxy it is): a proxy URL must not
// reach a terminal, a log or a bug report with its password. A URL
// without a password is left as it is.
func MaskCredentials(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		start := i + len("://")
		b.WriteString(s[:start])
		s = s[start:]
		// The authority ends where a path, a query or the surrounding
		// text (quotes, logrus' \" escapes, spaces) begins.
		end := strings.IndexAny(s, "/?#\"'\\ \t<>")
		if end < 0 {
			end = len(s)
		}
		at := strings.LastIndexByte(s[:end], '@')
		if colon := strings.IndexByte(s[:max(at, 0)], ':'); at > 0 && colon >= 0 && colon < at-1 {
			b.WriteString(s[:colon+1] + "***")
			s = s[at:]
		}
	}
}
