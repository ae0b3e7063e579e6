package webhook_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// queryPieces are the pieces FuzzValidator builds queries from: the grammar's words, the
// test data's names, and every construct the guard refuses (writes, locks, files, sleeps,
// stored and schema-qualified functions, variables, comments, quotes, multi-statements).
var queryPieces = []string{
	"SELECT", "COUNT(*)", "1", "id", "price", "FROM", "testdb.testtable", "testtable", "bulk.held", "privdb.secrets",
	"mysql.user", "information_schema.processlist", "sys.version", "WHERE", "=", "<", "(", ")", ",", "AND", "OR", "NOT",
	"UNION", "ALL", "LIMIT 1", "ORDER BY 1", "GROUP BY id", "HAVING", "AS t", "JOIN", "ON", "IN", "EXISTS", "CASE WHEN 1 THEN 2 END",
	"WITH c AS (SELECT 1 AS n)", "c", "SUM(price)", "COALESCE(", "CEIL(", "/ 6", "'none'", "'", `"`, "`", "\\",
	"DELETE", "UPDATE testdb.testtable SET price = 0", "INSERT INTO testdb.testtable (testcolumn) VALUES ('fuzz')",
	"DROP TABLE testdb.testtable", "CREATE TABLE testdb.fuzz (a INT)", "TRUNCATE testdb.testtable", "CALL", "DO 1", "HANDLER",
	"SET @a = 1", "@a", "@@version", ":=", "FOR UPDATE", "LOCK IN SHARE MODE", "INTO OUTFILE 'fuzz'", "INTO @a",
	"testdb.sneaky()", "GET_LOCK('innokeda_fuzz', 0)", "mariadb_schema.get_lock('innokeda_fuzz', 0)",
	"oracle_schema.load_file('/etc/hostname')", "LOAD_FILE('/etc/hostname')", "SLEEP(1)", "BENCHMARK(100000, MD5(1))",
	"NEXTVAL(s)", "LAST_INSERT_ID(5)", "RELEASE_ALL_LOCKS()", "/*!", "*/", "/*M!", "/*+ MAX_EXECUTION_TIME(1) */", "-- ", "#", ";",
	"\n", "\x00", "é",
}

// FuzzValidator sends whole ScaledObjects, of up to 20 mysql triggers whose queries are
// sequences of queryPieces, through the validating webhook with a real dry-run against
// MariaDB. Whatever it admits, the server ran no statement but reads (its Com_ counters,
// harness.StatementCounts), nothing it holds changed (harness.Snapshot), and every answer
// came within the budget plus a margin.
func FuzzValidator(f *testing.F) {
	db := harness.SharedMariaDB(f)
	v := newValidatorFixture(f, db.Addr, webhook.OnUnreachableWarn)
	ctx := context.Background()
	want, err := db.Snapshot(ctx)
	if err != nil {
		f.Fatal(err)
	}
	// A seed is a trigger count, then each query's pieces, queries apart by 0xff.
	seed := func(triggers byte, queries ...[]string) []byte {
		b := []byte{triggers - 1}
		for i, q := range queries {
			if i > 0 {
				b = append(b, 0xff)
			}
			for _, piece := range q {
				b = append(b, byte(slices.Index(queryPieces, piece)))
			}
		}
		return b
	}
	count := []string{"SELECT", "COUNT(*)", "FROM", "testdb.testtable"}
	f.Add(seed(1, count))
	f.Add(seed(2, count, []string{"SELECT", "mariadb_schema.get_lock('innokeda_fuzz', 0)"}))
	f.Add(seed(3, count, []string{"DELETE", "FROM", "testdb.testtable"}, []string{"SELECT", "testdb.sneaky()"}))
	f.Add(seed(3, []string{"SELECT", "1", ";", "DROP TABLE testdb.testtable"}, []string{"/*!", "DELETE", "*/", "SELECT", "1"}))
	f.Add(seed(16, count, []string{"SELECT", "COUNT(*)", "FROM", "mysql.user"}))
	f.Add(seed(20, count))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		triggers, queries := 1+int(data[0])%20, []string{""}
		for _, b := range data[1:] {
			if b == 0xff {
				queries = append(queries, "")
				continue
			}
			queries[len(queries)-1] += queryPieces[int(b)%len(queryPieces)] + " "
		}
		opts := []gen.ScaledObjectOption{gen.WithTriggerMetadata(0, "query", queries[0])}
		for i := 1; i < triggers; i++ {
			opts = append(opts, gen.WithMySQLTrigger(queries[i%len(queries)], "3"),
				gen.WithTriggerMetadata(i, "host", instances, "port", "3306"), gen.WithAuthenticationRef(i, "", "mycluster-innokeda"))
		}
		so := filled(opts...)

		before, err := db.StatementCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp := v.handle(t, request(t, admissionv1.Create, so))
		took := time.Since(start)
		after, err := db.StatementCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(before, after) {
			t.Errorf("the server ran statements that are not reads (allowed=%v): %s\nqueries %q", resp.Allowed, changed(before, after), queries)
		}
		if took > budget+time.Second {
			t.Errorf("answered in %v, past the budget of %v", took, budget)
		}
		got, err := db.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("the server's state changed (allowed=%v), queries %q:\n%v\nwas\n%v", resp.Allowed, queries, got, want)
		}
	})
}

// changed lists the counters that moved between two readings.
func changed(before, after map[string]int) string {
	var moved []string
	for k, v := range after {
		if before[k] != v {
			moved = append(moved, fmt.Sprintf("%s %d→%d", k, before[k], v))
		}
	}
	return strings.Join(moved, ", ")
}
