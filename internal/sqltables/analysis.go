package sqltables

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/innokeda/innokeda/internal/dryrun"
)

// Analysis is what innokeda reads from one query: the guard's verdict and the tables it
// reads, with the names it does not qualify left open. Analyze parses the query once per
// sql_mode (dryrun.CheckQuery's two, then the four of modes); every check of an admission
// reads the same Analysis instead of parsing again, and completing the open names with
// the connection's database costs no parse.
type Analysis struct {
	// Err is dryrun.CheckQuery's verdict, or an error of the table reader; nothing else
	// is known when it is set.
	Err  error
	open Reads // unqualified names in schema Unqualified
}

// Analyze reads query.
func Analyze(query string) *Analysis {
	if err := dryrun.CheckQuery(query); err != nil {
		return &Analysis{Err: err}
	}
	open, err := readChecked(query, unknownSchema)
	return &Analysis{Err: err, open: open}
}

// OpenTables are the tables the query reads, those it names without a schema in schema
// Unqualified, sorted as Read sorts them; nil when Err is set.
func (a *Analysis) OpenTables() []Table { return a.open.Tables }

// InformationSchemaTables are the information_schema tables the query names with that
// schema, in upper case, sorted; nil when Err is set. (An unqualified name is in
// OpenTables: it is information_schema's only if the connection's database is.)
func (a *Analysis) InformationSchemaTables() []Table {
	tables := make([]Table, len(a.open.InformationSchema))
	for i, name := range a.open.InformationSchema {
		tables[i] = Table{Schema: "information_schema", Name: name}
	}
	return tables
}

// NullableAggregate names the aggregate (SUM, AVG, MIN or MAX) whose NULL, when it
// aggregates no row, the query would return, or is "": KEDA fails a poll on NULL.
func (a *Analysis) NullableAggregate() string { return a.open.NullableAggregate }

// HasUnqualified tells whether the query names a table without a schema (a CTE's name is
// not a table), so that what it reads depends on the connection's default database.
func (a *Analysis) HasUnqualified() bool {
	return a.Err == nil && slices.ContainsFunc(a.open.Tables, func(t Table) bool { return t.Schema == unknownSchema })
}

// Reads is ReadAll(query, defaultSchema): the open names completed with defaultSchema, an
// error when there is one and defaultSchema is "".
func (a *Analysis) Reads(defaultSchema string) (Reads, error) {
	if a.Err != nil {
		return Reads{}, a.Err
	}
	reads := Reads{InformationSchema: slices.Clone(a.open.InformationSchema), Functions: a.open.Functions, NullableAggregate: a.open.NullableAggregate}
	for _, t := range a.open.Tables {
		switch {
		case t.Schema != unknownSchema:
			reads.Tables = append(reads.Tables, t)
		case defaultSchema == "":
			return Reads{}, fmt.Errorf("names table %s without a schema: qualify table %s with its schema (as schema.%s), or set the trigger's dbName", display(t.Name), display(t.Name), display(t.Name))
		case strings.EqualFold(defaultSchema, "information_schema"):
			reads.InformationSchema = append(reads.InformationSchema, strings.ToUpper(t.Name))
		default:
			reads.Tables = append(reads.Tables, Table{Schema: defaultSchema, Name: t.Name})
		}
	}
	slices.SortFunc(reads.Tables, func(a, b Table) int {
		return cmp.Or(strings.Compare(a.Schema, b.Schema), strings.Compare(a.Name, b.Name))
	})
	reads.Tables = slices.Compact(reads.Tables)
	slices.Sort(reads.InformationSchema)
	reads.InformationSchema = slices.Compact(reads.InformationSchema)
	return reads, nil
}

// SystemRead is the package's SystemRead, from the analysis: the first table of a system
// schema the query reads, its open names in defaultSchema (not judged when it is ""),
// with that schema's description, or an empty description.
func (a *Analysis) SystemRead(defaultSchema string) (Table, string) {
	if a.Err != nil {
		return Table{}, ""
	}
	tables := slices.DeleteFunc(slices.Clone(a.open.Tables), func(t Table) bool { return t.Schema == unknownSchema })
	if defaultSchema != "" {
		if reads, err := a.Reads(defaultSchema); err == nil {
			tables = reads.Tables
		}
	}
	for _, t := range tables {
		if what := SystemSchema(t.Schema); what != "" {
			return t, what
		}
	}
	return Table{}, ""
}
