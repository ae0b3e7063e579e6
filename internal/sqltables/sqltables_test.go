package sqltables

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func tables(names ...string) []Table {
	var ts []Table
	for _, n := range names {
		schema, name, _ := strings.Cut(n, ".")
		ts = append(ts, Table{Schema: schema, Name: name})
	}
	return ts
}

// readCases are queries as a hostile ScaledObject author would write them, hiding a table
// where a careless walk would not look, or passing a real table off as a CTE.
var readCases = []struct {
	name, query, schema string
	want                []Table
	wantErr             string // a substring of the error; "" for none
}{
	// Plain reads.
	{name: "qualified", query: "SELECT COUNT(*) FROM shop.orders", want: tables("shop.orders")},
	{name: "unqualified takes the default schema", query: "SELECT COUNT(*) FROM orders", schema: "shop", want: tables("shop.orders")},
	{name: "unqualified without a default schema", query: "SELECT COUNT(*) FROM orders WHERE id > 0",
		wantErr: "names table orders without a schema: qualify table orders with its schema (as schema.orders), or set the trigger's dbName"},
	{name: "unqualified deep down without a default schema", query: "SELECT COUNT(*) FROM shop.a WHERE EXISTS (SELECT 1 FROM (SELECT 1 FROM hidden) AS d)",
		wantErr: "names table hidden without a schema"},
	{name: "qualified needs no default schema", query: "SELECT COUNT(*) FROM shop.a JOIN shop.b ON a.id = b.id", want: tables("shop.a", "shop.b")},
	{name: "duplicates once, sorted", query: "SELECT COUNT(*) FROM z.b, shop.orders, orders AS o2, z.a, z.b AS b2", schema: "shop",
		want: tables("shop.orders", "z.a", "z.b")},
	{name: "TABLE statement", query: "TABLE shop.counters", want: tables("shop.counters")},
	{name: "VALUES reads nothing", query: "VALUES ROW(1)", want: nil},
	{name: "no FROM", query: "SELECT 3", want: nil},
	{name: "DUAL is no table", query: "SELECT 1 FROM DUAL", schema: "shop", want: nil},
	{name: "backquoted dual is a table", query: "SELECT 1 FROM `dual`", schema: "shop", want: tables("shop.dual")},
	{name: "view names are tables", query: "SELECT (SELECT COUNT(*) FROM shop.v_orders)", want: tables("shop.v_orders")},

	// Names as MySQL compares them.
	{name: "case kept, both spellings", query: "SELECT COUNT(*) FROM Shop.Orders, shop.orders", want: tables("Shop.Orders", "shop.orders")},
	{name: "backticks inside quoted names", query: "SELECT COUNT(*) FROM `we``ird`.`ta``ble` JOIN `a.b`.`c d` USING (id)",
		want: []Table{{"a.b", "c d"}, {"we`ird", "ta`ble"}}},
	{name: "unqualified quoted name", query: "SELECT COUNT(*) FROM `or``ders`", schema: "sh`op", want: []Table{{"sh`op", "or`ders"}}},
	{name: "empty quoted name", query: "SELECT COUNT(*) FROM ``", schema: "shop", wantErr: "names a table with an empty name"},
	{name: "double quotes under ANSI_QUOTES", query: `SELECT COUNT(*) FROM shop.t WHERE "mysql" = 'user'`, want: tables("shop.t")},

	// Joins.
	{name: "every join form", query: "SELECT COUNT(*) FROM s.a INNER JOIN s.b ON a.x = b.x LEFT JOIN s.c ON c.x = b.x RIGHT OUTER JOIN s.d USING (x) " +
		"CROSS JOIN s.e STRAIGHT_JOIN s.f NATURAL JOIN s.g, (s.h, (s.i JOIN s.j ON TRUE))",
		want: tables("s.a", "s.b", "s.c", "s.d", "s.e", "s.f", "s.g", "s.h", "s.i", "s.j")},
	{name: "join condition subquery", query: "SELECT COUNT(*) FROM s.a JOIN s.b ON a.x = (SELECT MAX(x) FROM s.hidden)", want: tables("s.a", "s.b", "s.hidden")},

	// Subqueries wherever an expression goes.
	{name: "scalar subquery in SELECT list", query: "SELECT (SELECT COUNT(*) FROM s.hidden)", want: tables("s.hidden")},
	{name: "subqueries in WHERE", query: "SELECT COUNT(*) FROM s.t WHERE a IN (SELECT a FROM s.w1) AND EXISTS (SELECT 1 FROM s.w2) " +
		"AND b > ANY (SELECT b FROM s.w3) AND c = (SELECT c FROM s.w4) AND NOT EXISTS (SELECT 1 FROM s.w5 WHERE d IN (SELECT d FROM s.w6))",
		want: tables("s.t", "s.w1", "s.w2", "s.w3", "s.w4", "s.w5", "s.w6")},
	{name: "subqueries in GROUP BY, HAVING, ORDER BY", query: "SELECT COUNT(*) FROM s.t GROUP BY (SELECT 1 FROM s.g) " +
		"HAVING COUNT(*) > (SELECT COUNT(*) FROM s.h) ORDER BY (SELECT 1 FROM s.o) LIMIT 1",
		want: tables("s.g", "s.h", "s.o", "s.t")},
	{name: "subquery inside function arguments and CASE", query: "SELECT COALESCE(NULL, CASE WHEN (SELECT 1 FROM s.c1) THEN (SELECT 2 FROM s.c2) ELSE IF((SELECT 3 FROM s.c3), 1, 0) END)",
		want: tables("s.c1", "s.c2", "s.c3")},
	{name: "derived tables, nested", query: "SELECT COUNT(*) FROM (SELECT * FROM (SELECT * FROM s.inner1) AS d1 JOIN s.inner2) AS d2", want: tables("s.inner1", "s.inner2")},
	{name: "derived table alias is no table", query: "SELECT COUNT(*) FROM (SELECT 1) AS t JOIN s.u", schema: "", want: tables("s.u")},

	// Set operations.
	{name: "UNION arms", query: "SELECT COUNT(*) FROM s.a UNION SELECT COUNT(*) FROM s.b UNION ALL (SELECT COUNT(*) FROM s.c)", want: tables("s.a", "s.b", "s.c")},
	{name: "INTERSECT and EXCEPT arms", query: "SELECT x FROM s.a INTERSECT SELECT x FROM s.b EXCEPT SELECT x FROM s.c ORDER BY (SELECT 1 FROM s.d)", want: tables("s.a", "s.b", "s.c", "s.d")},
	{name: "UNION in a subquery", query: "SELECT COUNT(*) FROM (SELECT 1 FROM s.a UNION SELECT 1 FROM (SELECT 1 FROM s.b) AS x) AS u", want: tables("s.a", "s.b")},

	// CTEs.
	{name: "CTE is no table", query: "WITH c AS (SELECT * FROM s.base) SELECT COUNT(*) FROM c", want: tables("s.base")},
	{name: "CTE shadows a real table", query: "WITH orders AS (SELECT 1 AS id) SELECT COUNT(*) FROM orders", schema: "shop", want: nil},
	{name: "CTE shadows nothing qualified", query: "WITH orders AS (SELECT 1 AS id) SELECT COUNT(*) FROM orders JOIN shop.orders USING (id)", want: tables("shop.orders")},
	{name: "CTE visible in subqueries and derived tables", query: "WITH c AS (SELECT 1 AS x) SELECT (SELECT x FROM c) FROM (SELECT * FROM c) AS d WHERE EXISTS (SELECT 1 FROM c)", want: nil},
	{name: "CTE of a UNION covers every arm", query: "WITH c AS (SELECT 1) SELECT * FROM c UNION SELECT * FROM c", want: nil},
	{name: "CTE of one UNION arm ends there", query: "(WITH c AS (SELECT 1) SELECT * FROM c) UNION SELECT * FROM c", schema: "shop", want: tables("shop.c")},
	{name: "CTE of a subquery ends there", query: "SELECT (WITH c AS (SELECT 1) SELECT * FROM c), (SELECT * FROM c)", schema: "shop", want: tables("shop.c")},
	{name: "CTE of a derived table ends there", query: "SELECT COUNT(*) FROM (WITH c AS (SELECT 1) SELECT * FROM c) AS d JOIN c", schema: "shop", want: tables("shop.c")},
	{name: "non-recursive CTE naming itself reads the table", query: "WITH orders AS (SELECT * FROM orders WHERE paid) SELECT COUNT(*) FROM orders", schema: "shop", want: tables("shop.orders")},
	{name: "non-recursive forward reference reads the table", query: "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT COUNT(*) FROM a, b", schema: "shop", want: tables("shop.b")},
	{name: "CTE sees the ones before it", query: "WITH a AS (SELECT * FROM s.base), b AS (SELECT * FROM a) SELECT COUNT(*) FROM b", want: tables("s.base")},
	{name: "recursive CTE", query: "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT COUNT(*) FROM r", want: nil},
	{name: "recursive CTE reading a table", query: "WITH RECURSIVE r AS (SELECT id, parent FROM s.tree WHERE parent IS NULL UNION ALL SELECT t.id, t.parent FROM s.tree AS t JOIN r ON t.parent = r.id) SELECT COUNT(*) FROM r",
		want: tables("s.tree")},
	{name: "recursive forward reference reads the table", query: "WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT COUNT(*) FROM a", schema: "shop", want: tables("shop.b")},
	{name: "recursive CTE sees the ones before it", query: "WITH RECURSIVE a AS (SELECT 1 AS n), b AS (SELECT n FROM a UNION ALL SELECT n + 1 FROM b WHERE n < 3) SELECT COUNT(*) FROM b", want: nil},
	{name: "nested WITH ends with its body", query: "WITH a AS (WITH b AS (SELECT * FROM s.real1) SELECT * FROM b) SELECT COUNT(*) FROM a, b", schema: "shop", want: tables("s.real1", "shop.b")},
	{name: "nested WITH shadows an outer CTE", query: "WITH a AS (SELECT 1) SELECT COUNT(*) FROM (WITH a AS (SELECT * FROM a) SELECT * FROM a) AS d", schema: "shop", want: nil},
	{name: "CTE names compared by case", query: "WITH c AS (SELECT 1) SELECT COUNT(*) FROM C", schema: "shop", want: tables("shop.C")},
	{name: "CTE named like a system table", query: "WITH user AS (SELECT 1) SELECT COUNT(*) FROM user, mysql.user", schema: "mysql", want: tables("mysql.user")},

	// Schemas innokeda treats apart.
	{name: "information_schema needs no grant", query: "SELECT COUNT(*) FROM information_schema.processlist JOIN INFORMATION_SCHEMA.TABLES JOIN Information_Schema.x", want: nil},
	{name: "information_schema as the default schema", query: "SELECT COUNT(*) FROM processlist", schema: "INFORMATION_SCHEMA", want: nil},
	{name: "mysql.user deep down", query: "SELECT COUNT(*) FROM shop.orders WHERE id IN (SELECT id FROM (SELECT id FROM shop.x WHERE EXISTS (WITH c AS (SELECT 1 FROM mysql.user) SELECT * FROM c)) AS d)",
		want: tables("mysql.user", "shop.orders", "shop.x")},
	{name: "system schemas in any case", query: "SELECT (SELECT 1 FROM MySQL.db) + (SELECT 1 FROM PERFORMANCE_SCHEMA.threads) + (SELECT 1 FROM Sys.x)",
		want: tables("MySQL.db", "PERFORMANCE_SCHEMA.threads", "Sys.x")},

	// What the guard refuses is refused the same.
	{name: "not a SELECT", query: "DELETE FROM shop.orders", wantErr: "is not a SELECT"},
	{name: "two statements", query: "SELECT 1 FROM shop.a; SELECT 1 FROM mysql.user", wantErr: "statements"},
	{name: "locking read", query: "SELECT COUNT(*) FROM shop.a WHERE id IN (SELECT id FROM shop.b FOR UPDATE)", wantErr: "locks"},
	{name: "comment", query: "SELECT COUNT(*) FROM shop.a /* FROM mysql.user */", wantErr: "comment"},
	{name: "table function", query: "SELECT COUNT(*) FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS j", wantErr: "grammar"},
	{name: "empty", query: " ", wantErr: "is empty"},
}

