package managed

import (
	"fmt"
	"slices"
	"strings"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/sqltables"
)

// ReadBound is what the cluster's owner lets the triggers of the cluster read
// (annotations.AllowedTables), whatever account they poll with: admission
// denies a trigger that reads outside it, no dry-run reads outside it, and the managed
// account is never granted outside it.
type ReadBound struct {
	// Set: the owner wrote a bound. Without one, a trigger reads what its account may.
	Set      bool
	patterns []innodbcluster.TablePattern
	// Problems are the entries that could not be read. Where there is one, nothing is
	// allowed: the bound is never widened because part of it is unreadable.
	Problems []string
}

// ReadBoundOf reads c's bound.
func ReadBoundOf(c *innodbcluster.InnoDBCluster) ReadBound {
	patterns, set, problems := innodbcluster.AllowedTables(c.Annotations)
	return ReadBound{Set: set, patterns: patterns, Problems: problems}
}

// Allows tells whether t is inside the bound. A table of information_schema is inside only
// when the bound lists it (or information_schema.*): every account may read its tables,
// and what they show (other sessions' statements, the server's tables) is outside
// whatever else the owner listed.
func (b ReadBound) Allows(t sqltables.Table) bool {
	if !b.Set {
		return true
	}
	if len(b.Problems) > 0 {
		return false
	}
	if strings.EqualFold(t.Schema, innodbcluster.InformationSchema) {
		t = sqltables.Table{Schema: innodbcluster.InformationSchema, Name: strings.ToUpper(t.Name)}
	}
	return slices.ContainsFunc(b.patterns, func(p innodbcluster.TablePattern) bool {
		return p.Schema == t.Schema && (p.Table == "*" || p.Table == t.Name)
	})
}

// Outside returns the tables of tables the bound does not allow, in their order.
func (b ReadBound) Outside(tables []sqltables.Table) []sqltables.Table {
	var outside []sqltables.Table
	for _, t := range tables {
		if !b.Allows(t) {
			outside = append(outside, t)
		}
	}
	return outside
}

// Violation says why a trigger of cluster that reads the tables named outside (as
// Outside finds them, each named for a message by the caller) is refused, or "" when
// there are none.
func (b ReadBound) Violation(cluster string, outside []string) string {
	if len(outside) == 0 {
		return ""
	}
	why := fmt.Sprintf("the query reads %s, outside what InnoDBCluster %s allows (annotation %s)", strings.Join(outside, ", "), cluster, annotations.AllowedTables)
	if len(b.Problems) > 0 {
		return why + ", which allows nothing while any of its entries cannot be read: " + strings.Join(b.Problems, "; ")
	}
	return why + ": read only the tables it lists, or ask the cluster's owner to add these"
}

// Names are tables as a message names them.
func Names(tables []sqltables.Table) []string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.String()
	}
	return names
}
