package dryrun

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
	tidbmysql "github.com/pingcap/tidb/pkg/parser/mysql"
)

func TestCheckQuery(t *testing.T) {
	tests := []struct {
		query string
		want  string // "" means accepted
	}{
		{"SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'", ""},
		{"select count(*) from t where a in (select b from u)", ""},
		{"WITH c AS (SELECT 1 AS a) SELECT a FROM c", ""},
		{"(SELECT 1) UNION ALL (SELECT 2)", ""},
		{"SELECT testdb.sneaky()", "calls testdb.sneaky: a schema-qualified function is a stored function or, on MariaDB, a built-in by another name; call only the built-in functions innokeda lists, without a schema"},
		{"SELECT 1;", ""},
		{"", "is empty: give one SELECT statement that returns a single number"},
		{"DROP TABLE testdb.testtable", "is not a SELECT (statement kind: DropTable): the query may only read; KEDA runs it on every poll"},
		{"DELETE FROM testdb.testtable", "is not a SELECT (statement kind: Delete): the query may only read; KEDA runs it on every poll"},
		{"INSERT INTO t VALUES (1)", "is not a SELECT (statement kind: Insert): the query may only read; KEDA runs it on every poll"},
		{"CREATE TABLE testdb.pwned (a INT)", "is not a SELECT (statement kind: CreateTable): the query may only read; KEDA runs it on every poll"},
		{"CALL testdb.p()", "is not a SELECT (statement kind: Call): the query may only read; KEDA runs it on every poll"},
		{"SET @a = 1", "is not a SELECT (statement kind: Set): the query may only read; KEDA runs it on every poll"},
		{"DO SLEEP(1)", "is not a SELECT (statement kind: Do): the query may only read; KEDA runs it on every poll"},
		{"LOAD DATA INFILE '/etc/passwd' INTO TABLE t", "is not a SELECT (statement kind: LoadData): the query may only read; KEDA runs it on every poll"},
		{"SELECT 1; DROP TABLE t", "holds 2 statements: give exactly one SELECT statement, without a semicolon between statements"},
		{"SELECT * FROM t INTO OUTFILE '/tmp/x'", "writes its result with INTO (OUTFILE, DUMPFILE or a variable): remove the INTO clause"},
		{"SELECT a FROM t FOR UPDATE", "takes row locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE): remove the locking clause; a scaler's query must not block the database"},
		{"SELECT a FROM t FOR SHARE", "takes row locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE): remove the locking clause; a scaler's query must not block the database"},
		{"SELECT a FROM t LOCK IN SHARE MODE", "takes row locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE): remove the locking clause; a scaler's query must not block the database"},
		{"SELECT NEXTVAL(testdb.s)", "calls NEXTVAL, which advances a sequence: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		{"SELECT NEXT VALUE FOR testdb.s", "calls NEXTVAL, which advances a sequence: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		{"SELECT COUNT(*) FROM t WHERE a < (SELECT SETVAL(s, 5))", "calls SETVAL, which sets a sequence: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		{"SELECT get_lock('scaler', 0)", "calls GET_LOCK, which takes a named lock that KEDA's pooled connection would keep: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		{"SELECT LENGTH(LOAD_FILE('/etc/passwd'))", "calls LOAD_FILE, which reads a file of the database server: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		// Found by fuzzing: TiDB's value driver panics on this literal; refused, not a crash.
		{"0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "holds something innokeda's MySQL parser cannot read, such as a number of more than 81 digits: simplify it"},
		{"SELECT COUNT(*) FROM t WHERE a > 1.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001 INTO OUTFILE '/tmp/x'", "holds something innokeda's MySQL parser cannot read, such as a number of more than 81 digits: simplify it"},
		{"SELECT LASTVAL(s)", notListed("LASTVAL")},
		{"SELECT testdb.nextval()", qualified("testdb.nextval")},
		// MariaDB reaches its built-ins through these schemas: allow by list refuses them all.
		{"SELECT mariadb_schema.get_lock('x', 0)", qualified("mariadb_schema.get_lock")},
		{"SELECT `oracle_schema`.load_file('/etc/passwd')", qualified("oracle_schema.load_file")},
		{"SELECT maxdb_schema . sleep(1)", qualified("maxdb_schema.sleep")},
		{"SELECT mariadb_schema.concat('a', 'b')", qualified("mariadb_schema.concat")},
		{"SELECT COUNT(*) FROM t WHERE a = oracle_schema.get_lock('x', 0)", qualified("oracle_schema.get_lock")},
		{"SELECT SLEEP(1)", "calls SLEEP, which waits: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it"},
		{"SELECT group_replication_set_as_primary('x')", notListed("GROUP_REPLICATION_SET_AS_PRIMARY")},
		{"SELECT service_get_write_locks('ns', 'x', 0)", notListed("SERVICE_GET_WRITE_LOCKS")},
		{"SELECT USER()", notListed("USER")},
		{"SELECT some_udf(1)", notListed("SOME_UDF")},
		{"SELECT @a", "reads or sets a variable (@name or @@name): a scaler's query computes its number from tables and literals only; remove it"},
		{"SELECT @@hostname", "reads or sets a variable (@name or @@name): a scaler's query computes its number from tables and literals only; remove it"},
		{"SELECT @a := 1", "reads or sets a variable (@name or @@name): a scaler's query computes its number from tables and literals only; remove it"},
		{"SELECT ROW_NUMBER() OVER () FROM t", "uses WindowFunc, which is not one of the constructs innokeda admits in a scaler's query (a SELECT of columns, literals, operators, subqueries and the functions the README lists): remove it"},
		{"SELECT GROUP_CONCAT(a) FROM t", "calls the aggregate GROUP_CONCAT, which is not one innokeda admits: use COUNT, SUM, AVG, MIN or MAX"},
		{"SELECT ?", "holds a ? placeholder, which KEDA never binds: write the value into the query"},
		{"SELECT COALESCE(SUM(a), 0), IFNULL(MAX(b), 0), IF(a > 1, 1, 0), CASE WHEN a THEN 1 ELSE 2 END, CEIL(AVG(c) / 3) FROM t JOIN u ON t.a = u.b LEFT JOIN v USING (c) GROUP BY a HAVING COUNT(*) > 1 ORDER BY 1 LIMIT 1", ""},
		{"SELECT CAST(a AS SIGNED), CONVERT(a, CHAR), CONVERT(a USING utf8mb4), TIMESTAMPDIFF(SECOND, a, NOW()), DATE_SUB(NOW(), INTERVAL 1 DAY), EXTRACT(DAY FROM NOW()), TRIM(LEADING 'x' FROM a), SUBSTRING(a FROM 1 FOR 2), CHAR(92), LENGTH(LOWER(a)), UNIX_TIMESTAMP() FROM t", ""},
		{"SELECT EXISTS (SELECT 1), (SELECT 1), a = ANY (SELECT 1), -a, NOT a, a DIV 2, a % 2, (1, 2) = (1, 2), a COLLATE utf8mb4_bin, a IS NOT NULL, a IS TRUE, a BETWEEN 1 AND 2, a LIKE 'x%', a IN (1, 2) FROM (SELECT 1 AS a) AS d", ""},
		{"SELECT CAST(1 AS BINARY(16000000))", "casts to a type of 16000000 bytes: innokeda reads values of at most 65536 bytes; a scaler's query returns a number"},
		{"SELECT CONVERT(a, CHAR(65537)) FROM t", "casts to a type of 65537 bytes: innokeda reads values of at most 65536 bytes; a scaler's query returns a number"},
		{"SELECT CAST(a AS CHAR(65536)), CAST(a AS DECIMAL(10, 2)) FROM t", ""},
		{"SELECT (SELECT a FROM t FOR UPDATE)", "takes row locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE): remove the locking clause; a scaler's query must not block the database"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			err := CheckQuery(tc.query)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckQuery(%q) = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
	// INTO @variable and INTO DUMPFILE are not in TiDB's grammar: refused as unparseable,
	// which is as safe.
	for _, q := range []string{"SELECT 1 INTO @x", "SELECT a FROM t INTO DUMPFILE '/tmp/x'"} {
		if err := CheckQuery(q); err == nil {
			t.Errorf("%q accepted", q)
		}
	}
}

func qualified(name string) string {
	return "calls " + name + ": a schema-qualified function is a stored function or, on MariaDB, a built-in by another name; call only the built-in functions innokeda lists, without a schema"
}

func notListed(name string) string {
	return "calls " + name + ", which is not one of the built-in functions innokeda admits in a scaler's query (arithmetic, rounding, COALESCE, IFNULL, IF, date and time, string length and case, CAST and CONVERT; the README lists them): remove it"
}

// The messages of checkText, for the table below.
const (
	executable = "contains an executable comment (%s ... */): MySQL and MariaDB run or obey what such a comment holds, and KEDA would execute it on every poll: remove it"
	comment    = "contains a comment (%s at offset %d): remove it; innokeda admits only queries that MySQL and its own parser read the same way, and comments are where they differ (write - - for a double minus)"
	backslash  = "contains a backslash (at offset %d), which MySQL reads as an escape or not depending on sql_mode NO_BACKSLASH_ESCAPES: write the text without it (CHAR(92) is a backslash; a quote is escaped by doubling it)"
	byteAt     = "contains the byte 0x%02x (at offset %d): only printable ASCII, tabs and line breaks are admitted, so that every MySQL character set reads the query alike; write other characters as a hex literal, e.g. _utf8mb4 X'C3A9' for é"
)

// TestCheckQueryRefusesWhatServersReadDifferently is written as an attacker would: each
// query hides a write or an exfiltration from one reader of the text and not the other.
func TestCheckQueryRefusesWhatServersReadDifferently(t *testing.T) {
	tests := []struct {
		name, query, want string
	}{
		// Executable comments: MySQL and MariaDB run /*!...*/ (unless the version is above
		// theirs), MariaDB runs /*M!...*/, MySQL obeys /*+ ... */ hints.
		{"a version comment above the server's hides a quote", "/*!99999 SELECT '*/ DROP TABLE testdb.victim1 -- '*/", fmt.Sprintf(executable, "/*!")},
		{"MariaDB's executable comment", "/*M! GRANT ALL ON *.* TO evil@'%' IDENTIFIED BY '*/ SELECT 1 /*M!' WITH GRANT OPTION */", fmt.Sprintf(executable, "/*M!")},
		{"MariaDB's executable comment in lower case", "SELECT 1 /*m!100000 , (SELECT 2) */", fmt.Sprintf(executable, "/*m!")},
		{"a versionless executable comment", "SELECT 1 /*! INTO OUTFILE '/tmp/x' */", fmt.Sprintf(executable, "/*!")},
		{"an optimizer hint", "SELECT /*+ SET_VAR(sql_mode='NO_BACKSLASH_ESCAPES') */ 1", fmt.Sprintf(executable, "/*+")},
		{"a hint lifting the time limit", "SELECT /*+ MAX_EXECUTION_TIME(0) */ SLEEP(100)", fmt.Sprintf(executable, "/*+")},
		{"an executable comment inside a string is refused too", "SELECT '/*!50000 x */'", fmt.Sprintf(executable, "/*!")},
		// Plain comments: the boundaries of a comment are where lexers differ.
		{"a block comment", "SELECT 1 /* harmless? */", fmt.Sprintf(comment, "/*", 9)},
		{"a block comment with a space before the bang", "SELECT 1 /* !50000 x */", fmt.Sprintf(comment, "/*", 9)},
		{"a dash comment", "SELECT 1 -- DROP TABLE t", fmt.Sprintf(comment, "--", 9)},
		{"a dash comment without a space", "SELECT 1 --1", fmt.Sprintf(comment, "--", 9)},
		{"a dash comment ended by a carriage return", "SELECT 1 -- x\r, (SELECT 2)", fmt.Sprintf(comment, "--", 9)},
		{"a hash comment", "SELECT 1 # x\n FROM t", fmt.Sprintf(comment, "#", 9)},
		{"an unclosed comment", "SELECT 1 /*", fmt.Sprintf(comment, "/*", 9)},
		// Strings whose end depends on sql_mode.
		{"a backslash that only escapes without NO_BACKSLASH_ESCAPES", `SELECT 'x\' INTO OUTFILE "/tmp/f" -- '`, fmt.Sprintf(backslash, 9)},
		{"a backslash in a double-quoted text", `SELECT "a\" FROM t`, fmt.Sprintf(backslash, 9)},
		{"a backslash-N outside quotes", `SELECT \N`, fmt.Sprintf(backslash, 7)},
		{"a backslash in an identifier", "SELECT `a\\` FROM t", fmt.Sprintf(backslash, 9)},
		// Bytes character sets read differently: GBK, SJIS and Big5 take 0xbf 0x27 as one
		// character, swallowing the quote; NUL ends C strings; non-ASCII space is not space
		// to every lexer.
		{"a multi-byte lead byte before a quote", "SELECT '\xbf' INTO OUTFILE '/tmp/x' -- '", fmt.Sprintf(byteAt, 0xbf, 8)},
		{"valid UTF-8 in a string", "SELECT COUNT(*) FROM t WHERE name = 'é'", fmt.Sprintf(byteAt, 0xc3, 37)},
		{"a NUL byte", "SELECT 1\x00; DROP TABLE t", fmt.Sprintf(byteAt, 0, 8)},
		{"a no-break space", "SELECT\u00a01", fmt.Sprintf(byteAt, 0xc2, 6)},
		{"a vertical tab", "SELECT\v1", fmt.Sprintf(byteAt, 0x0b, 6)},
		{"DEL", "SELECT 1\x7f", fmt.Sprintf(byteAt, 0x7f, 8)},
		{"an unclosed string", "SELECT 'x", "has a quoted text that is never closed ('): close it"},
		{"an unclosed identifier", "SELECT `x", "has a quoted text that is never closed (`): close it"},
		// What is admitted: quotes escaped by doubling, comment-like text inside quotes.
		{"a doubled quote", "SELECT COUNT(*) FROM t WHERE a = 'it''s -- fine'", ""},
		{"a hash and dashes inside a string", "SELECT COUNT(*) FROM t WHERE a = '#1 -- /* x */'", ""},
		{"a double-quoted string, an identifier under ANSI_QUOTES", `SELECT COUNT(*) FROM t WHERE a = "none"`, ""},
		{"double minus with a space", "SELECT 1 - -1", ""},
		{"tabs and line breaks", "SELECT\tCOUNT(*)\r\nFROM t", ""},
		{"a hex literal for non-ASCII text", "SELECT COUNT(*) FROM t WHERE name = _utf8mb4 X'C3A9'", ""},
		// A double-quoted text is read twice, as a string and as an identifier: each
		// reading must be a read-only SELECT.
		{"ANSI_QUOTES makes it a SELECT ... INTO? no: both readings parse", `SELECT "x" FROM t`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := CheckQuery(tc.query); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckQuery(%q)\n got %q\nwant %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestCheckQueryInMode(t *testing.T) {
	const query = "SELECT COUNT(*) FROM t WHERE a = 'none'"
	tests := []struct {
		name, mode, want string
	}{
		{"MariaDB 10.11's default", "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION", ""},
		{"MySQL 8's default", "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION", ""},
		{"empty", "", ""},
		{"the lexical flags innokeda models", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,IGNORE_SPACE,HIGH_NOT_PRECEDENCE", ""},
		{"ANSI, as MariaDB lists it", "REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ONLY_FULL_GROUP_BY,ANSI", ""},
		{"quoted, as a DSN may give it", "'NO_BACKSLASH_ESCAPES'", ""},
		{"MariaDB's Oracle grammar", "PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE,NO_KEY_OPTIONS,NO_TABLE_OPTIONS,NO_FIELD_OPTIONS,NO_AUTO_CREATE_USER,SIMULTANEOUS_ASSIGNMENT",
			"cannot be checked for this server: its sql_mode has ORACLE, which changes how MySQL reads SQL in ways innokeda does not model: use a session without it"},
		{"MSSQL", "MSSQL", "cannot be checked for this server: its sql_mode has MSSQL, which changes how MySQL reads SQL in ways innokeda does not model: use a session without it"},
		{"a flag from the future", "STRICT_TRANS_TABLES,SOMETHING_NEW", "cannot be checked for this server: its sql_mode has SOMETHING_NEW, which changes how MySQL reads SQL in ways innokeda does not model: use a session without it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := CheckQueryInMode(query, tc.mode); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckQueryInMode(%q)\n got %q\nwant %q", tc.mode, got, tc.want)
			}
		})
	}
	// The server's mode is applied: under ANSI_QUOTES "x" is a column, and a query that is
	// only valid as a string is read as the server would.
	if err := CheckQueryInMode(`SELECT "a" || "b"`, "ANSI_QUOTES,PIPES_AS_CONCAT"); err != nil {
		t.Errorf("a query valid in both readings refused: %v", err)
	}
}

// attacks seed FuzzCheckQuery: every class the guard must refuse, in several forms.
var attacks = []string{
	"SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'",
	"SELECT 1; DROP TABLE t", "SELECT * FROM t INTO OUTFILE '/x'", "SELECT a FROM t FOR UPDATE",
	"WITH c AS (SELECT 1) SELECT * FROM c", "(SELECT 1) UNION (SELECT 2 FOR UPDATE)", "/*!50000 DROP TABLE t */",
	"/*!99999 SELECT '*/ DROP TABLE testdb.victim1 -- '*/",
	"/*M! GRANT ALL ON *.* TO evil@'%' IDENTIFIED BY '*/ SELECT 1 /*M!' WITH GRANT OPTION */",
	"SELECT /*+ MAX_EXECUTION_TIME(0) */ SLEEP(100)", "SELECT 1 /*m!100000 , 2 */",
	`SELECT 'x\' INTO OUTFILE "/tmp/f" -- '`, `SELECT "x\" INTO OUTFILE '/tmp/f' -- "`,
	"SELECT '\xbf' INTO OUTFILE '/tmp/x' -- '", "SELECT 1 -- x\r, 2", "SELECT 1 # x\n, 2", "SELECT 1 /* */ , 2",
	"SELECT 'it''s'", "SELECT `a``b` FROM t", `SELECT "a""b"`, "SELECT '\x00'", "SELECT `a`;;", "",
	"0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
}

// FuzzCheckQuery: whatever a ScaledObject's query holds, the check returns (no panic), and
// what it accepts is a single read-only statement in text that no server reads otherwise:
// no executable comment form anywhere, no comment, no backslash, only printable ASCII, and
// quotes balanced by the one rule every sql_mode shares.
func FuzzCheckQuery(f *testing.F) {
	for _, seed := range attacks {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if CheckQuery(query) != nil {
			return
		}
		for _, opener := range []string{"/*!", "/*M!", "/*m!", "/*+", "\\"} {
			if strings.Contains(query, opener) {
				t.Fatalf("accepted %q, which contains %q", query, opener)
			}
		}
		for i := 0; i < len(query); i++ {
			if c := query[i]; c >= 0x7f || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				t.Fatalf("accepted %q, which holds the byte 0x%02x", query, c)
			}
		}
		if outside := unquoted(query); strings.Contains(outside, "/*") || strings.Contains(outside, "--") || strings.Contains(outside, "#") {
			t.Fatalf("accepted %q, which holds a comment outside quotes (%q)", query, outside)
		}
		for _, mode := range []tidbmysql.SQLMode{0, tidbmysql.ModeANSIQuotes, tidbmysql.ModeNoBackslashEscapes, tidbmysql.ModeANSIQuotes | tidbmysql.ModeNoBackslashEscapes} {
			p := parser.New()
			p.SetSQLMode(mode)
			stmts, _, err := p.ParseSQL(query)
			if err != nil || len(stmts) != 1 {
				t.Fatalf("accepted %q, which in sql_mode %v parses to %d statements (%v)", query, mode, len(stmts), err)
			}
		}
	})
}

// unquoted is query with every quoted text removed, by the doubling rule.
func unquoted(query string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote == 0 && (c == '\'' || c == '"' || c == '`'):
			quote = c
		case quote == 0:
			b.WriteByte(c)
		case c == quote && i+1 < len(query) && query[i+1] == quote:
			i++
		case c == quote:
			quote = 0
		}
	}
	return b.String()
}

func TestCheckQueryBoundsTheText(t *testing.T) {
	long := "SELECT COUNT(*) FROM t WHERE " + strings.Repeat("(", MaxQueryLength) + "1" + strings.Repeat(")", MaxQueryLength)
	err := CheckQuery(long)
	if err == nil || !strings.Contains(err.Error(), "innokeda reads queries of at most 16384 bytes") {
		t.Errorf("CheckQuery of %d bytes: %v", len(long), err)
	}
	if err := CheckQuery("SELECT COUNT(*) FROM t WHERE " + strings.Repeat("1 AND ", 2000) + "1"); err != nil {
		t.Errorf("a long query under the bound: %v", err)
	}
}
