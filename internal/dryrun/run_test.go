package dryrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/test/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopSharedMariaDB()
	os.Exit(code)
}

func appConfig(user, password string) *mysql.Config {
	cfg, _ := dryrun.Params{Host: "db.example", Port: "3306", Username: user, Password: password, DBName: harness.Database}.Config()
	return cfg
}

func run(t *testing.T, budget time.Duration, cfg *mysql.Config, query string) (dryrun.Observation, error, time.Duration) {
	t.Helper()
	server := harness.SharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	obs, err := dryrun.NewRunner(4).Run(ctx, cfg, server.Addr, query)
	return obs, err, time.Since(start)
}

func TestRunAgainstMariaDB(t *testing.T) {
	server := harness.SharedMariaDB(t)
	cfg := appConfig(harness.AppUser, harness.AppPassword)
	tests := []struct {
		name    string
		cfg     *mysql.Config
		query   string
		wantObs dryrun.Observation
		wantErr string
	}{
		{name: "the classic query", cfg: cfg, query: "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'",
			wantObs: dryrun.Observation{Columns: 1, ColumnSQL: "DECIMAL", Rows: 1, Value: []byte("2")}},
		{name: "several rows", cfg: cfg, query: "SELECT id FROM testtable ORDER BY id",
			wantObs: dryrun.Observation{Columns: 1, ColumnSQL: "INT", Rows: 2, Value: int64(1)}},
		{name: "NULL", cfg: cfg, query: "SELECT price FROM testtable WHERE testcolumn = 'c'",
			wantObs: dryrun.Observation{Columns: 1, ColumnSQL: "DECIMAL", Rows: 1, Value: nil}},
		{name: "no rows", cfg: cfg, query: "SELECT id FROM testtable WHERE 1 = 0",
			wantObs: dryrun.Observation{Columns: 1, ColumnSQL: "INT", Rows: 0}},
		{name: "syntax error, refused before it is sent", cfg: cfg, query: "SELECT FROM", wantErr: "is not a SELECT statement MySQL's grammar accepts"},
		{name: "unknown table", cfg: cfg, query: "SELECT COUNT(*) FROM nope", wantErr: "MySQL error 1146 (ER_NO_SUCH_TABLE): Table 'testdb.nope' doesn't exist"},
		{name: "unknown column", cfg: cfg, query: "SELECT nope FROM testtable", wantErr: "MySQL error 1054 (ER_BAD_FIELD_ERROR): Unknown column 'nope' in 'SELECT'"},
		{name: "missing privilege", cfg: cfg, query: "SELECT COUNT(*) FROM mysql.user", wantErr: "MySQL error 1142 (ER_TABLEACCESS_DENIED_ERROR): SELECT command denied to user 'keda'@'127.0.0.1' for table `mysql`.`user`"},
		{name: "wrong password: never the server's text, which tells an empty password from another", cfg: appConfig(harness.AppUser, "wrong"), query: "SELECT 1", wantErr: "MySQL error 1045 (ER_ACCESS_DENIED_ERROR): "},
		{name: "a stored function is refused before a connection", cfg: cfg, query: "SELECT testdb.sneaky()", wantErr: "calls testdb.sneaky: a schema-qualified function is a stored function or, on MariaDB, a built-in by another name; call only the built-in functions innokeda lists, without a schema"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := server.TableChecksum(ctx)
			if err != nil {
				t.Fatal(err)
			}
			obs, err, _ := run(t, 2*time.Second, tc.cfg, tc.query)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			// The server's text is given apart, to callers that know where the user and
			// database came from; Error never holds it.
			var serverErr *dryrun.ServerError
			if errors.As(err, &serverErr) {
				text, ok := serverErr.Text(true, true)
				if ok && strings.Contains(gotErr, text) {
					t.Errorf("Error() %q holds the server's text", gotErr)
				}
				gotErr += ": " + text
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (len(gotErr) < len(tc.wantErr) || gotErr[:len(tc.wantErr)] != tc.wantErr) {
				t.Fatalf("error = %q, want %q", gotErr, tc.wantErr)
			}
			obs.Took = 0
			if tc.wantErr == "" && fmt.Sprintf("%#v", obs) != fmt.Sprintf("%#v", tc.wantObs) {
				t.Errorf("observation = %#v, want %#v", obs, tc.wantObs)
			}
			if after, _ := server.TableChecksum(ctx); after != before {
				t.Errorf("testtable changed: checksum %s, then %s", before, after)
			}
		})
	}
}

