package dryrun_test

// A ScaledObject's author is assumed hostile, and innokeda's dry-run holds the cluster's
// root account: these tests attack the dry-run as root, against a real MariaDB, and check
// from a separate admin connection that nothing changed.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/test/harness"
)

// rootConfig is what innokeda resolves for the TriggerAuthentication it keeps: the
// cluster's root account.
func rootConfig(server *harness.MariaDB) *mysql.Config {
	cfg, _ := dryrun.Params{Host: "db.example", Port: "3306", Username: "root", Password: server.RootPassword, DBName: harness.Database}.Config()
	return cfg
}

// snapshot reads the server's state; unchanged fails the test if it moved since before.
func snapshot(t *testing.T, server *harness.MariaDB) harness.Snapshot {
	t.Helper()
	s, err := server.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unchanged(t *testing.T, server *harness.MariaDB, before harness.Snapshot) {
	t.Helper()
	after := snapshot(t, server)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the server changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func connections(t *testing.T, server *harness.MariaDB) int {
	t.Helper()
	n, err := server.Connections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHostileQueriesChangeNothing: each class of the issue, in several forms, sent through
// the Runner with root's credentials. Each is refused before a connection is made.
func TestHostileQueriesChangeNothing(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	if _, err := server.Admin().ExecContext(ctx, "CREATE TABLE IF NOT EXISTS testdb.victim1 (a INT)"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(server.FileDir(), "pwned")
	attacks := map[string][]string{
		"executable comments": {
			"/*!99999 SELECT '*/ DROP TABLE testdb.victim1 -- '*/",
			"/*!99999 SELECT '*/ DROP TABLE testdb.victim1 /*!99999 '*/",
			"/*M! GRANT ALL ON *.* TO evil@'%' IDENTIFIED BY '*/ SELECT 1 /*M!' WITH GRANT OPTION */",
			"SELECT 1 /*M!100000 , (SELECT 2) INTO OUTFILE '" + file + "' */",
			"SELECT 1 /*!INTO OUTFILE '" + file + "'*/",
			"/*!SET GLOBAL max_connections = 7*/",
			"SELECT 1 /*m! */",
		},
		"optimizer hints": {
			"SELECT /*+ MAX_EXECUTION_TIME(0) */ SLEEP(100)",
			"SELECT /*+ SET_VAR(sql_mode='NO_BACKSLASH_ESCAPES') */ 1",
		},
		"strings whose end depends on sql_mode": {
			`SELECT 'x\' INTO OUTFILE '` + file + `' -- '`,
			`SELECT "x\" INTO OUTFILE '` + file + `' -- "`,
			`SELECT 'x\'' INTO OUTFILE '` + file + `' -- '`,
		},
		"comments whose end lexers disagree on": {
			"SELECT 1 -- x\r INTO OUTFILE '" + file + "'",
			"SELECT 1 # x\r INTO OUTFILE '" + file + "'",
			"SELECT 1 /* x */ INTO OUTFILE '" + file + "'",
		},
		"bytes a character set reads differently": {
			"SELECT '\xbf' INTO OUTFILE '" + file + "' -- '",
			"SELECT 1\x00; DROP TABLE testdb.victim1",
		},
		"functions that change the server's state": {
			"SELECT NEXTVAL(testdb.seq)",
			"SELECT NEXT VALUE FOR testdb.seq",
			"SELECT SETVAL(testdb.seq, 1000)",
			"SELECT COUNT(*) FROM testdb.testtable WHERE GET_LOCK('app-lock', 0) = 1",
			"SELECT LENGTH(LOAD_FILE('/etc/passwd'))",
			"SELECT mariadb_schema.get_lock('app-lock', 0)",
			"SELECT oracle_schema.get_lock('app-lock', 0)",
			"SELECT `maxdb_schema` . get_lock('app-lock', 0)",
			"SELECT LENGTH(mariadb_schema.load_file('/etc/passwd'))",
			"SELECT COUNT(*) FROM testdb.testtable WHERE oracle_schema.sleep(1) = 0",
			"SELECT @a := 1",
		},
		"statements that write": {
			"DROP TABLE testdb.victim1",
			"SELECT 1; DROP TABLE testdb.victim1",
			"CREATE USER evil IDENTIFIED BY 'x'",
			"SET GLOBAL max_connections = 7",
			"SELECT * FROM testdb.testtable INTO OUTFILE '" + file + "'",
			"SELECT (SELECT 1 INTO @x)",
			"DO SLEEP(10)",
			"HANDLER testdb.testtable OPEN",
		},
	}
	for class, queries := range attacks {
		for _, q := range queries {
			t.Run(class+"/"+q, func(t *testing.T) {
				before, connected := snapshot(t, server), connections(t, server)
				obs, err, _ := run(t, 2*time.Second, rootConfig(server), q)
				var refused *dryrun.RefusedError
				if !errors.As(err, &refused) {
					t.Errorf("error = %v (observation %+v), want a refusal", err, obs)
				}
				if n := connections(t, server); n != connected {
					t.Errorf("the dry-run connected to the server (%d connections, then %d)", connected, n)
				}
				unchanged(t, server, before)
			})
		}
	}
}

// TestQualifiedBuiltinsAreNeverRun: MariaDB runs its built-ins under the names
// mariadb_schema.X, oracle_schema.X and maxdb_schema.X. The admin connection shows the
// attack is real (the qualified GET_LOCK takes the lock); through the Runner, as root, it
// is refused before a connection is made, and the lock stays free.
func TestQualifiedBuiltinsAreNeverRun(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	for _, schema := range []string{"mariadb_schema", "oracle_schema", "maxdb_schema", "`mariadb_schema`"} {
		t.Run(schema, func(t *testing.T) {
			var taken sql.NullInt64
			conn, err := server.Admin().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(ctx, "SELECT "+schema+".get_lock('held-by-admin', 0)").Scan(&taken); err != nil || taken.Int64 != 1 {
				t.Fatalf("MariaDB did not run %s.get_lock for the admin (%v, %v): the attack this test guards against is not there", schema, taken, err)
			}
			_, _ = conn.ExecContext(ctx, "DO RELEASE_LOCK('held-by-admin')")
			_ = conn.Close()

			connected := connections(t, server)
			_, err, _ = run(t, 2*time.Second, rootConfig(server), "SELECT "+schema+".get_lock('app-lock', 0)")
			var refused *dryrun.RefusedError
			if !errors.As(err, &refused) {
				t.Errorf("error = %v, want a refusal", err)
			}
			if n := connections(t, server); n != connected {
				t.Errorf("the dry-run connected to the server (%d connections, then %d)", connected, n)
			}
			var free sql.NullInt64
			if err := server.Admin().QueryRowContext(ctx, "SELECT IS_FREE_LOCK('app-lock')").Scan(&free); err != nil || free.Int64 != 1 {
				t.Errorf("IS_FREE_LOCK('app-lock') = %v (%v), want 1", free, err)
			}
		})
	}
}

// TestTheServersSQLModeIsHonoured: the server's sql_mode is read on the dry-run's
// connection before the query is sent; a mode innokeda does not model is refused, from
// the server or from a DSN.
func TestTheServersSQLModeIsHonoured(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	var previous string
	if err := server.Admin().QueryRowContext(ctx, "SELECT @@GLOBAL.sql_mode").Scan(&previous); err != nil {
		t.Fatal(err)
	}
	setMode := func(mode string) {
		t.Helper()
		if _, err := server.Admin().ExecContext(ctx, "SET GLOBAL sql_mode = ?", mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setMode(previous) })
	const honest = "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 = 'none'"

	t.Run("NO_BACKSLASH_ESCAPES and ANSI_QUOTES: honest queries run, the escape trick is refused", func(t *testing.T) {
		setMode("NO_BACKSLASH_ESCAPES,ANSI_QUOTES")
		obs, err, _ := run(t, 2*time.Second, rootConfig(server), honest)
		if err != nil || fmt.Sprint(obs.Value) != "12" {
			t.Errorf("honest query: %+v, %v; want 12", obs, err)
		}
		before := snapshot(t, server)
		_, err, _ = run(t, 2*time.Second, rootConfig(server), `SELECT 'x\' INTO OUTFILE '`+filepath.Join(server.FileDir(), "f")+`' -- '`)
		var refused *dryrun.RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("error = %v, want a refusal", err)
		}
		unchanged(t, server, before)
	})
	t.Run("a server in MariaDB's Oracle mode is not dry-run", func(t *testing.T) {
		setMode("ORACLE")
		before := snapshot(t, server)
		_, err, _ := run(t, 2*time.Second, rootConfig(server), honest)
		var refused *dryrun.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), "its sql_mode has ORACLE") {
			t.Errorf("error = %v, want a refusal naming ORACLE", err)
		}
		noSessionLeft(t, server, "root")
		unchanged(t, server, before)
	})
	t.Run("a DSN asking KEDA's session for a mode innokeda does not model", func(t *testing.T) {
		setMode(previous)
		cfg := rootConfig(server)
		cfg.Params = map[string]string{"sql_mode": "'MSSQL'"}
		connected := connections(t, server)
		_, err, _ := run(t, 2*time.Second, cfg, honest)
		var refused *dryrun.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), "its sql_mode has MSSQL") {
			t.Errorf("error = %v, want a refusal naming MSSQL", err)
		}
		if n := connections(t, server); n != connected {
			t.Errorf("the dry-run connected (%d connections, then %d)", connected, n)
		}
	})
}

