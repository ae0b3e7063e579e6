package scaleraccount

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// fakeAdmin answers queries from a table and records statements.
type fakeAdmin struct {
	queries   map[string][][]string
	failQuery map[string]error
	failExec  map[string]error // by statement prefix
	works     bool
	execs     []string
}

func (f *fakeAdmin) Address() string { return "10.0.0.7:3306" }

func (f *fakeAdmin) Exec(_ context.Context, statement string) error {
	for prefix, err := range f.failExec {
		if strings.HasPrefix(statement, prefix) {
			return err
		}
	}
	f.execs = append(f.execs, statement)
	return nil
}

func (f *fakeAdmin) Query(_ context.Context, q string) ([][]string, error) {
	if err, ok := f.failQuery[q]; ok {
		return nil, err
	}
	rows, ok := f.queries[q]
	if !ok {
		return nil, errors.New("unexpected query " + q)
	}
	return rows, nil
}

func (f *fakeAdmin) Authenticates(context.Context, string, string) (bool, error) { return f.works, nil }

const (
	qUUID     = "SELECT @@GLOBAL.server_uuid"
	qMembers  = "SELECT MEMBER_ID, MEMBER_HOST, MEMBER_PORT, MEMBER_ROLE, MEMBER_STATE FROM performance_schema.replication_group_members"
	qReadOnly = "SELECT @@GLOBAL.read_only"
	qSuperRO  = "SELECT @@GLOBAL.super_read_only"
	qAccount  = "SELECT max_user_connections FROM mysql.user WHERE User = 'innokeda_scaler' AND Host = '%'"
	qGrants   = "SHOW GRANTS FOR 'innokeda_scaler'@'%'"
	qLCTN     = "SELECT @@GLOBAL.lower_case_table_names"
)

func mysqlErr(n uint16) error { return &dryrun.StatementError{Number: n} }

// mysqlServer is a group member in role with state ONLINE, of a group whose primary is
// mysql-0 (self when role is PRIMARY), with an account as desired(testtable).
func mysqlServer(role string, readOnly, superReadOnly string) *fakeAdmin {
	members := [][]string{{"uuid-self", "mysql-1.mysql-instances.ns.svc.cluster.local", "3306", role, "ONLINE"}}
	if role != "PRIMARY" {
		members = append(members, []string{"uuid-0", "mysql-0.mysql-instances.ns.svc.cluster.local", "3306", "PRIMARY", "ONLINE"})
	}
	return &fakeAdmin{
		queries: map[string][][]string{
			qUUID: {{"uuid-self"}}, qMembers: members, qReadOnly: {{readOnly}}, qSuperRO: {{superReadOnly}},
			qAccount: {{"10"}}, qGrants: {{mysqlUsage}, {"GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`"}}, qLCTN: {{"0"}},
		},
		works: true,
	}
}

// mariaDBServer has no group replication and no super_read_only.
func mariaDBServer(readOnly string) *fakeAdmin {
	return &fakeAdmin{
		queries:   map[string][][]string{qReadOnly: {{readOnly}}, qAccount: {}, qLCTN: {{"0"}}},
		failQuery: map[string]error{qUUID: mysqlErr(mysqlerr.UnknownSystemVariable), qSuperRO: mysqlErr(mysqlerr.UnknownSystemVariable)},
		works:     true,
	}
}

