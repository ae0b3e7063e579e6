// Package sqltables lists the tables a KEDA mysql trigger's query reads, so that the
// scaler's MySQL account can be granted SELECT on exactly those tables and nothing else,
// and quotes their names for the GRANT statement.
//
// Only queries the dry-run guard admits (dryrun.CheckQuery) are looked at: one SELECT, in
// printable ASCII, without comments or backslashes. The query is parsed with the same
// MySQL grammar parser the guard uses, under every sql_mode that changes how an
// identifier is read, and the tables found under each reading are put together, so the
// list holds every table the server may read whatever its sql_mode.
package sqltables

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	tidbmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the value expressions the parser builds

	"github.com/innokeda/innokeda/internal/dryrun"
)

// Table is a schema-qualified table (or view, or sequence) name, as written in the query.
// MySQL compares schema and table names byte for byte on Linux (lower_case_table_names=0,
// its default there), so the case is kept: `App`.`Orders` and `app`.`orders` are two tables.
type Table struct{ Schema, Name string }

// String writes t for a message: schema.name, each part backtick-quoted when it is not a
// plain identifier.
func (t Table) String() string { return display(t.Schema) + "." + display(t.Name) }

// modes are the sql_modes under which the query is read. ANSI_QUOTES turns "..." into an
// identifier and IGNORE_SPACE turns function names into reserved words; the other modes
// innokeda admits (see dryrun) change only what an expression computes, never which names
// are tables. dryrun.CheckQuery has parsed the query under the first two.
var modes = []tidbmysql.SQLMode{
	0,
	tidbmysql.ModeANSIQuotes,
	tidbmysql.ModeIgnoreSpace,
	tidbmysql.ModeANSIQuotes | tidbmysql.ModeIgnoreSpace,
}

// Read returns the tables query reads, sorted by schema then name and without
// duplicates, so that the scaler's account can be granted SELECT on exactly those. A name
// without a schema belongs to defaultSchema (the trigger's dbName, the connection's
// default database); if defaultSchema is empty, such a name is an error. Tables of
// information_schema are left out: every account may read them. Tables of the schemas no
// scaler may read (see Refused) are returned: the caller refuses them with Refused's
// reason.
//
// A name a WITH clause defines is a common table expression, not a table, wherever that
// WITH clause is in scope, as MySQL resolves it: in its statement (every UNION arm, every
// subquery and derived table of it), in the CTE bodies after the one defining it, and, under
// WITH RECURSIVE, in its own body. A schema-qualified name is always a table.
// CTE names are compared byte for byte, as MySQL does under lower_case_table_names=0; on a
// server that ignores case, a reference that differs from its CTE only in case is listed as
// a table too, one grant more than needed, never one fewer.
//
// The error, if any, is phrased as the fix and reads after the word "query", as
// dryrun.CheckQuery's do (whose error Read returns for a query the guard refuses).
func Read(query, defaultSchema string) ([]Table, error) {
	r, err := ReadAll(query, defaultSchema)
	return r.Tables, err
}

// Reads are the tables a query reads: those that need a grant, and those of
// information_schema, which every account may read but whose rows depend on the
// account's privileges (PROCESSLIST shows only the account's own sessions without
// PROCESS, TABLES only the tables it may see).
type Reads struct {
	Tables []Table
	// InformationSchema are the information_schema tables read, in upper case, sorted.
	InformationSchema []string
	// Functions are the functions the query calls by name, in lower case, sorted;
	// schema.name for a schema-qualified (stored) one. Aggregate and window functions,
	// operators and CAST are not listed.
	Functions []string
	// NullableAggregate names the aggregate (SUM, AVG, MIN, MAX) that makes the value the
	// query returns NULL when it aggregates no row, or is "" (see nullableAggregate).
	NullableAggregate string
}

// ReadAll is Read, with the information_schema tables the query reads.
func ReadAll(query, defaultSchema string) (Reads, error) {
	if err := dryrun.CheckQuery(query); err != nil {
		return Reads{}, err
	}
	return readChecked(query, defaultSchema)
}