func TestRead(t *testing.T) {
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.query, tc.schema)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Read(%q, %q) = %v, %v; want an error containing %q", tc.query, tc.schema, got, err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("Read(%q, %q): %v", tc.query, tc.schema, err)
			default:
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Read(%q, %q) (-want +got):\n%s", tc.query, tc.schema, diff)
				}
			}
		})
	}
}

func TestReadConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				tc := readCases[(g*20+i)%len(readCases)]
				got, err := Read(tc.query, tc.schema)
				if (err != nil) != (tc.wantErr != "") || (err == nil && !cmp.Equal(tc.want, got, cmpopts.EquateEmpty())) {
					t.Errorf("%s: Read = %v, %v", tc.name, got, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		table Table
		want  string // a substring; "" for a table that may be granted
	}{
		{Table{"mysql", "user"}, "reads mysql.user: innokeda never grants the scaler account anything on the mysql schema"},
		{Table{"MySQL", "User"}, "reads MySQL.User: innokeda never grants the scaler account anything on the mysql schema"},
		{Table{"performance_schema", "events_statements_history"}, "anything on performance_schema"},
		{Table{"Performance_Schema", "threads"}, "anything on performance_schema"},
		{Table{"sys", "processlist"}, "anything on the sys schema"},
		{Table{"SYS", "x"}, "anything on the sys schema"},
		{Table{"mysql_innodb_cluster_metadata", "router_rest_accounts"}, "InnoDB Cluster metadata"},
		{Table{"mysql_innodb_cluster_metadata_previous", "v2_routers"}, "InnoDB Cluster metadata"},
		{Table{"my`sql", "u ser"}, ""},
		{Table{"mysqlx", "user"}, ""},
		{Table{"sys2", "x"}, ""},
		{Table{"shop", "mysql"}, ""},
		{Table{"shop", "orders"}, ""},
	} {
		got := Refused(tc.table)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("Refused(%#v) = %q, want %q", tc.table, got, tc.want)
		}
	}
	// The reason names the table as it is written, quoted when it must be.
	if got := Refused(Table{"mysql", "we`ird name"}); !strings.HasPrefix(got, "reads mysql.`we``ird name`: ") {
		t.Errorf("Refused(mysql.`we``ird name`) = %q", got)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "orders", want: "`orders`"},
		{in: "a`b", want: "`a``b`"},
		{in: "`", want: "````"},
		{in: "``; DROP TABLE x; --", want: "`````; DROP TABLE x; --`"},
		{in: `a"b'c\d`, want: "`a\"b'c\\d`"},
		{in: "a b.c", want: "`a b.c`"},
		{in: strings.Repeat("x", 64), want: "`" + strings.Repeat("x", 64) + "`"},
		{in: strings.Repeat("x", 65), wantErr: "is 65 characters long"},
		{in: "", wantErr: "is empty"},
		{in: "a\x00b", wantErr: "byte 0x00"},
		{in: "a\nb", wantErr: "byte 0x0a"},
		{in: "caf\xc3\xa9", wantErr: "byte 0xc3"},
		{in: "\x81`", wantErr: "byte 0x81"}, // GBK would read 0x81 0x60 as one character
		{in: "a\x7f", wantErr: "byte 0x7f"},
	} {
		got, err := Quote(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Quote(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
			}
		case err != nil || got != tc.want:
			t.Errorf("Quote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestQuoteRoundTrip checks that a quoted name reads back as the name: the text between
// the outer backticks, with doubled backticks undone, and no lone backtick inside.
func TestQuoteRoundTrip(t *testing.T) {
	for _, name := range []string{"a", "`", "``", "a`", "`a", "a``b`c", " ", "x`y`z`"} {
		q, err := Quote(name)
		if err != nil {
			t.Fatal(err)
		}
		inner := q[1 : len(q)-1]
		if q[0] != '`' || q[len(q)-1] != '`' || strings.Contains(strings.ReplaceAll(inner, "``", ""), "`") ||
			strings.ReplaceAll(inner, "``", "`") != name {
			t.Errorf("Quote(%q) = %q does not read back as the name", name, q)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, tc := range readCases {
		f.Add(tc.query, tc.schema)
	}
	f.Add("SELECT COUNT(*) FROM t", "")
	f.Add("SELECT COUNT(*) FROM t", "shop")
	f.Add(`SELECT COUNT(*) FROM "a"."b"`, "shop")
	f.Add("WITH RECURSIVE a AS (SELECT * FROM b UNION SELECT * FROM a), b AS (SELECT * FROM a) SELECT * FROM a, b, c", "s")
	f.Add("SELECT count (x) FROM t", "s")
	f.Fuzz(func(t *testing.T, query, schema string) {
		// The mutating webhook reads any text with it: it must return, never panic, and
		// answer the same each time (the parser reuses its memory between parses).
		if a, b := OnlySchema(query), OnlySchema(query); a != b {
			t.Fatalf("OnlySchema(%q) = %q, then %q", query, a, b)
		}
		analysisAgrees(t, query, schema)
		got, err := Read(query, schema)
		if err != nil {
			return
		}
		again, err := Read(query, schema)
		if err != nil || !cmp.Equal(got, again, cmpopts.EquateEmpty()) {
			t.Fatalf("Read(%q, %q) = %v, then %v, %v", query, schema, got, again, err)
		}
		seen := map[Table]bool{}
		for i, tb := range got {
			if tb.Schema == "" || tb.Name == "" {
				t.Fatalf("Read(%q, %q) returned %#v, with an empty part", query, schema, tb)
			}
			if strings.EqualFold(tb.Schema, "information_schema") {
				t.Fatalf("Read(%q, %q) returned %#v", query, schema, tb)
			}
			if seen[tb] || i > 0 && (got[i-1].Schema > tb.Schema || got[i-1].Schema == tb.Schema && got[i-1].Name > tb.Name) {
				t.Fatalf("Read(%q, %q) = %v: not sorted or not unique", query, schema, got)
			}
			seen[tb] = true
			for _, part := range []string{tb.Schema, tb.Name} {
				if part == schema {
					continue // the default schema is the caller's, not the query's
				}
				if _, err := Quote(part); err != nil && len(part) <= maxIdentifier {
					t.Fatalf("Read(%q, %q) returned %#v, which Quote refuses: %v", query, schema, tb, err)
				}
			}
		}
	})
}

func TestOnlySchema(t *testing.T) {
	for query, want := range map[string]string{
		"SELECT COUNT(*) FROM app.orders":                                  "app",
		"SELECT COUNT(*) FROM app.orders JOIN app.items USING (id)":        "app",
		"WITH r AS (SELECT id FROM app.orders) SELECT COUNT(*) FROM r":     "app",
		"SELECT COUNT(*) FROM app.orders JOIN shop.items USING (id)":       "",
		"SELECT COUNT(*) FROM orders":                                      "",
		"SELECT COUNT(*) FROM app.orders WHERE id IN (SELECT id FROM ids)": "",
		"SELECT 1":                          "",
		"SELECT COUNT(*) FROM":              "",
		"SELECT `a``b`.`t` FROM `a``b`.`t`": "a`b",
	} {
		if got := OnlySchema(query); got != want {
			t.Errorf("OnlySchema(%q) = %q, want %q", query, got, want)
		}
	}
}