func TestRunStaysWithinItsBudget(t *testing.T) {
	server := harness.SharedMariaDB(t)
	cfg := appConfig(harness.AppUser, harness.AppPassword)
	const budget = 1500 * time.Millisecond

	t.Run("a query that waits on a lock is stopped on the server", func(t *testing.T) {
		query, _ := server.HoldTable(t)
		_, err, took := run(t, budget, cfg, query)
		if !errors.Is(err, dryrun.ErrTimedOut) {
			t.Errorf("error = %v, want ErrTimedOut", err)
		}
		if took > budget+200*time.Millisecond {
			t.Errorf("took %v, budget %v", took, budget)
		}
		noSessionLeft(t, server, harness.AppUser)
	})

	t.Run("a frozen server", func(t *testing.T) {
		if err := server.Pause(); err != nil {
			t.Fatal(err)
		}
		_, err, took := run(t, budget, cfg, "SELECT 1")
		if err := server.Resume(); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, dryrun.ErrTimedOut) {
			t.Errorf("error = %v, want ErrTimedOut", err)
		}
		if took > budget+200*time.Millisecond {
			t.Errorf("took %v, budget %v", took, budget)
		}
		noSessionLeft(t, server, harness.AppUser)
	})
}

func TestRunWhenNothingListens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A port nobody listens on: connection refused.
	_, err := dryrun.NewRunner(1).Run(ctx, appConfig(harness.AppUser, harness.AppPassword), "127.0.0.1:1", "SELECT 1")
	if !errors.Is(err, dryrun.ErrUnreachable) {
		t.Errorf("error = %v, want ErrUnreachable", err)
	}
}

func TestRunLimitsConcurrency(t *testing.T) {
	server := harness.SharedMariaDB(t)
	runner := dryrun.NewRunner(1)
	cfg := appConfig(harness.AppUser, harness.AppPassword)
	long, cancelLong := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancelLong()
	started := make(chan struct{})
	done := make(chan error, 1)
	query, _ := server.HoldTable(t)
	go func() {
		close(started)
		_, err := runner.Run(long, cfg, server.Addr, query)
		done <- err
	}()
	<-started
	// Wait until the first dry-run holds its slot and runs on the server.
	if err := wait.PollUntilContextTimeout(long, 10*time.Millisecond, time.Second, true, func(ctx context.Context) (bool, error) {
		running, err := server.RunningQueries(ctx)
		return len(running) > 0, err
	}); err != nil {
		t.Fatalf("the first dry-run never ran: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if _, err := runner.Run(short, cfg, server.Addr, "SELECT 1"); !errors.Is(err, dryrun.ErrBusy) {
		t.Errorf("second dry-run: error = %v, want ErrBusy", err)
	}
	if err := <-done; !errors.Is(err, dryrun.ErrTimedOut) {
		t.Errorf("first dry-run: error = %v, want ErrTimedOut", err)
	}
}

// TestIdenticalDryRunsShareOne: a burst of the same query with the same credentials costs
// the server a few connections, not one each; a dry-run with other credentials is never
// answered by another's result.
func TestIdenticalDryRunsShareOne(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	before, err := server.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runner := dryrun.NewRunner(1)
	const n = 50
	const query = "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 = 'none'"
	var wg sync.WaitGroup
	values := make([]any, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := appConfig(harness.AppUser, harness.AppPassword)
			if i%10 == 9 {
				cfg = appConfig(harness.AppUser, "wrong-password") // must fail, whatever the others do
			}
			runCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			var obs dryrun.Observation
			obs, errs[i] = runner.Run(runCtx, cfg, server.Addr, query)
			values[i] = obs.Value
		}()
	}
	wg.Wait()
	for i := range n {
		var serverErr *dryrun.ServerError
		switch {
		case i%10 == 9 && !(errors.As(errs[i], &serverErr) && serverErr.Number == 1045):
			t.Errorf("dry-run %d with a wrong password: %v, %v; want access denied", i, values[i], errs[i])
		case i%10 != 9 && (errs[i] != nil || fmt.Sprint(values[i]) != "12"):
			t.Errorf("dry-run %d: %v, %v; want 12", i, values[i], errs[i])
		}
	}
	after, err := server.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d dry-runs, %d connections", n, after-before)
	if after-before >= n/2 {
		t.Errorf("%d connections for %d dry-runs of two kinds", after-before, n)
	}
}

