package scaleraccount

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A line of SHOW GRANTS, as MySQL 8 and MariaDB print it:
//
//	GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*...' WITH MAX_USER_CONNECTIONS 10  (MariaDB)
//	GRANT PROCESS, REPLICATION CLIENT ON *.* TO `u`@`%`
//	GRANT BACKUP_ADMIN,SYSTEM_USER ON *.* TO `u`@`%`                  (MySQL's dynamic privileges)
//	GRANT SELECT, INSERT (`c`) ON `db`.`t` TO `u`@`%` WITH GRANT OPTION
//	GRANT ALL PRIVILEGES ON `db`.* TO `u`@`%`
//	GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`
//	GRANT PROXY ON ''@'' TO 'u'@'%'
//	GRANT `r`@`%` TO `u`@`%`                                            (a role, MySQL)
//	GRANT `r` TO `u`@`%` WITH ADMIN OPTION                              (a role, MariaDB)
//	SET DEFAULT ROLE `r` FOR `u`@`%`                                    (MariaDB)
//	REVOKE INSERT ON `mysql`.* FROM `u`@`%`                             (MySQL's partial revokes)
//
// Everything the account holds that is not desired is revoked by naming it back as it
// was printed, re-quoted by this package: the privileges, the object, the roles. Only
// keywords and quoted names are read from a line; anything else in it (the password
// hash MariaDB prints, REQUIRE, resource limits) is skipped and never repeated.

type tokenKind int

const (
	tokenWord   tokenKind = iota // a keyword: SELECT, ON, TO, WITH
	tokenIdent                   // `name` (or "name")
	tokenString                  // 'text'
	tokenPunct                   // , ( ) . @ *
)

type token struct {
	kind tokenKind
	text string // a word as printed; a name or text unquoted
}

func (t token) is(word string) bool { return t.kind == tokenWord && strings.EqualFold(t.text, word) }

var errUnreadable = errors.New("a SHOW GRANTS line this package cannot read")

// tokenize splits a SHOW GRANTS line into tokens.
func tokenize(line string) ([]token, error) {
	var tokens []token
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(line) {
					return nil, errUnreadable // a quote never closed
				}
				if line[j] == c {
					if j+1 < len(line) && line[j+1] == c { // a doubled quote
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				if line[j] == '\\' && c == '\'' && j+1 < len(line) {
					j++ // an escaped character in a string
				}
				b.WriteByte(line[j])
				j++
			}
			kind := tokenIdent
			if c == '\'' {
				kind = tokenString
			}
			tokens = append(tokens, token{kind, b.String()})
			i = j + 1
		case strings.IndexByte(",().@*", c) >= 0:
			tokens = append(tokens, token{tokenPunct, string(c)})
			i++
		case isWordByte(c):
			j := i
			for j < len(line) && isWordByte(line[j]) {
				j++
			}
			tokens = append(tokens, token{tokenWord, line[i:j]})
			i = j
		default:
			return nil, errUnreadable
		}
	}
	return tokens, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

// privilege is one privilege of a grant: SELECT, REPLICATION CLIENT, INSERT (`a`, `b`).
type privilege struct {
	name    string // upper case, words separated by one space
	columns []string
}

func (p privilege) String() string {
	if len(p.columns) == 0 {
		return p.name
	}
	quoted := make([]string, len(p.columns))
	for i, c := range p.columns {
		quoted[i] = quoteIdent(c)
	}
	return p.name + " (" + strings.Join(quoted, ", ") + ")"
}

type objectKind int

const (
	objectGlobal  objectKind = iota // *.*
	objectSchema                    // `db`.*
	objectTable                     // `db`.`t`
	objectRoutine                   // PROCEDURE `db`.`p`
	objectProxy                     // ''@'' (PROXY)
)

// object is what a grant is on.
type object struct {
	kind         objectKind
	routine      string // FUNCTION, PROCEDURE, PACKAGE, PACKAGE BODY
	schema, name string // for a proxy grant, the proxied user and host
}

func (o object) String() string {
	switch o.kind {
	case objectSchema:
		return quoteIdent(o.schema) + ".*"
	case objectTable:
		return quoteIdent(o.schema) + "." + quoteIdent(o.name)
	case objectRoutine:
		return o.routine + " " + quoteIdent(o.schema) + "." + quoteIdent(o.name)
	case objectProxy:
		return account(o.schema, o.name)
	}
	return "*.*"
}

// grant is one line of SHOW GRANTS: privileges on an object, or roles.
type grant struct {
	privileges  []privilege
	on          object
	grantOption bool
	roles       []string // quoted: `r`@`h`, or `r` on MariaDB
	defaultRole bool     // SET DEFAULT ROLE (MariaDB): the account has a default role
}

// parseGrant reads a SHOW GRANTS line. ok is false for lines that grant nothing: MySQL's
// partial revokes (they only narrow a global privilege, and go with it). MariaDB's SET
// DEFAULT ROLE (the role's grant is its own line) is a grant with defaultRole set.
func parseGrant(line string) (g grant, ok bool, err error) {
	tokens, err := tokenize(line)
	if err != nil {
		return g, false, err
	}
	if len(tokens) > 0 && tokens[0].is("REVOKE") {
		return g, false, nil
	}
	if len(tokens) > 2 && tokens[0].is("SET") && tokens[1].is("DEFAULT") && tokens[2].is("ROLE") {
		g.defaultRole = true
		return g, true, nil
	}
	if len(tokens) < 3 || !tokens[0].is("GRANT") {
		return g, false, errUnreadable
	}
	on, to := -1, -1
	depth := 0
	for i, t := range tokens[1:] {
		i++
		switch {
		case t.kind == tokenPunct && t.text == "(":
			depth++
		case t.kind == tokenPunct && t.text == ")":
			depth--
		case depth == 0 && on < 0 && t.is("ON"):
			on = i
		case depth == 0 && t.is("TO"):
			to = i
		}
		if to >= 0 {
			break
		}
	}
	if to < 0 || on > to {
		return g, false, errUnreadable
	}
	tail := tokens[to+1:]
	for i := range tail {
		if tail[i].is("WITH") {
			for j := i + 1; j+1 < len(tail); j++ {
				if tail[j].is("GRANT") && tail[j+1].is("OPTION") {
					g.grantOption = true
				}
			}
			break
		}
	}
	if on < 0 {
		g.roles, err = parseRoles(tokens[1:to])
		return g, err == nil, err
	}
	if g.privileges, err = parsePrivileges(tokens[1:on]); err != nil {
		return g, false, err
	}
	if g.on, err = parseObject(tokens[on+1 : to]); err != nil {
		return g, false, err
	}
	return g, true, nil
}