// TestServerErrorsThatCarryDataAreNotQuoted: error-based exfiltration of root's password
// hash, in the forms attackers use, returns the error's number and name only.
func TestServerErrorsThatCarryDataAreNotQuoted(t *testing.T) {
	server := harness.SharedMariaDB(t)
	var hash string
	if err := server.Admin().QueryRowContext(context.Background(), "SELECT authentication_string FROM mysql.user WHERE user = 'keda'").Scan(&hash); err != nil || len(hash) < 10 {
		t.Fatalf("read the hash: %q, %v", hash, err)
	}
	const secret = "(SELECT authentication_string FROM mysql.user WHERE user = 'keda')"
	for _, tc := range []struct {
		query  string
		errors bool // MariaDB 10.11 fails it; the others may return a value, which is never shown
	}{
		{"SELECT EXTRACTVALUE(1, CONCAT(0x7e, " + secret + "))", true},
		{"SELECT UPDATEXML(1, CONCAT(0x7e, " + secret + "), 1)", true},
		{"SELECT COUNT(*) FROM information_schema.columns GROUP BY CONCAT(" + secret + ", FLOOR(RAND(0) * 2))", false},
		{"SELECT CAST(" + secret + " AS DATE) + INTERVAL 1 DAY", false},
		{"SELECT JSON_EXTRACT(" + secret + ", '$')", false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, err, _ := run(t, 2*time.Second, rootConfig(server), tc.query)
			if err == nil {
				if tc.errors {
					t.Fatalf("no error: the test no longer exercises an error that carries data")
				}
				return
			}
			msg := err.Error()
			if strings.Contains(msg, hash[1:10]) {
				t.Errorf("the error quotes root's data: %s", msg)
			}
			var serverErr *dryrun.ServerError
			if errors.As(err, &serverErr) && !strings.Contains(msg, "its text is not shown") {
				t.Errorf("a server error that may carry data is quoted: %s", msg)
			}
		})
	}
}

