package dryrun

import (
	"fmt"
	"strings"

	tidbmysql "github.com/pingcap/tidb/pkg/parser/mysql"
)

// Two programs read a query: innokeda's parser, then the server's lexer, and an attacker
// lives wherever they disagree on where a string or a comment ends (a quote inside a
// comment only one of them executes, a backslash only one of them treats as an escape).
// Rather than model every server's lexer, innokeda admits only text on which they cannot
// disagree, whatever the server's version, sql_mode or connection character set:
//   - no comment of any form: comments are where lexers differ most, and MySQL and
//     MariaDB execute some of them (/*! */, /*M! */) or act on them (/*+ */ hints);
//   - no backslash: whether it escapes depends on sql_mode NO_BACKSLASH_ESCAPES;
//   - printable ASCII, tabs and line breaks only: every character set a MySQL client may
//     use reads these bytes alike, and no byte can be taken as half of a multi-byte one;
//   - every quoted text closed, its quote doubled inside to escape it, the one rule all
//     modes share ('...' and "..." strings, `...` identifiers; "..." is an identifier
//     under ANSI_QUOTES, with the same boundaries, and CheckQuery parses both readings).
// A scaler's query needs none of these; the messages say how to write it without them.

// executableComments are the comment openers a server may run or act on: MySQL and
// MariaDB run /*!NNNNN ... */ (when NNNNN is not above their version), MariaDB runs
// /*M!NNNNN ... */, MySQL obeys optimizer hints in /*+ ... */. Refused wherever they
// appear, even inside quotes, so no reading of the text can find one.
var executableComments = []string{"/*!", "/*M!", "/*m!", "/*+"}

// checkText refuses text that some MySQL or MariaDB lexer could read differently from
// innokeda's parser (see above). Each message names the construct and how to avoid it.
func checkText(query string) error {
	for _, opener := range executableComments {
		if strings.Contains(query, opener) {
			return fmt.Errorf("contains an executable comment (%s ... */): MySQL and MariaDB run or obey what such a comment holds, and KEDA would execute it on every poll: remove it", opener)
		}
	}
	var quote byte // the quote character of the quoted text we are in, 0 outside
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\\':
			return fmt.Errorf("contains a backslash (at offset %d), which MySQL reads as an escape or not depending on sql_mode NO_BACKSLASH_ESCAPES: write the text without it (CHAR(92) is a backslash; a quote is escaped by doubling it)", i)
		case c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f:
			return fmt.Errorf("contains the byte 0x%02x (at offset %d): only printable ASCII, tabs and line breaks are admitted, so that every MySQL character set reads the query alike; write other characters as a hex literal, e.g. _utf8mb4 X'C3A9' for é", c, i)
		case quote != 0:
			if c == quote {
				if i+1 < len(query) && query[i+1] == quote {
					i++ // a doubled quote stays inside
				} else {
					quote = 0
				}
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '#', c == '/' && strings.HasPrefix(query[i:], "/*"), c == '-' && strings.HasPrefix(query[i:], "--"):
			return fmt.Errorf("contains a comment (%s at offset %d): remove it; innokeda admits only queries that MySQL and its own parser read the same way, and comments are where they differ (write - - for a double minus)", commentOpener(query[i:]), i)
		}
	}
	if quote != 0 {
		return fmt.Errorf("has a quoted text that is never closed (%c): close it", quote)
	}
	return nil
}

func commentOpener(s string) string {
	if s[0] == '#' {
		return "#"
	}
	return s[:2]
}

// sql_mode flags, as @@sql_mode lists them. The lexical ones are handed to the parser; the
// others change neither lexing nor grammar. Any other flag (ORACLE, MSSQL, DB2, POSTGRESQL,
// MAXDB switch MariaDB to other grammars) makes innokeda refuse to dry-run on that server.
var (
	parsedModes = map[string]tidbmysql.SQLMode{
		"ANSI_QUOTES":          tidbmysql.ModeANSIQuotes,
		"NO_BACKSLASH_ESCAPES": tidbmysql.ModeNoBackslashEscapes,
		"PIPES_AS_CONCAT":      tidbmysql.ModePipesAsConcat,
		"IGNORE_SPACE":         tidbmysql.ModeIgnoreSpace,
		"HIGH_NOT_PRECEDENCE":  tidbmysql.ModeHighNotPrecedence,
	}
	inertModes = map[string]bool{
		"ALLOW_INVALID_DATES": true, "ANSI": true, "EMPTY_STRING_IS_NULL": true, "ERROR_FOR_DIVISION_BY_ZERO": true,
		"NO_AUTO_CREATE_USER": true, "NO_AUTO_VALUE_ON_ZERO": true, "NO_DIR_IN_CREATE": true, "NO_ENGINE_SUBSTITUTION": true,
		"NO_FIELD_OPTIONS": true, "NO_KEY_OPTIONS": true, "NO_TABLE_OPTIONS": true, "NO_UNSIGNED_SUBTRACTION": true,
		"NO_ZERO_DATE": true, "NO_ZERO_IN_DATE": true, "ONLY_FULL_GROUP_BY": true, "PAD_CHAR_TO_FULL_LENGTH": true,
		"REAL_AS_FLOAT": true, "SIMULTANEOUS_ASSIGNMENT": true, "STRICT_ALL_TABLES": true, "STRICT_TRANS_TABLES": true,
		"TIME_ROUND_FRACTIONAL": true, "TIME_TRUNCATE_FRACTIONAL": true, "TRADITIONAL": true,
	}
)

// parserMode translates a server's @@sql_mode for the parser, or refuses it.
func parserMode(sqlMode string) (tidbmysql.SQLMode, error) {
	var mode tidbmysql.SQLMode
	for _, flag := range strings.Split(strings.ToUpper(strings.Trim(sqlMode, "'\" ")), ",") {
		flag = strings.TrimSpace(flag)
		switch m, parsed := parsedModes[flag]; {
		case flag == "", inertModes[flag]:
		case parsed:
			mode |= m
		default:
			return 0, fmt.Errorf("cannot be checked for this server: its sql_mode has %s, which changes how MySQL reads SQL in ways innokeda does not model: use a session without it", flag)
		}
	}
	return mode, nil
}