// splitCommas splits tokens at the commas outside parentheses.
func splitCommas(tokens []token) [][]token {
	var parts [][]token
	depth, start := 0, 0
	for i, t := range tokens {
		switch {
		case t.kind == tokenPunct && t.text == "(":
			depth++
		case t.kind == tokenPunct && t.text == ")":
			depth--
		case t.kind == tokenPunct && t.text == "," && depth == 0:
			parts = append(parts, tokens[start:i])
			start = i + 1
		}
	}
	return append(parts, tokens[start:])
}

var keyword = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parsePrivileges(tokens []token) ([]privilege, error) {
	var privileges []privilege
	for _, part := range splitCommas(tokens) {
		var words []string
		i := 0
		for ; i < len(part) && part[i].kind == tokenWord; i++ {
			if !keyword.MatchString(part[i].text) {
				return nil, errUnreadable
			}
			words = append(words, strings.ToUpper(part[i].text))
		}
		if len(words) == 0 {
			return nil, errUnreadable
		}
		p := privilege{name: strings.Join(words, " ")}
		if rest := part[i:]; len(rest) > 0 { // a column list: ( `a` , `b` )
			if len(rest) < 3 || !rest[0].isPunct("(") || !rest[len(rest)-1].isPunct(")") {
				return nil, errUnreadable
			}
			for k, t := range rest[1 : len(rest)-1] {
				switch {
				case k%2 == 0 && t.kind == tokenIdent:
					p.columns = append(p.columns, t.text)
				case k%2 == 1 && t.isPunct(","):
				default:
					return nil, errUnreadable
				}
			}
			if len(rest)%2 == 0 { // ended on a comma
				return nil, errUnreadable
			}
		}
		privileges = append(privileges, p)
	}
	return privileges, nil
}

func (t token) isPunct(p string) bool { return t.kind == tokenPunct && t.text == p }

func parseObject(tokens []token) (object, error) {
	var o object
	if len(tokens) > 0 && tokens[0].kind == tokenWord {
		// FUNCTION, PROCEDURE, PACKAGE, PACKAGE BODY
		var words []string
		for len(tokens) > 0 && tokens[0].kind == tokenWord {
			if !keyword.MatchString(tokens[0].text) {
				return o, errUnreadable
			}
			words = append(words, strings.ToUpper(tokens[0].text))
			tokens = tokens[1:]
		}
		o.kind, o.routine = objectRoutine, strings.Join(words, " ")
		if len(tokens) != 3 || tokens[0].kind != tokenIdent || !tokens[1].isPunct(".") || tokens[2].kind != tokenIdent {
			return o, errUnreadable
		}
		o.schema, o.name = tokens[0].text, tokens[2].text
		return o, nil
	}
	switch {
	case len(tokens) == 3 && tokens[0].isPunct("*") && tokens[1].isPunct(".") && tokens[2].isPunct("*"):
		o.kind = objectGlobal
	case len(tokens) == 3 && tokens[0].kind == tokenIdent && tokens[1].isPunct(".") && tokens[2].isPunct("*"):
		o.kind, o.schema = objectSchema, tokens[0].text
	case len(tokens) == 3 && tokens[0].kind == tokenIdent && tokens[1].isPunct(".") && tokens[2].kind == tokenIdent:
		o.kind, o.schema, o.name = objectTable, tokens[0].text, tokens[2].text
	case len(tokens) == 3 && isName(tokens[0]) && tokens[1].isPunct("@") && isName(tokens[2]):
		o.kind, o.schema, o.name = objectProxy, tokens[0].text, tokens[2].text
		if checkLiteral("a proxied account", o.schema) != nil || checkLiteral("a proxied account", o.name) != nil {
			return o, errUnreadable
		}
	default:
		return o, errUnreadable
	}
	return o, nil
}

func isName(t token) bool { return t.kind == tokenIdent || t.kind == tokenString }

// parseRoles reads the roles of a role grant: `r`@`h`, `r2`@`h` (MySQL) or `r` (MariaDB).
func parseRoles(tokens []token) ([]string, error) {
	var roles []string
	for _, part := range splitCommas(tokens) {
		switch {
		case len(part) == 1 && isName(part[0]) && part[0].text != "":
			roles = append(roles, quoteIdent(part[0].text))
		case len(part) == 3 && isName(part[0]) && part[0].text != "" && part[1].isPunct("@") && isName(part[2]):
			roles = append(roles, quoteIdent(part[0].text)+"@"+quoteIdent(part[2].text))
		default:
			return nil, errUnreadable
		}
	}
	return roles, nil
}

// describe names a grant's line for an error without repeating it: the line can hold a
// password hash (MariaDB prints it after TO).
func describe(n int) string { return fmt.Sprintf("line %d of SHOW GRANTS", n+1) }
