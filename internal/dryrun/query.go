// Package dryrun runs a KEDA mysql trigger's query against MySQL the way KEDA will, before
// the ScaledObject is admitted, and safely: only a single read-only SELECT (checked by a
// MySQL grammar parser, on text every MySQL and MariaDB lexer reads the same way) is ever
// sent, only to servers of the target InnoDBCluster, inside a read-only transaction that is
// rolled back, with server-side and client-side time limits and a bound on what is read.
package dryrun

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	tidbmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the value expressions the parser builds
)

// parsers pools TiDB's MySQL parser, which is not safe for concurrent use.
var parsers = sync.Pool{New: func() any { return parser.New() }}

// CheckQuery returns an error, phrased as the fix, unless query is exactly one SELECT
// (UNIONs and WITH included) that neither writes its result anywhere nor takes locks, in
// text that every MySQL and MariaDB server reads as the parser does (see checkText).
// Anything else is refused without connecting to MySQL.
func CheckQuery(query string) error {
	if strings.TrimSpace(query) == "" {
		return errors.New("is empty: give one SELECT statement that returns a single number")
	}
	if len(query) > MaxQueryLength {
		return fmt.Errorf("is %d bytes long: innokeda reads queries of at most %d bytes (a scaler's query is one SELECT that returns a number)", len(query), MaxQueryLength)
	}
	if err := checkText(query); err != nil {
		return err
	}
	// The text's boundaries are the same in every sql_mode; what a double-quoted text is
	// is not (a string, or an identifier under ANSI_QUOTES). Both readings must be safe.
	for _, mode := range []tidbmysql.SQLMode{0, tidbmysql.ModeANSIQuotes} {
		if err := checkGrammar(query, mode); err != nil {
			return err
		}
	}
	return nil
}

// MaxQueryLength bounds the text every parse of a query works on: the grammar parser's
// time and memory grow faster than the text (a megabyte of nested parentheses takes
// hundreds of MiB), and every admission pays for them.
const MaxQueryLength = 16 << 10

// CheckQueryInMode is CheckQuery for a server whose session runs in sqlMode (the value of
// @@sql_mode): it refuses modes whose grammar innokeda does not model, then parses the
// query as that server will.
func CheckQueryInMode(query, sqlMode string) error {
	mode, err := parserMode(sqlMode)
	if err != nil {
		return err
	}
	if err := CheckQuery(query); err != nil {
		return err
	}
	return checkGrammar(query, mode)
}

// ErrUnreadable is a query on which the parser itself failed: its value driver panics on
// some literals it cannot represent (a decimal of more than 81 digits, found by fuzzing).
// Such a query is refused, never admitted unread: the webhook's failure policy would
// otherwise let it through, and the controller would crash on it.
var ErrUnreadable = errors.New("holds something innokeda's MySQL parser cannot read, such as a number of more than 81 digits: simplify it")

// Parse parses query with the lexical and grammar rules of mode and hands the statements
// to use while the parser is held: TiDB's parser reuses its memory, so the tree is valid
// only until the parser parses again. A panic of the parser is ErrUnreadable.
func Parse(query string, mode tidbmysql.SQLMode, use func([]ast.StmtNode) error) (err error) {
	p := parsers.Get().(*parser.Parser)
	defer func() {
		if recover() != nil {
			err = ErrUnreadable // and the parser, in whatever state it was left, is dropped
			return
		}
		parsers.Put(p)
	}()
	p.SetSQLMode(mode)
	stmts, _, err := p.ParseSQL(query)
	if err != nil {
		return err
	}
	return use(stmts)
}

// checkGrammar parses query with the lexical and grammar rules of mode.
func checkGrammar(query string, mode tidbmysql.SQLMode) error {
	var checked error
	err := Parse(query, mode, func(stmts []ast.StmtNode) error {
		checked = checkStatements(stmts)
		return nil
	})
	switch {
	case errors.Is(err, ErrUnreadable):
		return err
	case err != nil:
		return fmt.Errorf("is not a SELECT statement MySQL's grammar accepts (%v): give one SELECT statement that returns a single number", err)
	}
	return checked
}

// checkStatements refuses anything but one read-only SELECT.
func checkStatements(stmts []ast.StmtNode) error {
	if len(stmts) != 1 {
		return fmt.Errorf("holds %d statements: give exactly one SELECT statement, without a semicolon between statements", len(stmts))
	}
	switch stmts[0].(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
	default:
		return fmt.Errorf("is not a SELECT (statement kind: %s): the query may only read; KEDA runs it on every poll", statementKind(stmts[0]))
	}
	v := &readOnlyVisitor{}
	stmts[0].Accept(v)
	return v.err
}

// readOnlyVisitor looks through every SELECT in the tree, subqueries included, and every
// function call.
type readOnlyVisitor struct{ err error }

func (v *readOnlyVisitor) Enter(n ast.Node) (ast.Node, bool) {
	if v.err != nil {
		return n, true
	}
	switch n := n.(type) {
	case *ast.SelectStmt:
		switch {
		case n.SelectIntoOpt != nil:
			v.err = errors.New("writes its result with INTO (OUTFILE, DUMPFILE or a variable): remove the INTO clause")
		case n.LockInfo != nil && n.LockInfo.LockType != ast.SelectLockNone:
			v.err = errors.New("takes row locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE): remove the locking clause; a scaler's query must not block the database")
		}
	case *ast.FuncCallExpr:
		if why, ok := statefulFunctions[n.FnName.L]; ok && n.Schema.L == "" {
			v.err = fmt.Errorf("calls %s, which %s: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it",
				strings.ToUpper(n.FnName.O), why)
		}
	}
	return n, v.err != nil
}

// statefulFunctions are the built-in functions a SELECT may call that change the server's
// state or reach outside the database. The dry-run's read-only transaction stops the
// sequence writes, but KEDA polls with no transaction; a named lock taken on KEDA's pooled
// connection stays held; LOAD_FILE reads the server's files with the account's FILE right.
var statefulFunctions = map[string]string{
	"nextval":                           "advances a sequence",
	"setval":                            "sets a sequence",
	"get_lock":                          "takes a named lock that KEDA's pooled connection would keep",
	"release_lock":                      "releases a named lock",
	"release_all_locks":                 "releases named locks",
	"load_file":                         "reads a file of the database server",
	"master_pos_wait":                   "waits for replication",
	"source_pos_wait":                   "waits for replication",
	"master_gtid_wait":                  "waits for replication",
	"wait_for_executed_gtid_set":        "waits for replication",
	"wait_until_sql_thread_after_gtids": "waits for replication",
}

func (v *readOnlyVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// statementKind names a statement for a message: *ast.DropTableStmt is "DropTable".
func statementKind(stmt ast.StmtNode) string {
	return strings.TrimSuffix(reflect.TypeOf(stmt).Elem().Name(), "Stmt")
}
