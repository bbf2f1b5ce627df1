package input

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxToken is how much of a bad token an error message quotes: enough to
// recognise it, and a 10 MB token stays out of the terminal.
const maxToken = 60

// quoteToken returns tok as an error message shows it: as it is when it is
// short and every character prints, otherwise Go-quoted, so that control
// characters and invalid UTF-8 show as escapes (\x1b, \u009b) instead of
// acting on the terminal, and cut after maxToken bytes with "...".
func quoteToken(tok string) string {
	short, cut := cutToken(tok, maxToken)
	if !cut && printable(short) {
		return short
	}
	return quote(short, cut)
}

// quoteAlways quotes tok even when it prints, cut like quoteToken: stray
// text after a JSON object reads better in quotes.
func quoteAlways(tok string) string { return quote(cutToken(tok, maxToken)) }

func quote(s string, cut bool) string {
	q := strconv.Quote(s)
	if cut {
		q += "..."
	}
	return q
}

// cutToken cuts s to at most n bytes without splitting a UTF-8 sequence,
// and reports whether it cut anything.
func cutToken(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := n
	for i > n-utf8.UTFMax && i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], true
}

// printable reports whether every rune of s is valid and printable in the
// sense of strconv.IsPrint (no control characters, C1 included).
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// jsonColumns appends the whitespace-separated columns of line to cols, as
// strings.Fields would, except that a column starting with '{', '[' or '"'
// is one JSON value, white space inside it included: the columns of the
// BTF format. A column starting with '#' starts a comment.
func jsonColumns(cols []string, line []byte) ([]string, error) {
	for i := 0; ; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) || line[i] == '#' {
			return cols, nil
		}
		start := i
		switch line[i] {
		case '{', '[', '"':
			end, err := jsonEnd(line, i)
			if err != nil {
				return cols, fmt.Errorf("column %d: %w", len(cols)+1, err)
			}
			i = end
		default:
			for i < len(line) && !isSpace(line[i]) {
				i++
			}
		}
		cols = append(cols, string(line[start:i]))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// jsonEnd returns the end of the JSON object, array or string at s[i]:
// brackets balanced outside strings. The value itself is checked by its
// parser.
func jsonEnd(s []byte, i int) (int, error) {
	depth := 0
	for inString := false; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case inString && c == '"':
			inString = false
			if depth == 0 {
				return i + 1, nil
			}
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("a JSON value that does not end on this line")
}
