package dryrun

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
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
		{"SELECT testdb.sneaky()", ""}, // parses; the read-only transaction stops its writes
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

// FuzzCheckQuery: whatever a ScaledObject's query holds, the check returns (no panic),
// and what it accepts is a single statement.
func FuzzCheckQuery(f *testing.F) {
	for _, seed := range []string{
		"SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'",
		"SELECT 1; DROP TABLE t", "SELECT * FROM t INTO OUTFILE '/x'", "SELECT a FROM t FOR UPDATE",
		"WITH c AS (SELECT 1) SELECT * FROM c", "(SELECT 1) UNION (SELECT 2 FOR UPDATE)", "/*!50000 DROP TABLE t */",
		"SELECT '\x00'", "SELECT `a`;;", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if CheckQuery(query) != nil {
			return
		}
		p := parser.New()
		stmts, _, err := p.ParseSQL(query)
		if err != nil || len(stmts) != 1 {
			t.Fatalf("accepted %q, which parses to %d statements (%v)", query, len(stmts), err)
		}
	})
}