// TestUnreadRowsAreCutOff: KEDA reads one row; innokeda reads two and then kills the
// statement rather than draining the rest.
func TestUnreadRowsAreCutOff(t *testing.T) {
	server := harness.SharedMariaDB(t)
	obs, err, took := run(t, 2*time.Second, appConfig(harness.AppUser, harness.AppPassword), "SELECT seq FROM seq_1_to_50000000")
	if err != nil || obs.Rows != 2 || fmt.Sprint(obs.Value) != "1" {
		t.Fatalf("observation %+v, error %v; want two rows, the first 1", obs, err)
	}
	t.Logf("50 million rows: two read and the statement cut off in %v", took)
	noSessionLeft(t, server, harness.AppUser)
}

// noSessionLeft waits (a second at most: the server ends a closed or killed session
// asynchronously) until user has no session on the server.
func noSessionLeft(t *testing.T, server *harness.MariaDB, user string) {
	t.Helper()
	ctx := context.Background()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := server.SessionsOf(ctx, user)
		return n == 0, err
	}); err != nil {
		running, _ := server.RunningQueriesOf(ctx, user)
		t.Errorf("a dry-run's session of %s is still on the server: %q", user, running)
	}
}

// TestTheBudgetHoldsOnASlowStream: a link that trickles the server's bytes, and one that
// stops mid-result with the connection open. The dry-run answers, and gives its slot
// back, within its budget plus the cleanup grace.
func TestTheBudgetHoldsOnASlowStream(t *testing.T) {
	server := harness.SharedMariaDB(t)
	const budget = 1500 * time.Millisecond
	const bound = budget + 250*time.Millisecond + 200*time.Millisecond // grace, and scheduling slack
	cfg := appConfig(harness.AppUser, harness.AppPassword)
	runner := dryrun.NewRunner(1)
	runVia := func(addr, query string) (dryrun.Observation, error, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		start := time.Now()
		obs, err := runner.Run(ctx, cfg, addr, query)
		return obs, err, time.Since(start)
	}
	slotFree := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := runner.Run(ctx, cfg, "127.0.0.1:1", "SELECT 1"); errors.Is(err, dryrun.ErrBusy) {
			t.Errorf("the dry-run's slot was not given back")
		}
	}

	t.Run("trickling rows", func(t *testing.T) {
		proxy := harness.StartSlowProxy(t, server.Addr, 16, 5*time.Millisecond, 0)
		_, err, took := runVia(proxy.Addr, "SELECT seq FROM seq_1_to_10000000")
		t.Logf("error %v after %v", err, took)
		if took > bound {
			t.Errorf("took %v, bound %v", took, bound)
		}
		slotFree(t)
	})
	t.Run("a server that stops mid-result", func(t *testing.T) {
		query := server.LongValueQuery(t, 60000)
		// Measure the whole exchange at full speed, then stall 1000 bytes before its end:
		// inside the 60 kB value.
		counter := harness.StartSlowProxy(t, server.Addr, 1<<16, 0, 0)
		// A 60 kB string is not a number, but it is read whole: the dry-run succeeds.
		if _, err, _ := runVia(counter.Addr, query); err != nil {
			t.Fatalf("full-speed run: %v", err)
		}
		total := counter.Sent(0)
		stalling := harness.StartSlowProxy(t, server.Addr, 1<<16, 0, total-1000)
		_, err, took := runVia(stalling.Addr, query)
		if !errors.Is(err, dryrun.ErrTimedOut) {
			t.Errorf("error = %v, want ErrTimedOut", err)
		}
		if took > bound {
			t.Errorf("took %v, bound %v", took, bound)
		}
		slotFree(t)
		noSessionLeft(t, server, harness.AppUser)
	})
}