// readChecked is ReadAll for a query that has passed dryrun.CheckQuery.
func readChecked(query, defaultSchema string) (Reads, error) {
	found := map[Table]bool{}
	informationSchema, functions := map[string]bool{}, map[string]bool{}
	nullable := ""
	for i, mode := range modes {
		w := &walker{defaultSchema: defaultSchema, found: found, informationSchema: informationSchema, functions: functions}
		if i == 0 {
			w.inspect = func(stmts []ast.StmtNode) { nullable = nullableAggregate(stmts) }
		}
		if err := w.walk(query, mode); err != nil {
			if i < 2 { // cannot happen: CheckQuery parsed it under these modes
				return Reads{}, fmt.Errorf("is not a SELECT statement MySQL's grammar accepts (%v): give one SELECT statement that returns a single number", err)
			}
			// A server in this sql_mode refuses the query: it reads nothing.
		}
		if w.err != nil {
			return Reads{}, w.err
		}
	}
	tables := make([]Table, 0, len(found))
	for t := range found {
		tables = append(tables, t)
	}
	slices.SortFunc(tables, func(a, b Table) int {
		return cmp.Or(strings.Compare(a.Schema, b.Schema), strings.Compare(a.Name, b.Name))
	})
	var information []string
	for t := range informationSchema {
		information = append(information, t)
	}
	slices.Sort(information)
	var called []string
	for f := range functions {
		called = append(called, f)
	}
	slices.Sort(called)
	return Reads{Tables: tables, InformationSchema: information, Functions: called, NullableAggregate: nullable}, nil
}

// OnlySchema returns the schema of every table query reads, when all are qualified with
// the same one, or "". It parses once, in the default sql_mode: it names a default for
// dbName (the name KEDA gives the metric), and decides nothing about safety or grants.
func OnlySchema(query string) string {
	if len(query) > dryrun.MaxQueryLength {
		return ""
	}
	w := &walker{found: map[Table]bool{}, informationSchema: map[string]bool{}, functions: map[string]bool{}, defaultSchema: "\x00"}
	if err := w.walk(query, 0); err != nil || w.err != nil {
		return ""
	}
	schema := ""
	for t := range w.found {
		switch {
		case t.Schema == "\x00": // unqualified
			return ""
		case schema == "":
			schema = t.Schema
		case t.Schema != schema:
			return ""
		}
	}
	return schema
}

// walk parses query under mode and walks the statements, returning the parser's error.
// The parser reuses its memory for the next parse, so the tree is walked before the parser
// goes back to the pool.
func (w *walker) walk(query string, mode tidbmysql.SQLMode) error {
	return dryrun.Parse(query, mode, func(stmts []ast.StmtNode) error {
		if w.inspect != nil {
			w.inspect(stmts)
		}
		for _, stmt := range stmts {
			if stmt.Accept(w); w.err != nil {
				break
			}
		}
		return nil
	})
}

// walker collects the tables of one parse tree. frames holds, innermost last, the CTE
// names each enclosing WITH clause makes visible at the point being walked.
type walker struct {
	defaultSchema     string
	found             map[Table]bool
	informationSchema map[string]bool
	functions         map[string]bool
	frames            []frame
	err               error
	// inspect, when set, sees the tree before it is walked.
	inspect func([]ast.StmtNode)
}

type frame struct {
	owner   ast.Node        // the statement the WITH clause belongs to; leaving it closes the frame
	with    *ast.WithClause // the clause
	visible []string        // the CTE names visible now
}

