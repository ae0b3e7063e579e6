package scaleraccount

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/innokeda/innokeda/internal/sqltables"
)

const testPassword = "Pw0rdSecretNeverShown"

func desired(tables []Table, privileges ...string) Desired {
	return Desired{User: "innokeda_scaler", Host: "%", Password: testPassword, MaxUserConnections: 10, Tables: tables, Privileges: privileges}
}

var (
	testtable = Table{"testdb", "testtable"}
	other     = Table{"testdb", "other"}
	orders    = Table{"shop", "orders"}
)

// existing is an account that exists, whose password works, with limit 10.
func existing(grants ...string) Current {
	return Current{Exists: true, PasswordWorks: true, MaxUserConnections: 10, Grants: grants}
}

const (
	mariaUsage = "GRANT USAGE ON *.* TO `innokeda_scaler`@`%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF0123456789ABCDEF01234567' WITH MAX_USER_CONNECTIONS 10"
	mysqlUsage = "GRANT USAGE ON *.* TO `innokeda_scaler`@`%`"
	acct       = "'innokeda_scaler'@'%'"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		current Current
		desired Desired
		want    []string
	}{
		{
			name:    "a new account: created, then granted, tables in order",
			current: Current{},
			desired: desired([]Table{testtable, orders, other, testtable}, "replication client", "PROCESS"),
			want: []string{
				"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY '" + testPassword + "' WITH MAX_USER_CONNECTIONS 10",
				"GRANT PROCESS, REPLICATION CLIENT ON *.* TO " + acct,
				"GRANT SELECT ON `shop`.`orders` TO " + acct,
				"GRANT SELECT ON `testdb`.`other` TO " + acct,
				"GRANT SELECT ON `testdb`.`testtable` TO " + acct,
			},
		},
		{
			name:    "as desired on MariaDB: nothing to do",
			current: existing(mariaUsage, "GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`", "GRANT PROCESS, BINLOG MONITOR ON *.* TO `innokeda_scaler`@`%`"),
			desired: desired([]Table{testtable}, "PROCESS", "REPLICATION CLIENT"),
		},
		{
			name:    "as desired on MySQL: nothing to do",
			current: existing("GRANT PROCESS, REPLICATION CLIENT ON *.* TO `innokeda_scaler`@`%`", "GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`"),
			desired: desired([]Table{testtable}, "PROCESS", "REPLICATION CLIENT"),
		},
		{
			name:    "the password no longer works, the limit changed",
			current: Current{Exists: true, MaxUserConnections: 4, Grants: []string{mysqlUsage}},
			desired: desired(nil),
			want: []string{
				"ALTER USER " + acct + " IDENTIFIED BY '" + testPassword + "'",
				"ALTER USER " + acct + " WITH MAX_USER_CONNECTIONS 10",
			},
		},
		{
			name:    "a limit of 0 is the default",
			current: Current{Exists: true, PasswordWorks: true, MaxUserConnections: 0},
			desired: Desired{User: "u", Host: "%", Password: "p"},
			want:    []string{"ALTER USER 'u'@'%' WITH MAX_USER_CONNECTIONS 10"},
		},
		{
			name: "fewer tables: revoked before anything is granted",
			current: existing(mariaUsage, "GRANT SELECT ON `testdb`.`other` TO `innokeda_scaler`@`%`",
				"GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`"),
			desired: desired([]Table{testtable, orders}),
			want: []string{
				"REVOKE SELECT ON `testdb`.`other` FROM " + acct,
				"GRANT SELECT ON `shop`.`orders` TO " + acct,
			},
		},
		{
			name:    "more than SELECT on a desired table, with grant option",
			current: existing(mysqlUsage, "GRANT SELECT, INSERT, UPDATE ON `testdb`.`testtable` TO `innokeda_scaler`@`%` WITH GRANT OPTION"),
			desired: desired([]Table{testtable}),
			want:    []string{"REVOKE INSERT, UPDATE, GRANT OPTION ON `testdb`.`testtable` FROM " + acct},
		},
		{
			name:    "column privileges are not table privileges",
			current: existing(mysqlUsage, "GRANT SELECT (`id`, `price`), INSERT (`testcolumn`) ON `testdb`.`testtable` TO `innokeda_scaler`@`%`"),
			desired: desired([]Table{testtable}),
			want: []string{
				"REVOKE SELECT (`id`, `price`), INSERT (`testcolumn`) ON `testdb`.`testtable` FROM " + acct,
				"GRANT SELECT ON `testdb`.`testtable` TO " + acct,
			},
		},
		{
			name:    "global privileges beyond the desired ones, on MariaDB",
			current: existing("GRANT SUPER, PROCESS, BINLOG MONITOR, READ_ONLY ADMIN ON *.* TO `innokeda_scaler`@`%` IDENTIFIED BY PASSWORD '*0123' WITH GRANT OPTION MAX_USER_CONNECTIONS 10"),
			desired: desired(nil, "PROCESS"),
			want:    []string{"REVOKE SUPER, BINLOG MONITOR, READ_ONLY ADMIN, GRANT OPTION ON *.* FROM " + acct},
		},
		{
			name:    "MySQL's dynamic privileges and ALL PRIVILEGES",
			current: existing("GRANT ALL PRIVILEGES ON *.* TO `innokeda_scaler`@`%`", "GRANT BACKUP_ADMIN,SYSTEM_USER ON *.* TO `innokeda_scaler`@`%`"),
			desired: desired(nil, "PROCESS"),
			want: []string{
				"REVOKE ALL PRIVILEGES ON *.* FROM " + acct,
				"REVOKE BACKUP_ADMIN, SYSTEM_USER ON *.* FROM " + acct,
				"GRANT PROCESS ON *.* TO " + acct,
			},
		},
		{
			name: "schema, routine and proxy grants, and roles, are revoked",
			current: existing(mariaUsage,
				"GRANT SELECT, EXECUTE ON `testdb`.* TO `innokeda_scaler`@`%`",
				"GRANT EXECUTE, ALTER ROUTINE ON FUNCTION `testdb`.`sneaky` TO `innokeda_scaler`@`%`",
				"GRANT EXECUTE ON PACKAGE BODY `testdb`.`pkg` TO `innokeda_scaler`@`%`",
				"GRANT PROXY ON ''@'' TO 'innokeda_scaler'@'%' WITH GRANT OPTION",
				"GRANT `reader`@`%`,`writer`@`localhost` TO `innokeda_scaler`@`%`",
				"GRANT `mariadb_role` TO `innokeda_scaler`@`%` WITH ADMIN OPTION",
				"SET DEFAULT ROLE `mariadb_role` FOR `innokeda_scaler`@`%`",
				"REVOKE INSERT ON `mysql`.* FROM `innokeda_scaler`@`%`"),
			desired: desired(nil),
			want: []string{
				"REVOKE SELECT, EXECUTE ON `testdb`.* FROM " + acct,
				"REVOKE EXECUTE, ALTER ROUTINE ON FUNCTION `testdb`.`sneaky` FROM " + acct,
				"REVOKE EXECUTE ON PACKAGE BODY `testdb`.`pkg` FROM " + acct,
				"REVOKE PROXY, GRANT OPTION ON ''@'' FROM " + acct,
				"REVOKE `reader`@`%`, `writer`@`localhost` FROM " + acct,
				"REVOKE `mariadb_role` FROM " + acct,
				"SET DEFAULT ROLE NONE FOR " + acct,
			},
		},
		{
			name:    "names are quoted: backticks and quotes doubled",
			current: Current{Exists: true, Grants: []string{"GRANT SELECT ON `we``ird`.`ta'ble` TO `o'brien`@`%`"}},
			desired: Desired{User: "o'brien", Host: "10.0.%", Password: "it's", Tables: []Table{{"we`ird", "new`t"}}},
			want: []string{
				"ALTER USER 'o''brien'@'10.0.%' IDENTIFIED BY 'it''s'",
				"ALTER USER 'o''brien'@'10.0.%' WITH MAX_USER_CONNECTIONS 10",
				"REVOKE SELECT ON `we``ird`.`ta'ble` FROM 'o''brien'@'10.0.%'",
				"GRANT SELECT ON `we``ird`.`new``t` TO 'o''brien'@'10.0.%'",
			},
		},
		{
			name: "lower_case_table_names: names compared in lower case",
			current: Current{Exists: true, PasswordWorks: true, MaxUserConnections: 10, FoldCase: true,
				Grants: []string{mysqlUsage, "GRANT SELECT ON `shop`.`orders` TO `innokeda_scaler`@`%`"}},
			desired: desired([]Table{{"Shop", "Orders"}, {"SHOP", "ORDERS"}}),
		},
		{
			name:    "without lower_case_table_names, case matters",
			current: existing(mysqlUsage, "GRANT SELECT ON `shop`.`orders` TO `innokeda_scaler`@`%`"),
			desired: desired([]Table{{"Shop", "Orders"}}),
			want: []string{
				"REVOKE SELECT ON `shop`.`orders` FROM " + acct,
				"GRANT SELECT ON `Shop`.`Orders` TO " + acct,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Plan(tc.current, tc.desired)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range plan {
				got = append(got, s.SQL)
				if s.Kind != KindCreate && s.Kind != KindPassword && s.Redacted != s.SQL {
					t.Errorf("%q is redacted as %q", s.SQL, s.Redacted)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRedactsThePassword(t *testing.T) {
	plan, err := Plan(Current{Exists: true, MaxUserConnections: 10}, desired(nil))
	if err != nil {
		t.Fatal(err)
	}
	plan2, err := Plan(Current{}, desired(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(plan, plan2...) {
		for _, shown := range []string{s.Redacted, s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s", s, s)} {
			if strings.Contains(shown, testPassword) {
				t.Errorf("%q shows the password", shown)
			}
		}
		if !strings.Contains(s.SQL, testPassword) || !strings.Contains(s.Redacted, PasswordPlaceholder) {
			t.Errorf("SQL %q, redacted %q", s.SQL, s.Redacted)
		}
	}
}

func TestPlanRefuses(t *testing.T) {
	long := strings.Repeat("x", 65)
	tests := []struct {
		name    string
		current Current
		desired Desired
		wantErr string
	}{
		{"the mysql schema", Current{}, desired([]Table{testtable, {"mysql", "user"}}), "SELECT on `mysql`.`user` is never granted: the query reads mysql.user: innokeda never grants the scaler account anything on the mysql schema"},
		{"the mysql schema in other case", Current{}, desired([]Table{{"MySQL", "user"}}), "never grants the scaler account anything on the mysql schema"},
		{"performance_schema", Current{}, desired([]Table{{"performance_schema", "threads"}}), "SELECT on `performance_schema`.`threads` is never granted"},
		{"sys", Current{}, desired([]Table{{"SYS", "session"}}), "SELECT on `SYS`.`session` is never granted"},
		{"the InnoDB Cluster metadata", Current{}, desired([]Table{{"mysql_innodb_cluster_metadata", "instances"}}), "is never granted"},
		{"a table name past ASCII", Current{}, desired([]Table{{"testdb", "t\xbf`"}}), `table name "t\xbf` + "`" + `" holds the byte 0xbf`},
		{"a password past ASCII", Current{}, Desired{User: "u", Host: "%", Password: "pässword"}, "the password of 'u'@'%' holds a backslash or a byte other than printable ASCII"},
		{"a global privilege outside the allowlist", Current{}, desired(nil, "PROCESS", "SUPER"), `global privilege "SUPER" is not one the account may hold (PROCESS, REPLICATION CLIENT)`},
		{"ALL", Current{}, desired(nil, "ALL PRIVILEGES"), `global privilege "ALL PRIVILEGES" is not one`},
		{"NUL in a table name", Current{}, desired([]Table{{"testdb", "a\x00b"}}), "table name \"a\\x00b\" holds the byte 0x00"},
		{"a long table name", Current{}, desired([]Table{{"testdb", long}}), "is longer than 64 characters"},
		{"a long schema name", Current{}, desired([]Table{{long, "t"}}), "is longer than 64 characters"},
		{"an empty table name", Current{}, desired([]Table{{"testdb", ""}}), "table name is empty"},
		{"a long user name", Current{}, Desired{User: long, Host: "%", Password: "p"}, "is longer than 64 characters"},
		{"NUL in the user name", Current{}, Desired{User: "a\x00", Host: "%", Password: "p"}, "holds the byte 0x00"},
		{"a backslash in the user name", Current{}, Desired{User: `a\`, Host: "%", Password: "p"}, "user name holds a backslash or a byte"},
		{"an empty host", Current{}, Desired{User: "u", Password: "p"}, "host is empty"},
		{"an empty password", Current{}, Desired{User: "u", Host: "%"}, "the password of 'u'@'%' is empty"},
		{"a backslash in the password", Current{}, Desired{User: "u", Host: "%", Password: `se\cret`}, "the password of 'u'@'%' holds a backslash or a byte"},
		{"a negative limit", Current{}, Desired{User: "u", Host: "%", Password: "p", MaxUserConnections: -1}, "MAX_USER_CONNECTIONS -1 is not between 1 and"},
		{"an unreadable grant", existing("GRANT SELECT ON `db`.`t` TO `u`@`%` IDENTIFIED BY PASSWORD '*SECRETHASH"), desired(nil), "line 1 of SHOW GRANTS of " + acct},
		{"a grant with nothing granted", existing("GRANT ON *.* TO `u`@`%`"), desired(nil), "line 1 of SHOW GRANTS"},
		{"a grant on an unknown object", existing("GRANT SELECT ON `db` TO `u`@`%`"), desired(nil), "line 1 of SHOW GRANTS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.current, tc.desired)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if len(tc.desired.Password) > 3 && strings.Contains(err.Error(), tc.desired.Password) || strings.Contains(err.Error(), "SECRETHASH") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

func FuzzParseGrant(f *testing.F) {
	for _, seed := range []string{mariaUsage, mysqlUsage, "GRANT SELECT (`a`, `b`) ON `db`.`t` TO `u`@`%`", "GRANT `r`@`%` TO `u`@`%`",
		"GRANT PROXY ON ''@'' TO 'u'@'%'", "GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u`@`%`", "GRANT SELECT (`a`,) ON `db`.`t` TO `u`@`%`", "GRANT ( ON"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		g, ok, err := parseGrant(line)
		if err != nil || !ok {
			return
		}
		// What is read back is named again, re-quoted: it must read back the same.
		if len(g.roles) == 0 {
			var privs []string
			for _, p := range g.privileges {
				privs = append(privs, p.String())
			}
			again, ok, err := parseGrant("GRANT " + strings.Join(privs, ", ") + " ON " + g.on.String() + " TO x")
			if err != nil || !ok || !cmp.Equal(again.privileges, g.privileges, cmp.AllowUnexported(privilege{})) || again.on != g.on {
				t.Fatalf("%q reads back as %+v, %v, %v", line, again, ok, err)
			}
		}
	})
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) < 32 || strings.Trim(pw, passwordAlphabet) != "" {
			t.Fatalf("password %q is not 32 or more letters and digits", pw)
		}
		if seen[pw] {
			t.Fatalf("password %q twice", pw)
		}
		seen[pw] = true
		if _, err := Plan(Current{}, Desired{User: "u", Host: "%", Password: pw}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConnectionLimit(t *testing.T) {
	for _, tc := range []struct{ triggers, dryRuns, want int }{{1, 4, DefaultMaxUserConnections}, {0, 4, 10}, {5, 4, 18}, {3, 8, 22}, {2, 0, 4}} {
		if got := ConnectionLimit(tc.triggers, tc.dryRuns); got != tc.want {
			t.Errorf("ConnectionLimit(%d, %d) = %d, want %d", tc.triggers, tc.dryRuns, got, tc.want)
		}
	}
}

func TestTablesFromQueries(t *testing.T) {
	read, err := sqltables.Read("SELECT COUNT(*) FROM testtable JOIN shop.orders USING (id)", "testdb")
	if err != nil {
		t.Fatal(err)
	}
	var tables []Table
	for _, r := range read {
		tables = append(tables, Table(r))
	}
	plan, err := Plan(Current{Exists: true, PasswordWorks: true, MaxUserConnections: 10}, desired(tables))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range plan {
		got = append(got, s.SQL)
	}
	want := []string{"GRANT SELECT ON `shop`.`orders` TO " + acct, "GRANT SELECT ON `testdb`.`testtable` TO " + acct}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}