// TestLargeValuesAreNotRead: four concurrent dry-runs of 60 MB values. Each is refused at
// the header of its first packet; the process's peak memory barely moves.
func TestLargeValuesAreNotRead(t *testing.T) {
	server := harness.SharedMariaDB(t)
	cfg := rootConfig(server)
	idle := procStatus(t, "VmRSS")
	// Reset the peak (VmHWM) to the current RSS, so the peak measured is this test's.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	query := server.LongValueQuery(t, 60000000)
	runner := dryrun.NewRunner(4)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, errs[i] = runner.Run(ctx, cfg, server.Addr, query)
		}()
	}
	wg.Wait()
	peak := procStatus(t, "VmHWM")
	t.Logf("RSS idle %d KiB, peak with four 60 MB values %d KiB (+%d KiB)", idle, peak, peak-idle)
	for i, err := range errs {
		if !errors.Is(err, dryrun.ErrValueTooLarge) {
			t.Errorf("dry-run %d: error = %v, want ErrValueTooLarge", i, err)
		}
	}
	if peak-idle > 16<<10 {
		t.Errorf("peak RSS grew by %d KiB: a value was read", peak-idle)
	}
}

// procStatus reads a kB figure of /proc/self/status.
func procStatus(t *testing.T, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestPasswordsAreNeverSentInClear: a server that asks for the cleartext or the pre-4.1
// password plugin gets nothing, even when the DSN allows it.
func TestPasswordsAreNeverSentInClear(t *testing.T) {
	const password = "pw-Never-In-Clear-7"
	for _, plugin := range []string{"mysql_clear_password", "mysql_old_password"} {
		t.Run(plugin, func(t *testing.T) {
			received := fakeServer(t, plugin)
			cfg, err := mysql.ParseDSN("root:" + password + "@tcp(db.example:3306)/testdb?allowCleartextPasswords=true&allowOldPasswords=true&allowNativePasswords=false")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := dryrun.NewRunner(1).Run(ctx, cfg, received.addr, "SELECT 1"); err == nil {
				t.Errorf("the dry-run succeeded against a fake server")
			}
			if got := received.wait(); strings.Contains(got, password) {
				t.Errorf("the password reached the server in clear: %q", got)
			}
		})
	}
}

// fakeServer greets every client with a handshake that asks for plugin, and records what
// the client sends back.
type capture struct {
	addr string
	done chan string
}

func (c capture) wait() string { return <-c.done }

func fakeServer(t *testing.T, plugin string) capture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	c := capture{addr: ln.Addr().String(), done: make(chan string, 1)}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			c.done <- ""
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(handshake(plugin))
		got, _ := io.ReadAll(conn)
		c.done <- string(got)
	}()
	return c
}