func (w *walker) Enter(n ast.Node) (ast.Node, bool) {
	if w.err != nil {
		return n, true
	}
	switch n := n.(type) {
	case *ast.SelectStmt:
		w.open(n, n.With)
	case *ast.SetOprStmt:
		w.open(n, n.With)
	case *ast.SetOprSelectList:
		w.open(n, n.With)
	case *ast.WithClause:
		w.withClause(n)
		return n, true // its bodies are walked by withClause
	case *ast.TableName:
		w.table(n)
	case *ast.FuncCallExpr:
		name := n.FnName.L
		if n.Schema.L != "" {
			name = n.Schema.L + "." + name
		}
		w.functions[name] = true
	}
	return n, w.err != nil
}

func (w *walker) Leave(n ast.Node) (ast.Node, bool) {
	if last := len(w.frames) - 1; last >= 0 && w.frames[last].owner == n {
		w.frames = w.frames[:last]
	}
	return n, w.err == nil
}

// open starts the scope of the WITH clause of statement owner, if it has one: all its
// names are visible in the rest of the statement.
func (w *walker) open(owner ast.Node, with *ast.WithClause) {
	if with != nil {
		w.frames = append(w.frames, frame{owner: owner, with: with, visible: cteNames(with)})
	}
}

// withClause walks the body of each CTE of with, with the names MySQL makes visible there
// (PT_with_clause::lookup): the CTEs before it, and itself under WITH RECURSIVE. A later
// CTE's name is a table there even under WITH RECURSIVE, as in MySQL; MariaDB, which takes
// it for the CTE (mutual recursion), then reads a table fewer than listed.
func (w *walker) withClause(with *ast.WithClause) {
	names := cteNames(with)
	i := len(w.frames) - 1
	if i < 0 || w.frames[i].with != with { // a WITH clause of a statement not handled in Enter
		w.frames = append(w.frames, frame{owner: with, with: with})
		defer func() { w.frames = w.frames[:len(w.frames)-1] }()
		i = len(w.frames) - 1
	}
	for k, cte := range with.CTEs {
		if with.IsRecursive {
			w.frames[i].visible = names[:k+1]
		} else {
			w.frames[i].visible = names[:k]
		}
		if cte != nil && cte.Query != nil {
			cte.Query.Accept(w)
		}
		if w.err != nil {
			return
		}
	}
	w.frames[i].visible = names
}

func cteNames(with *ast.WithClause) []string {
	names := make([]string, 0, len(with.CTEs))
	for _, cte := range with.CTEs {
		if cte != nil {
			names = append(names, cte.Name.O)
		}
	}
	return names
}

// isCTE reports whether an unqualified name refers to a CTE in scope.
func (w *walker) isCTE(name string) bool {
	for _, f := range w.frames {
		if slices.Contains(f.visible, name) {
			return true
		}
	}
	return false
}

func (w *walker) table(n *ast.TableName) {
	schema, name := n.Schema.O, n.Name.O
	switch {
	case name == "":
		w.err = errors.New("names a table with an empty name (``): name the table the query reads")
		return
	case schema == "" && w.isCTE(name):
		return
	case schema == "" && w.defaultSchema == "":
		w.err = fmt.Errorf("names table %s without a schema: qualify table %s with its schema (as schema.%s), or set the trigger's dbName", display(name), display(name), display(name))
		return
	case schema == "":
		schema = w.defaultSchema
	}
	if strings.EqualFold(schema, "information_schema") {
		w.informationSchema[strings.ToUpper(name)] = true // readable by every account: no grant needed
		return
	}
	w.found[Table{Schema: schema, Name: name}] = true
}

// Refused returns why the scaler account may never be granted SELECT on t, phrased as the
// fix and reading after the word "query", or "" if it may.
func Refused(t Table) string {
	what := SystemSchema(t.Schema)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("reads %s: innokeda never grants the scaler account anything on %s; compute the scaler's number from your application's own tables instead", t, what)
}

