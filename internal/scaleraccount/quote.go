package scaleraccount

import (
	"fmt"
	"strings"
)

// maxNameLength bounds user names, host names, schema and table names, in characters
// (MySQL's limit for schema and table names; its user names are shorter still, which
// the server enforces).
const maxNameLength = 64

// checkName refuses a name that is empty, longer than maxNameLength characters, or holds
// a byte other than printable ASCII (as sqltables.Quote does): NUL ends a name early in
// places, and past ASCII a multi-byte character set other than the session's utf8mb4
// (GBK, SJIS) could read a byte and the quote after it as one character.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > maxNameLength:
		return fmt.Errorf("%s %q is longer than %d characters", what, name, maxNameLength)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%s %q holds the byte 0x%02x: innokeda quotes only names of printable ASCII characters", what, name, c)
		}
	}
	return nil
}

// checkLiteral refuses, in a string literal, a byte other than printable ASCII (see
// checkName) and a backslash, an escape character unless sql_mode has
// NO_BACKSLASH_ESCAPES. The value is not quoted in the error: it may be a password.
func checkLiteral(what, s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return fmt.Errorf("%s holds a backslash or a byte other than printable ASCII", what)
		}
	}
	return nil
}

// quoteIdent quotes a schema or table name with backticks, doubling those it holds.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteString quotes a string literal, doubling the single quotes it holds. Callers
// have refused backslashes (checkLiteral), so the literal reads the same whatever the
// server's sql_mode.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// account is 'user'@'host'.
func account(user, host string) string {
	return quoteString(user) + "@" + quoteString(host)
}