// handshake is a protocol-10 greeting whose default authentication plugin is plugin.
func handshake(plugin string) []byte {
	const (
		longPassword     = 0x1
		protocol41       = 0x200
		secureConnection = 0x8000
		pluginAuth       = 0x80000
	)
	caps := uint32(longPassword | protocol41 | secureConnection | pluginAuth)
	var p []byte
	p = append(p, 10)
	p = append(p, "5.7.0-fake\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 7) // connection id
	p = append(p, "abcdefgh"...)               // auth data, part 1
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, 45)                          // utf8mb4_general_ci
	p = binary.LittleEndian.AppendUint16(p, 2) // status: autocommit
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...) // auth data, part 2
	p = append(p, plugin+"\x00"...)
	header := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), 0}
	return append(header, p...)
}

// TestWhatTheGuardAcceptsIsHarmless is a differential check against MariaDB's own reading:
// the attacks, mutated by inserting at every position the tokens on which lexers disagree,
// and every variant the guard accepts is run as root in each sql_mode that changes
// lexing. Whatever MariaDB makes of an accepted text, the server must not change.
func TestWhatTheGuardAcceptsIsHarmless(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	if _, err := server.Admin().ExecContext(ctx, "CREATE TABLE IF NOT EXISTS testdb.victim1 (a INT)"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(server.FileDir(), "pwned")
	seeds := []string{
		"SELECT '*/ DROP TABLE testdb.victim1 -- '",
		"SELECT 'x' INTO OUTFILE '" + file + "'",
		`SELECT "x" , 'y' FROM testdb.testtable`,
		"SELECT `a` FROM testdb.testtable WHERE testcolumn2 = 'none'",
	}
	tokens := []string{"'", `"`, "`", `\`, "/*", "*/", "--", "-- ", "#", "\n", "\r", ";", "/*!", "/*!99999 ", "/*M!", "/*M!999999 ", "/*+", "''", "\x00", "\xbf"}
	var accepted []string
	seen := map[string]bool{}
	for _, seed := range seeds {
		for i := 0; i <= len(seed); i++ {
			for _, tok := range tokens {
				q := seed[:i] + tok + seed[i:]
				if !seen[q] && dryrun.CheckQuery(q) == nil {
					seen[q] = true
					accepted = append(accepted, q)
				}
			}
		}
	}
	t.Logf("%d mutated queries accepted by the guard", len(accepted))
	if len(accepted) < 20 {
		t.Fatalf("only %d variants accepted: the check exercises too little", len(accepted))
	}
	var previous string
	if err := server.Admin().QueryRowContext(ctx, "SELECT @@GLOBAL.sql_mode").Scan(&previous); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = server.Admin().ExecContext(ctx, "SET GLOBAL sql_mode = ?", previous) })
	before := snapshot(t, server)
	runner := dryrun.NewRunner(1)
	for _, mode := range []string{previous, "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES"} {
		if _, err := server.Admin().ExecContext(ctx, "SET GLOBAL sql_mode = ?", mode); err != nil {
			t.Fatal(err)
		}
		before.Globals = snapshot(t, server).Globals // the mode itself is the one change made here
		for _, q := range accepted {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, _ = runner.Run(qctx, rootConfig(server), server.Addr, q)
			cancel()
		}
		unchanged(t, server, before)
	}
}
