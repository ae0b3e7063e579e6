package scaleraccount_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/scaleraccount"
	"github.com/innokeda/innokeda/test/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopSharedMariaDB()
	os.Exit(code)
}

// rootConfig is the cluster's root account as the controller has it: its host is a
// cluster DNS name, never dialed; the dial address is given apart; TLS when the server
// offers it (the test servers do, as the MySQL Operator's do).
func rootConfig(server *harness.MariaDB) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", "mycluster-instances.ns.svc.cluster.local:3306", "root", server.RootPassword
	cfg.TLSConfig = "preferred"
	return cfg
}

// connect opens a root session for one test.
func connect(t *testing.T, server *harness.MariaDB) *scaleraccount.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	conn, err := scaleraccount.Connect(ctx, rootConfig(server), server.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// asUser opens a pool connecting as user to the server over TCP, as KEDA does.
func asUser(t *testing.T, server *harness.MariaDB, user, password string) *sql.DB {
	t.Helper()
	db, err := server.ConnectAs(user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mysqlNumber(err error) uint16 {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number
	}
	return 0
}

// grants is SHOW GRANTS for the account read by the harness's own root session, sorted,
// the password hash replaced; nil when the account does not exist.
func grants(t *testing.T, server *harness.MariaDB, user string) []string {
	t.Helper()
	lines, err := server.Grants(context.Background(), user, "%")
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// adminExec runs statements on the harness's own root session.
func adminExec(t *testing.T, server *harness.MariaDB, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := server.Admin().ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func ensure(t *testing.T, server *harness.MariaDB, d scaleraccount.Desired) scaleraccount.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	result, err := scaleraccount.Ensure(ctx, connect(t, server), d)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

const user = "innokeda_scaler"

func TestAccountOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	adminExec(t, server,
		"CREATE TABLE IF NOT EXISTS testdb.other (id INT PRIMARY KEY)",
		"CREATE TABLE IF NOT EXISTS testdb.second (id INT PRIMARY KEY)",
		"INSERT IGNORE INTO testdb.second VALUES (1), (2)",
		"DROP USER IF EXISTS '"+user+"'@'%'")
	t.Cleanup(func() { adminExec(t, server, "DROP USER IF EXISTS '"+user+"'@'%'") })
	password, err := scaleraccount.GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	d := scaleraccount.Desired{User: user, Host: "%", Password: password, MaxUserConnections: 3,
		Tables: []scaleraccount.Table{{"testdb", "testtable"}, {"testdb", "second"}}}

	// Created, with exactly these grants.
	got := ensure(t, server, d)
	want := scaleraccount.Result{Created: true, Granted: []string{"SELECT ON `testdb`.`second`", "SELECT ON `testdb`.`testtable`"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantGrants := []string{
		"GRANT SELECT ON `testdb`.`second` TO `innokeda_scaler`@`%`",
		"GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`",
		"GRANT USAGE ON *.* TO `innokeda_scaler`@`%` IDENTIFIED BY PASSWORD '<hash>' WITH MAX_USER_CONNECTIONS 3",
	}
	if diff := cmp.Diff(wantGrants, grants(t, server, user)); diff != "" {
		t.Errorf("SHOW GRANTS (-want +got):\n%s", diff)
	}

	// Again: nothing to do.
	if got := ensure(t, server, d); !cmp.Equal(got, scaleraccount.Result{}) {
		t.Errorf("a second Ensure did %+v", got)
	}

	// As the account: KEDA's query works, nothing else does.
	account := asUser(t, server, user, password)
	var count int
	if err := account.QueryRowContext(ctx, "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2='none'").Scan(&count); err != nil || count != 12 {
		t.Fatalf("KEDA's query: %d, %v", count, err)
	}
	refused := []struct {
		statement string
		number    uint16
	}{
		{"INSERT INTO testdb.testtable (testcolumn, testcolumn2) VALUES ('x', 'none')", 1142},
		{"UPDATE testdb.testtable SET price = 0", 1142},
		{"CREATE TABLE testdb.mine (id INT)", 1142},
		{"SELECT COUNT(*) FROM testdb.other", 1142},
		{"SELECT testdb.sneaky()", 1370},
		{"SET GLOBAL max_connections = 51", 1227},
		{"SELECT COUNT(*) FROM mysql.user", 1142},
		{"SELECT COUNT(*) FROM mysql.global_priv", 1142},
	}
	for _, r := range refused {
		_, err := account.ExecContext(ctx, r.statement)
		if mysqlNumber(err) != r.number {
			t.Errorf("%s as the account: error = %v, want MySQL error %d", r.statement, err, r.number)
		}
	}
	if err := account.Close(); err != nil {
		t.Fatal(err)
	}

	// MAX_USER_CONNECTIONS: three at once, not four; and Ensure tells a full account from
	// a wrong password (it changes nothing).
	held := asUser(t, server, user, password)
	var conns []*sql.Conn
	for i := range 3 {
		conn, err := held.Conn(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		conns = append(conns, conn)
	}
	_, err = asUser(t, server, user, password).Conn(ctx)
	if n := mysqlNumber(err); n != 1203 && n != 1226 {
		t.Fatalf("a fourth connection: error = %v, want the account's connection limit", err)
	}
	if got := ensure(t, server, d); !cmp.Equal(got, scaleraccount.Result{}) {
		t.Errorf("Ensure on an account at its limit did %+v", got)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	_ = held.Close()

	// Fewer tables: revoked, and at once.
	d.Tables = d.Tables[:1]
	got = ensure(t, server, d)
	want = scaleraccount.Result{Revoked: []string{"SELECT ON `testdb`.`second`"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{wantGrants[1], wantGrants[2]}, grants(t, server, user)); diff != "" {
		t.Errorf("SHOW GRANTS (-want +got):\n%s", diff)
	}
	_, err = asUser(t, server, user, password).ExecContext(ctx, "SELECT COUNT(*) FROM testdb.second")
	if mysqlNumber(err) != 1142 {
		t.Errorf("SELECT from a revoked table: error = %v", err)
	}

	// A new password (the Secret was replaced) and limit.
	d.Password, err = scaleraccount.GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	d.MaxUserConnections = 0
	got = ensure(t, server, d)
	if want := (scaleraccount.Result{PasswordChanged: true}); !cmp.Equal(got, want) {
		t.Errorf("result %+v, want %+v", got, want)
	}
	if err := asUser(t, server, user, password).PingContext(ctx); mysqlNumber(err) != 1045 {
		t.Errorf("the old password: error = %v", err)
	}
	if err := asUser(t, server, user, d.Password).PingContext(ctx); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if g := grants(t, server, user); len(g) != 2 || !strings.HasSuffix(g[1], "WITH MAX_USER_CONNECTIONS 10") {
		t.Errorf("SHOW GRANTS %q, want the default limit", g)
	}

	// Removed, and removing it again is fine.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for range 2 {
		if err := scaleraccount.Remove(rctx, connect(t, server), user, "%"); err != nil {
			t.Fatal(err)
		}
		if g := grants(t, server, user); g != nil {
			t.Fatalf("after Remove: %q", g)
		}
	}
	if err := asUser(t, server, user, d.Password).PingContext(ctx); mysqlNumber(err) != 1045 {
		t.Errorf("a removed account: error = %v", err)
	}
}

func TestGlobalPrivilegesOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	const u = "innokeda_globals"
	adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'")
	t.Cleanup(func() { adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'") })
	d := scaleraccount.Desired{User: u, Host: "%", Password: "globalsPassword1", Privileges: []string{"REPLICATION CLIENT", "process"}}
	got := ensure(t, server, d)
	if want := (scaleraccount.Result{Created: true, Granted: []string{"PROCESS, REPLICATION CLIENT ON *.*"}}); !cmp.Equal(got, want) {
		t.Errorf("result %+v, want %+v", got, want)
	}
	// MariaDB prints REPLICATION CLIENT as BINLOG MONITOR: still as desired.
	if got := ensure(t, server, d); !cmp.Equal(got, scaleraccount.Result{}) {
		t.Errorf("a second Ensure did %+v (SHOW GRANTS %q)", got, grants(t, server, u))
	}
	d.Privileges = []string{"PROCESS"}
	got = ensure(t, server, d)
	if len(got.Revoked) != 1 || got.Granted != nil {
		t.Errorf("result %+v", got)
	}
	want := []string{"GRANT PROCESS ON *.* TO `innokeda_globals`@`%` IDENTIFIED BY PASSWORD '<hash>' WITH MAX_USER_CONNECTIONS 10"}
	if diff := cmp.Diff(want, grants(t, server, u)); diff != "" {
		t.Errorf("SHOW GRANTS (-want +got):\n%s", diff)
	}
}

// Whatever else the account was given, by hand, is taken back.
func TestRevokesWhatItDidNotGrantOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	const u = "innokeda_tampered"
	adminExec(t, server,
		"DROP USER IF EXISTS '"+u+"'@'%'",
		"DROP ROLE IF EXISTS innokeda_test_role",
		"CREATE USER '"+u+"'@'%' IDENTIFIED BY 'tamperedPassword1' WITH MAX_USER_CONNECTIONS 10",
		"CREATE ROLE innokeda_test_role",
		// Revoking a role takes its ADMIN OPTION on MariaDB (ROLE_ADMIN on MySQL, which
		// the MySQL Operator's root has).
		"GRANT innokeda_test_role TO 'root'@'%' WITH ADMIN OPTION",
		"GRANT SELECT ON mysql.* TO innokeda_test_role",
		"GRANT innokeda_test_role TO '"+u+"'@'%'",
		"SET DEFAULT ROLE innokeda_test_role FOR '"+u+"'@'%'",
		"GRANT SUPER, RELOAD ON *.* TO '"+u+"'@'%' WITH GRANT OPTION",
		"GRANT SELECT, INSERT ON testdb.* TO '"+u+"'@'%'",
		"GRANT SELECT, DELETE ON testdb.testtable TO '"+u+"'@'%'",
		"GRANT UPDATE (price) ON testdb.testtable TO '"+u+"'@'%'",
		"GRANT EXECUTE ON FUNCTION testdb.sneaky TO '"+u+"'@'%'",
	)
	t.Cleanup(func() {
		adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'", "DROP ROLE IF EXISTS innokeda_test_role")
	})
	d := scaleraccount.Desired{User: u, Host: "%", Password: "tamperedPassword1", Tables: []scaleraccount.Table{{"testdb", "testtable"}}}
	got := ensure(t, server, d)
	if len(got.Revoked) == 0 || got.Created || got.PasswordChanged || got.Granted != nil {
		t.Errorf("result %+v", got)
	}
	t.Logf("revoked %q", got.Revoked)
	want := []string{
		"GRANT SELECT ON `testdb`.`testtable` TO `innokeda_tampered`@`%`",
		"GRANT USAGE ON *.* TO `innokeda_tampered`@`%` IDENTIFIED BY PASSWORD '<hash>' WITH MAX_USER_CONNECTIONS 10",
	}
	if diff := cmp.Diff(want, grants(t, server, u)); diff != "" {
		t.Errorf("SHOW GRANTS (-want +got):\n%s", diff)
	}
	if got := ensure(t, server, d); !cmp.Equal(got, scaleraccount.Result{}) {
		t.Errorf("a second Ensure did %+v", got)
	}
}

func TestMissingTableOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	const u = "innokeda_missing"
	adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'")
	t.Cleanup(func() { adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'") })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := scaleraccount.Desired{User: u, Host: "%", Password: "missingPassword1",
		Tables: []scaleraccount.Table{{"testdb", "nope"}, {"nodb", "t"}, {"testdb", "testtable"}}}
	got, err := scaleraccount.Ensure(ctx, connect(t, server), d)
	var missing *scaleraccount.MissingTablesError
	if !errors.As(err, &missing) || err.Error() != "no such table, so SELECT on it was not granted: `nodb`.`t`, `testdb`.`nope`" {
		t.Fatalf("error = %v", err)
	}
	if want := (scaleraccount.Result{Created: true, Granted: []string{"SELECT ON `testdb`.`testtable`"}}); !cmp.Equal(got, want) {
		t.Errorf("result %+v, want %+v", got, want)
	}
}

func TestReadOnlyServerOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	const u = "innokeda_readonly"
	adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'", "DROP USER IF EXISTS 'innokeda_never'@'%'")
	t.Cleanup(func() { adminExec(t, server, "DROP USER IF EXISTS '"+u+"'@'%'") })
	d := scaleraccount.Desired{User: u, Host: "%", Password: "readonlyPassword1", Tables: []scaleraccount.Table{{"testdb", "testtable"}}}
	ensure(t, server, d)

	state := func() []string {
		var auth string
		var limit int
		if err := server.Admin().QueryRowContext(ctx, "SELECT authentication_string, max_user_connections FROM mysql.user WHERE User = ? AND Host = '%'", u).Scan(&auth, &limit); err != nil {
			t.Fatal(err)
		}
		return append(grants(t, server, u), auth, strings.Repeat("x", limit))
	}
	before := state()
	adminExec(t, server, "SET GLOBAL read_only = 1")
	t.Cleanup(func() { adminExec(t, server, "SET GLOBAL read_only = 0") })

	changed := scaleraccount.Desired{User: u, Host: "%", Password: "anotherPassword2", MaxUserConnections: 5,
		Tables: []scaleraccount.Table{{"testdb", "other"}}, Privileges: []string{"PROCESS"}}
	for _, tc := range []struct {
		name string
		do   func(context.Context, *scaleraccount.Conn) error
	}{
		{"Ensure changing everything", func(ctx context.Context, c *scaleraccount.Conn) error {
			_, err := scaleraccount.Ensure(ctx, c, changed)
			return err
		}},
		{"Ensure creating an account", func(ctx context.Context, c *scaleraccount.Conn) error {
			_, err := scaleraccount.Ensure(ctx, c, scaleraccount.Desired{User: "innokeda_never", Host: "%", Password: "neverPassword1"})
			return err
		}},
		{"Remove", func(ctx context.Context, c *scaleraccount.Conn) error { return scaleraccount.Remove(ctx, c, u, "%") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err := tc.do(ctx, connect(t, server))
			want := "MySQL server " + server.Addr + " is not the primary: its read_only is ON"
			var roErr *scaleraccount.ReadOnlyError
			if !errors.Is(err, scaleraccount.ErrReadOnly) || !errors.As(err, &roErr) || err.Error() != want {
				t.Fatalf("error = %v, want %q", err, want)
			}
			if diff := cmp.Diff(before, state()); diff != "" {
				t.Errorf("the account changed (-before +after):\n%s", diff)
			}
			if g := grants(t, server, "innokeda_never"); g != nil {
				t.Errorf("an account was created: %q", g)
			}
		})
	}
}

func TestConnectOnMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := rootConfig(server)
	cfg.Passwd = "wrong-root-Pw-never-shown"
	_, err := scaleraccount.Connect(ctx, cfg, server.Addr)
	var srvErr *dryrun.ServerError
	if !errors.As(err, &srvErr) || srvErr.Number != 1045 || strings.Contains(err.Error(), cfg.Passwd) {
		t.Errorf("wrong root password: error = %v", err)
	}
	// The DSN's own options cannot widen the session.
	cfg = rootConfig(server)
	cfg.MultiStatements, cfg.AllowCleartextPasswords, cfg.AllowAllFiles = true, true, true
	cfg.Params = map[string]string{"sql_mode": "'ANSI_QUOTES'"}
	conn, err := scaleraccount.Connect(ctx, cfg, server.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Exec(ctx, "SELECT 1; SELECT 2"); err == nil {
		t.Error("two statements in one ran")
	}
	rows, err := conn.Query(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.sql_quote_show_create")
	if err != nil || len(rows) != 1 || rows[0][0] != "STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION" || rows[0][1] != "1" {
		t.Errorf("session settings %q, %v", rows, err)
	}
	if _, err := scaleraccount.Connect(context.Background(), rootConfig(server), server.Addr); err == nil {
		t.Error("connected without a deadline")
	}
	// Nothing listens there: unreachable, within the deadline.
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := scaleraccount.Connect(short, rootConfig(server), "127.0.0.1:1"); !errors.Is(err, dryrun.ErrUnreachable) {
		t.Errorf("a closed port: error = %v", err)
	}
}

// The root session is encrypted on a server that offers TLS, and plain on one that does
// not: the packet inspection that bounds a plain stream must not read TLS records as
// MySQL packets (it once did, and no session to a TLS server could be opened).
func TestConnectOverTLSOnMariaDB(t *testing.T) {
	plain, err := harness.StartMariaDB(harness.WithoutTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	for _, tc := range []struct {
		name       string
		server     *harness.MariaDB
		wantCipher bool
	}{
		{name: "a server with TLS", server: harness.SharedMariaDB(t), wantCipher: true},
		{name: "a server without TLS", server: plain, wantCipher: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := scaleraccount.Connect(ctx, rootConfig(tc.server), tc.server.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			rows, err := conn.Query(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
			if err != nil || len(rows) != 1 {
				t.Fatalf("Ssl_cipher: %q, %v", rows, err)
			}
			if cipher := rows[0][1]; (cipher != "") != tc.wantCipher {
				t.Errorf("the session's cipher is %q, want one: %v", cipher, tc.wantCipher)
			}
		})
	}
}