func TestEnsureOnlyOnThePrimary(t *testing.T) {
	recovering := mysqlServer("SECONDARY", "1", "1")
	recovering.queries[qMembers][0][4] = "RECOVERING"
	standalone := mysqlServer("PRIMARY", "0", "0")
	standalone.queries[qMembers] = nil
	offline := mysqlServer("", "1", "1")
	offline.queries[qMembers] = [][]string{{"uuid-self", "mysql-1", "3306", "", "OFFLINE"}}
	oldMySQL := mysqlServer("PRIMARY", "0", "0")
	oldMySQL.failQuery = map[string]error{qMembers: mysqlErr(mysqlerr.BadField)}
	tests := []struct {
		name    string
		server  *fakeAdmin
		wantErr string // "" for the primary
	}{
		{"the primary", mysqlServer("PRIMARY", "0", "0"), ""},
		{"a secondary", mysqlServer("SECONDARY", "1", "1"),
			"MySQL server 10.0.0.7:3306 is not the primary: it is a SECONDARY of its replication group; the primary is mysql-0.mysql-instances.ns.svc.cluster.local:3306"},
		{"a recovering member", recovering,
			"MySQL server 10.0.0.7:3306 is not the primary: it is a member of its replication group in state RECOVERING, not ONLINE; the primary is mysql-0.mysql-instances.ns.svc.cluster.local:3306"},
		{"a primary still super_read_only", mysqlServer("PRIMARY", "1", "1"),
			"MySQL server 10.0.0.7:3306 is not the primary: its read_only is ON (a primary while the group changes its primary)"},
		{"super_read_only alone", mysqlServer("PRIMARY", "0", "1"), "its super_read_only is ON"},
		{"a server outside a group", standalone, ""},
		{"an offline member, read-only", offline, "MySQL server 10.0.0.7:3306 is not the primary: its read_only is ON"},
		{"MySQL before 8.0 (no MEMBER_ROLE)", oldMySQL, ""},
		{"MariaDB", mariaDBServer("0"), ""},
		{"MariaDB, read-only", mariaDBServer("1"), "MySQL server 10.0.0.7:3306 is not the primary: its read_only is ON"},
		{"MariaDB, read-only as ON", mariaDBServer("ON"), "its read_only is ON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Ensure(context.Background(), tc.server, desired([]Table{testtable}))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var roErr *ReadOnlyError
			if !errors.Is(err, ErrReadOnly) || !errors.As(err, &roErr) || !strings.HasPrefix(err.Error(), "MySQL server 10.0.0.7:3306 is not the primary: ") ||
				!strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want ErrReadOnly %q", err, tc.wantErr)
			}
			if len(tc.server.execs) > 0 {
				t.Errorf("ran %q on a server that is not the primary", tc.server.execs)
			}
			if err := Remove(context.Background(), tc.server, "innokeda_scaler", "%"); !errors.Is(err, ErrReadOnly) {
				t.Errorf("Remove: error = %v, want ErrReadOnly", err)
			}
			if len(tc.server.execs) > 0 {
				t.Errorf("ran %q on a server that is not the primary", tc.server.execs)
			}
		})
	}
}