// SystemSchema describes schema if it is one no scaler's query may read, whoever it polls
// as, or returns "". Names are compared without regard to case, so no spelling of a system
// schema gets through, whatever the server's lower_case_table_names.
func SystemSchema(schema string) string {
	switch s := strings.ToLower(schema); {
	case s == "mysql":
		return "the mysql schema, which holds the server's accounts, their password hashes and its privileges"
	case s == "performance_schema":
		return "performance_schema, which shows every session's statements, their text and the server's internals"
	case s == "sys":
		return "the sys schema, whose views read performance_schema and the mysql schema"
	case strings.HasPrefix(s, "mysql_innodb_cluster_metadata"):
		return "the InnoDB Cluster metadata schema (" + display(schema) + "), which the MySQL Operator and MySQL Router own and which describes the cluster and its routers' accounts"
	}
	return ""
}

// unknownSchema stands for the schema of an unqualified name when the connection's
// default database is not known: no schema has this name, so SystemSchema passes it.
const unknownSchema = "\x00"

// Unqualified is the schema that Read gives a table the query names without one, when
// called with it as the default schema: so a caller can tell, from the query's text
// alone, which names the connection's database completes.
const Unqualified = unknownSchema

// NameString writes t's table name for a message, as String writes it.
func (t Table) NameString() string { return display(t.Name) }

// SystemRead returns the first table of a system schema (see SystemSchema) that query
// reads, with that schema's description, or an empty description: no account, root
// included, may run such a query. Unqualified names are taken to be in defaultSchema, and
// are not judged when it is "" (the caller judges them once it knows the database the
// connection opens, with HasUnqualified). query must have passed dryrun.CheckQuery: it
// is not checked again here, as this runs on every admission.
func SystemRead(query, defaultSchema string) (Table, string) {
	if defaultSchema == "" {
		defaultSchema = unknownSchema
	}
	reads, err := readChecked(query, defaultSchema)
	if err != nil {
		return Table{}, ""
	}
	for _, t := range reads.Tables {
		if what := SystemSchema(t.Schema); what != "" {
			return t, what
		}
	}
	return Table{}, ""
}

// HasUnqualified tells whether query names a table without a schema (a CTE's name is
// not a table), so that what it reads depends on the connection's default database.
func HasUnqualified(query string) bool {
	reads, err := ReadAll(query, unknownSchema)
	return err == nil && slices.ContainsFunc(reads.Tables, func(t Table) bool { return t.Schema == unknownSchema })
}

// maxIdentifier is the length limit, in characters, of a MySQL schema, table or column name.
const maxIdentifier = 64

// Quote backtick-quotes a schema, table or column name for a GRANT statement, doubling
// any backtick inside; a backtick-quoted identifier reads the same in every sql_mode.
// It refuses an empty name, one longer than 64 characters (MySQL's limit), and one with a
// byte other than printable ASCII: NUL ends an identifier early in places, and past ASCII
// a connection character set such as GBK or SJIS reads a byte followed by a backtick as one
// character, which would end the quoted name where innokeda did not. dryrun.CheckQuery
// admits only printable ASCII, so every name Read returns passes unless it is too long.
//
// In a table-level grant (ON `db`.`tbl`), MySQL takes the schema name literally; in a
// schema-level one (ON `db`.*), '_' and '%' in it are wildcards, which Quote does not escape.
func Quote(identifier string) (string, error) {
	if identifier == "" {
		return "", errors.New("is empty: MySQL has no object with an empty name")
	}
	for i := 0; i < len(identifier); i++ {
		if c := identifier[i]; c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("contains the byte 0x%02x (at offset %d): innokeda quotes only names of printable ASCII characters, which every MySQL character set reads alike", c, i)
		}
	}
	if len(identifier) > maxIdentifier {
		return "", fmt.Errorf("is %d characters long: MySQL names are at most %d characters", len(identifier), maxIdentifier)
	}
	return quote(identifier), nil
}

func quote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// display writes a name for a message: as is when it is a plain identifier (letters,
// digits, '_' and '$', not all digits), else backtick-quoted.
func display(s string) string {
	digits := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
			digits = false
		default:
			return quote(s)
		}
	}
	if s == "" || digits {
		return quote(s)
	}
	return s
}
