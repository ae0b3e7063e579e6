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
	if _, err := parserMode(sqlMode); err != nil {
		return err
	}
	if err := CheckQuery(query); err != nil {
		return err
	}
	return checkInServerMode(query, sqlMode)
}

// checkInServerMode is CheckQueryInMode for a query that has passed CheckQuery: one parse,
// in the server's mode.
func checkInServerMode(query, sqlMode string) error {
	mode, err := parserMode(sqlMode)
	if err != nil {
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

// readOnlyVisitor admits a tree only if every node in it is of a kind on the list below
// (allow by list: a construct innokeda does not know is refused, never let through), every
// function is a built-in on allowedFunctions, called without a schema, and no SELECT
// writes its result or takes locks.
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
		v.err = checkFunction(n.Schema.O, n.FnName.O, n.FnName.L)
	case *ast.AggregateFuncExpr:
		if !allowedAggregates[strings.ToLower(n.F)] {
			v.err = fmt.Errorf("calls the aggregate %s, which is not one innokeda admits: use COUNT, SUM, AVG, MIN or MAX", strings.ToUpper(n.F))
		}
	case ast.ParamMarkerExpr:
		v.err = errors.New("holds a ? placeholder, which KEDA never binds: write the value into the query")
	case *ast.FuncCastExpr:
		// CAST(1 AS BINARY(16000000)) makes a 16 MB value from nothing: the driver
		// allocates a row's announced length before reading it.
		if n.Tp != nil && n.Tp.GetFlen() > MaxValueBytes {
			v.err = fmt.Errorf("casts to a type of %d bytes: innokeda reads values of at most %d bytes; a scaler's query returns a number", n.Tp.GetFlen(), MaxValueBytes)
		}
	case ast.ValueExpr,
		*ast.SetOprStmt, *ast.SetOprSelectList, *ast.WithClause, *ast.CommonTableExpression,
		*ast.FieldList, *ast.SelectField, *ast.TableRefsClause, *ast.Join, *ast.TableSource,
		*ast.TableName, *ast.OnCondition, *ast.GroupByClause, *ast.HavingClause,
		*ast.OrderByClause, *ast.ByItem, *ast.Limit,
		*ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr,
		*ast.PatternInExpr, *ast.PatternLikeOrIlikeExpr, *ast.PatternRegexpExpr,
		*ast.BinaryOperationExpr, *ast.UnaryOperationExpr, *ast.ParenthesesExpr,
		*ast.ColumnNameExpr, *ast.ColumnName, *ast.CaseExpr, *ast.WhenClause,
		*ast.BetweenExpr, *ast.IsNullExpr, *ast.IsTruthExpr, *ast.RowExpr,
		*ast.TimeUnitExpr, *ast.TrimDirectionExpr, *ast.PositionExpr, *ast.SetCollationExpr:
	case *ast.VariableExpr:
		v.err = errors.New("reads or sets a variable (@name or @@name): a scaler's query computes its number from tables and literals only; remove it")
	default:
		v.err = fmt.Errorf("uses %s, which is not one of the constructs innokeda admits in a scaler's query (a SELECT of columns, literals, operators, subqueries and the functions the README lists): remove it", nodeKind(n))
	}
	return n, v.err != nil
}

// checkFunction admits a call of a built-in function on allowedFunctions, written without
// a schema. A schema-qualified name is a stored function, whose body innokeda cannot see,
// or, on MariaDB, a built-in reached by another name (mariadb_schema.GET_LOCK,
// oracle_schema.LOAD_FILE run the built-ins): neither is admitted.
func checkFunction(schema, name, lower string) error {
	if schema != "" {
		return fmt.Errorf("calls %s.%s: a schema-qualified function is a stored function or, on MariaDB, a built-in by another name; call only the built-in functions innokeda lists, without a schema", schema, name)
	}
	if allowedFunctions[lower] {
		return nil
	}
	if why, ok := statefulFunctions[lower]; ok {
		return fmt.Errorf("calls %s, which %s: KEDA runs its query outside any transaction, on every poll, so it would do that each time: remove it", strings.ToUpper(name), why)
	}
	return fmt.Errorf("calls %s, which is not one of the built-in functions innokeda admits in a scaler's query (arithmetic, rounding, COALESCE, IFNULL, IF, date and time, string length and case, CAST and CONVERT; the README lists them): remove it", strings.ToUpper(name))
}

// allowedFunctions are the built-in functions a query may call, by the lower-case name
// TiDB's parser gives them. Each computes its value from its arguments (and the clock)
// alone: none reads a file, a variable, the session or the server's state, takes a lock,
// waits or writes, so running one as any account, root included, shows nothing more than
// the tables the query reads. A new entry must keep that true.
var allowedFunctions = setOf(
	// arithmetic and rounding
	"abs", "ceil", "ceiling", "floor", "round", "truncate", "mod", "sign", "greatest", "least",
	"pow", "power", "sqrt", "exp", "ln", "log", "log2", "log10",
	// conditions and NULLs
	"coalesce", "ifnull", "if", "nullif", "isnull",
	// date and time
	"now", "current_timestamp", "localtime", "localtimestamp", "utc_timestamp", "utc_date", "utc_time",
	"curdate", "current_date", "curtime", "current_time", "unix_timestamp", "from_unixtime",
	"date", "time", "date_sub", "date_add", "subdate", "adddate", "timestampdiff", "timestampadd",
	"datediff", "timediff", "time_to_sec", "sec_to_time", "to_days", "to_seconds", "extract",
	"year", "month", "day", "dayofmonth", "hour", "minute", "second", "week", "weekday",
	"dayofweek", "dayofyear", "last_day",
	// strings: length, case and pieces
	"length", "char_length", "character_length", "octet_length", "lower", "upper", "lcase", "ucase",
	"concat", "concat_ws", "substring", "substr", "left", "right", "trim", "ltrim", "rtrim",
	"char_func", // CHAR(92)
	// CONVERT(expr USING charset); CAST and CONVERT(expr, type) are FuncCastExpr nodes
	"convert",
)

// allowedAggregates are the aggregate functions a query may use.
var allowedAggregates = setOf("count", "sum", "avg", "min", "max")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// statefulFunctions explain, for the built-ins people most often try, why they are not
// on allowedFunctions. They decide nothing: a function missing from allowedFunctions is
// refused whether or not it is here.
var statefulFunctions = map[string]string{
	"nextval":                           "advances a sequence",
	"setval":                            "sets a sequence",
	"get_lock":                          "takes a named lock that KEDA's pooled connection would keep",
	"release_lock":                      "releases a named lock",
	"release_all_locks":                 "releases named locks",
	"is_free_lock":                      "probes named locks",
	"is_used_lock":                      "probes named locks",
	"load_file":                         "reads a file of the database server",
	"sleep":                             "waits",
	"benchmark":                         "burns the server's CPU",
	"master_pos_wait":                   "waits for replication",
	"source_pos_wait":                   "waits for replication",
	"master_gtid_wait":                  "waits for replication",
	"wait_for_executed_gtid_set":        "waits for replication",
	"wait_until_sql_thread_after_gtids": "waits for replication",
}

func (v *readOnlyVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// nodeKind names a node for a message: *ast.WindowFuncExpr is "WindowFunc".
func nodeKind(n ast.Node) string {
	t := reflect.TypeOf(n)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSuffix(t.Name(), "Expr")
}

// statementKind names a statement for a message: *ast.DropTableStmt is "DropTable".
func statementKind(stmt ast.StmtNode) string {
	return strings.TrimSuffix(reflect.TypeOf(stmt).Elem().Name(), "Stmt")
}