func TestEnsureRuns(t *testing.T) {
	t.Run("a new account", func(t *testing.T) {
		server := mariaDBServer("0")
		got, err := Ensure(context.Background(), server, desired([]Table{testtable, orders}, "PROCESS"))
		if err != nil {
			t.Fatal(err)
		}
		want := Result{Created: true, Granted: []string{"PROCESS ON *.*", "SELECT ON `shop`.`orders`", "SELECT ON `testdb`.`testtable`"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if len(server.execs) != 4 {
			t.Errorf("statements %q", server.execs)
		}
	})
	t.Run("a password that no longer works, a table less", func(t *testing.T) {
		server := mysqlServer("PRIMARY", "0", "0")
		server.works = false
		got, err := Ensure(context.Background(), server, desired(nil))
		if err != nil {
			t.Fatal(err)
		}
		want := Result{PasswordChanged: true, Revoked: []string{"SELECT ON `testdb`.`testtable`"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
	})
	t.Run("missing tables do not stop the other grants", func(t *testing.T) {
		server := mariaDBServer("0")
		server.failExec = map[string]error{
			"GRANT SELECT ON `shop`.`orders`": mysqlErr(mysqlerr.NoSuchTable),
			"GRANT SELECT ON `nope`.`t`":      mysqlErr(mysqlerr.BadDB),
		}
		got, err := Ensure(context.Background(), server, desired([]Table{testtable, orders, {"nope", "t"}}))
		var missing *MissingTablesError
		if !errors.As(err, &missing) || err.Error() != "no such table, so SELECT on it was not granted: `nope`.`t`, `shop`.`orders`" {
			t.Fatalf("error = %v", err)
		}
		want := Result{Created: true, Granted: []string{"SELECT ON `testdb`.`testtable`"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
	})
	t.Run("read-only mid-way", func(t *testing.T) {
		server := mariaDBServer("0")
		server.failExec = map[string]error{"GRANT": mysqlErr(mysqlerr.OptionPreventsStatement)}
		got, err := Ensure(context.Background(), server, desired([]Table{testtable}))
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "it became read-only while the account was being changed (GRANT SELECT ON `testdb`.`testtable` TO 'innokeda_scaler'@'%')") {
			t.Fatalf("error = %v", err)
		}
		if !got.Created {
			t.Errorf("result %+v does not say the account was created", got)
		}
	})
	t.Run("a failed statement never shows the password", func(t *testing.T) {
		server := mariaDBServer("0")
		// A server's message can quote the statement: Admin gives its number alone, and
		// Ensure shows the statement with the password's place marked.
		server.failExec = map[string]error{"CREATE USER": &dryrun.StatementError{Number: 1064}}
		_, err := Ensure(context.Background(), server, desired(nil))
		if err == nil || strings.Contains(err.Error(), testPassword) {
			t.Fatalf("error = %v", err)
		}
		if want := "CREATE USER IF NOT EXISTS 'innokeda_scaler'@'%' IDENTIFIED BY [password] WITH MAX_USER_CONNECTIONS 10: MySQL error 1064 (ER_PARSE_ERROR)"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("a refused desire changes nothing", func(t *testing.T) {
		server := mariaDBServer("0")
		if _, err := Ensure(context.Background(), server, desired([]Table{{"mysql", "user"}})); err == nil {
			t.Fatal("no error")
		}
		if len(server.execs) > 0 {
			t.Errorf("ran %q", server.execs)
		}
	})
}

func TestRemove(t *testing.T) {
	server := mysqlServer("PRIMARY", "0", "0")
	if err := Remove(context.Background(), server, "innokeda_scaler", "%"); err != nil {
		t.Fatal(err)
	}
	want := []string{"REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'innokeda_scaler'@'%'", "DROP USER IF EXISTS 'innokeda_scaler'@'%'"}
	if diff := cmp.Diff(want, server.execs); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	gone := mariaDBServer("0")
	if err := Remove(context.Background(), gone, "innokeda_scaler", "%"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:], gone.execs); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	if err := Remove(context.Background(), gone, "a\x00", "%"); err == nil {
		t.Error("a user name with NUL removed")
	}
}

// TestEnsureSetsOnlyAPasswordItJustGenerated: with NewPassword, the password the server
// gets is the one NewPassword returns, and only when one must be set.
func TestEnsureSetsOnlyAPasswordItJustGenerated(t *testing.T) {
	const planted, fresh = "PlantedPassword0123456789abcdefghij", "FreshPassword0123456789abcdefghijklm"
	for _, tc := range []struct {
		name       string
		server     func() *fakeAdmin
		newErr     error
		wantCalled bool
		wantSet    string // the statement prefix that sets the password, "" for none
		wantErr    string
	}{
		{name: "a new account", server: func() *fakeAdmin { return mariaDBServer("OFF") }, wantCalled: true, wantSet: "CREATE USER"},
		{name: "a password that no longer works", server: func() *fakeAdmin {
			f := mysqlServer("PRIMARY", "0", "0")
			f.works = false
			return f
		}, wantCalled: true, wantSet: "ALTER USER 'innokeda_scaler'@'%' IDENTIFIED BY"},
		{name: "a password that works", server: func() *fakeAdmin { return mysqlServer("PRIMARY", "0", "0") }},
		{name: "storing the new password fails: nothing is set", server: func() *fakeAdmin { return mariaDBServer("OFF") },
			newErr: errors.New("Secret write conflict"), wantCalled: true, wantErr: "storing a new password for 'innokeda_scaler'@'%': Secret write conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.server()
			d := desired([]Table{{"testdb", "testtable"}})
			d.Password = planted
			called := false
			d.NewPassword = func() (string, error) { called = true; return fresh, tc.newErr }
			_, err := Ensure(context.Background(), f, d)
			if called != tc.wantCalled {
				t.Errorf("NewPassword called: %v, want %v", called, tc.wantCalled)
			}
			if got := fmt.Sprint(err); tc.wantErr == "" && err != nil || tc.wantErr != "" && got != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			all := strings.Join(f.execs, "\n")
			if strings.Contains(all, planted) {
				t.Errorf("the password from the Secret was set on the server:\n%s", all)
			}
			switch {
			case tc.wantSet != "" && !strings.Contains(all, tc.wantSet) || tc.wantSet != "" && !strings.Contains(all, fresh):
				t.Errorf("want %s with the fresh password, ran:\n%s", tc.wantSet, all)
			case tc.wantSet == "" && strings.Contains(all, "IDENTIFIED BY"):
				t.Errorf("a password was set:\n%s", all)
			}
		})
	}
}