// TestASharedTimeoutIsTriedAgain: a dry-run that joined another's and got its timeout (the
// other caller's deadline, not its own) runs once more within its own budget.
func TestASharedTimeoutIsTriedAgain(t *testing.T) {
	server := harness.SharedMariaDB(t)
	runner := dryrun.NewRunner(2)
	cfg := appConfig(harness.AppUser, harness.AppPassword)
	query, release := server.HoldTable(t) // one column, 0 once released
	time.AfterFunc(time.Second, release)
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	leader := make(chan error, 1)
	go func() {
		_, err := runner.Run(short, cfg, server.Addr, query)
		leader <- err
	}()
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, time.Second, true, func(ctx context.Context) (bool, error) {
		running, err := server.RunningQueries(ctx)
		return len(running) > 0, err
	}); err != nil {
		t.Fatalf("the first dry-run never ran: %v", err)
	}
	long, cancelLong := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancelLong()
	obs, err := runner.Run(long, cfg, server.Addr, query) // joins the first, then runs its own
	if err := <-leader; !errors.Is(err, dryrun.ErrTimedOut) {
		t.Errorf("the first dry-run: %v, want ErrTimedOut", err)
	}
	if err != nil || fmt.Sprint(obs.Value) != "0" {
		t.Errorf("the one that joined it: %+v, %v; want its own dry-run's 0", obs, err)
	}
}

// A connectionString's tls parameter is used as KEDA's driver would use it: the dry-run
// reads the value over TLS when the DSN asks for it, in plain text when it does not, and
// the packet inspection of a plain stream does not break either.
func TestRunOverTLS(t *testing.T) {
	server := harness.SharedMariaDB(t)
	ctx := context.Background()
	const query = "SELECT COUNT(*) FROM testtable"
	for _, tc := range []struct {
		tls     string
		wantTLS bool
	}{
		{tls: "preferred", wantTLS: true},
		{tls: "skip-verify", wantTLS: true},
		{tls: "false", wantTLS: false},
	} {
		t.Run("tls="+tc.tls, func(t *testing.T) {
			cfg, err := dryrun.Params{ConnectionString: fmt.Sprintf("%s:%s@tcp(db.example:3306)/%s?tls=%s",
				harness.AppUser, harness.AppPassword, harness.Database, tc.tls)}.Config()
			if err != nil {
				t.Fatal(err)
			}
			before, err := server.TLSConnections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			obs, err, _ := run(t, 5*time.Second, cfg, query)
			if err != nil || obs.Rows != 1 || fmt.Sprint(obs.Value) != "13" {
				t.Fatalf("observation %+v, error %v", obs, err)
			}
			after, err := server.TLSConnections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := after > before; got != tc.wantTLS {
				t.Errorf("Ssl_accepts went from %d to %d: TLS used = %v, want %v", before, after, got, tc.wantTLS)
			}
		})
	}
}
