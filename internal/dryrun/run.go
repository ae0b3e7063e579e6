package dryrun

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Observation is what a dry-run saw: at most the first row, and whether there was another.
type Observation struct {
	Columns   int
	ColumnSQL string // the first column's SQL type, e.g. DECIMAL or VARCHAR
	Rows      int    // 0, 1, or 2 meaning more than one
	Value     any    // the first column of the first row, as the driver returned it
	Took      time.Duration
}

// Why a dry-run did not complete.
var (
	// ErrUnreachable: the server could not be reached or took no more connections.
	ErrUnreachable = errors.New("MySQL server unreachable")
	// ErrTimedOut: the server did not answer, or the query did not finish, in time.
	ErrTimedOut = errors.New("dry-run timed out")
	// ErrBusy: too many dry-runs were already running.
	ErrBusy = errors.New("too many dry-runs in progress")
)

// ServerError is MySQL rejecting the connection or the query: wrong password, missing
// privilege, syntax error, unknown table or column.
type ServerError struct {
	Number  uint16
	Message string
}

func (e *ServerError) Error() string { return fmt.Sprintf("MySQL error %d: %s", e.Number, e.Message) }

// Runner runs dry-runs, at most a fixed number at a time.
type Runner struct {
	slots chan struct{}
}

// NewRunner returns a Runner that runs at most concurrency dry-runs at once.
func NewRunner(concurrency int) *Runner {
	return &Runner{slots: make(chan struct{}, max(concurrency, 1))}
}

// The share of the time budget kept back for rolling back and, when the query overran,
// for killing it on the server.
const cleanupShare = 5

// Run connects with cfg to dialAddress (which the caller has allowed), runs query inside
// a read-only transaction, rolls back and disconnects, all before ctx's deadline, which
// must be set. The server is told to abort the statement before that deadline; if the
// client gives up first, the statement is killed, so nothing goes on running.
func (r *Runner) Run(ctx context.Context, cfg *mysql.Config, dialAddress, query string) (Observation, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return Observation{}, errors.New("dry-run without a deadline")
	}
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return Observation{}, ErrBusy
	}
	start := time.Now()
	budget := time.Until(deadline)
	queryCtx, cancel := context.WithDeadline(ctx, deadline.Add(-budget/cleanupShare))
	defer cancel()

	db := sql.OpenDB(newConnector(cfg, dialAddress, budget))
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(queryCtx)
	if err != nil {
		return Observation{}, classify(queryCtx, err)
	}
	defer func() { _ = conn.Close() }()

	var id int64
	var version string
	if err := conn.QueryRowContext(queryCtx, "SELECT CONNECTION_ID(), VERSION()").Scan(&id, &version); err != nil {
		return Observation{}, classify(queryCtx, err)
	}
	// The server aborts the statement a little before the client would give up.
	queryDeadline, _ := queryCtx.Deadline()
	limit := time.Until(queryDeadline) * 9 / 10
	if _, err := conn.ExecContext(queryCtx, statementTimeLimit(version, limit)); err != nil {
		return Observation{}, classify(queryCtx, err)
	}
	if _, err := conn.ExecContext(queryCtx, "START TRANSACTION READ ONLY"); err != nil {
		return Observation{}, classify(queryCtx, err)
	}
	obs, err := observe(queryCtx, conn, query)
	obs.Took = time.Since(start)
	if err == nil || queryCtx.Err() == nil {
		// The connection is still usable: end the transaction explicitly.
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
	} else {
		// The client gave up mid-statement; make sure the server stops too.
		killQuery(ctx, cfg, dialAddress, budget, id)
	}
	if err != nil {
		return obs, classify(queryCtx, err)
	}
	return obs, nil
}

func observe(ctx context.Context, conn *sql.Conn, query string) (Observation, error) {
	var obs Observation
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return obs, err
	}
	defer func() { _ = rows.Close() }()
	types, err := rows.ColumnTypes()
	if err != nil {
		return obs, err
	}
	obs.Columns = len(types)
	if len(types) > 0 {
		obs.ColumnSQL = types[0].DatabaseTypeName()
	}
	for obs.Rows < 2 && rows.Next() {
		if obs.Rows == 0 {
			dest := make([]any, len(types))
			for i := range dest {
				dest[i] = new(any)
			}
			if err := rows.Scan(dest...); err != nil {
				return obs, err
			}
			if len(dest) > 0 {
				obs.Value = *dest[0].(*any)
			}
		}
		obs.Rows++
	}
	return obs, rows.Err()
}

// statementTimeLimit is the session setting that bounds the statement's run time on the
// server: MariaDB's max_statement_time (seconds) or MySQL's max_execution_time
// (milliseconds, SELECT only, which is all that is ever run).
func statementTimeLimit(version string, limit time.Duration) string {
	limit = max(limit, time.Millisecond)
	if strings.Contains(version, "MariaDB") {
		return fmt.Sprintf("SET SESSION max_statement_time = %.3f", limit.Seconds())
	}
	return fmt.Sprintf("SET SESSION max_execution_time = %d", limit.Milliseconds())
}

// killQuery asks the server, over a second connection, to stop statement id, within
// the time left.
func killQuery(ctx context.Context, cfg *mysql.Config, dialAddress string, budget time.Duration, id int64) {
	db := sql.OpenDB(newConnector(cfg, dialAddress, budget))
	defer func() { _ = db.Close() }()
	_, _ = db.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id))
}

// newConnector returns a connector for cfg that dials only dialAddress, with every
// option that could let a user-written DSN reach further turned off.
func newConnector(cfg *mysql.Config, dialAddress string, budget time.Duration) driver.Connector {
	c := cfg.Clone()
	c.Timeout, c.ReadTimeout, c.WriteTimeout = budget, budget, budget
	c.AllowAllFiles = false   // LOAD DATA LOCAL INFILE reading innokeda's files
	c.MultiStatements = false // a second statement behind the SELECT
	c.Params = nil            // session variables from the DSN
	c.Logger = discardLogger{}
	dialer := &net.Dialer{Timeout: budget}
	c.DialFunc = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "tcp", dialAddress)
	}
	connector, err := mysql.NewConnector(c)
	if err != nil { // only for TLS configurations that do not exist
		return errConnector{err}
	}
	return connector
}

type errConnector struct{ err error }

func (e errConnector) Connect(context.Context) (driver.Conn, error) { return nil, e.err }
func (e errConnector) Driver() driver.Driver                        { return nil }

type discardLogger struct{}

func (discardLogger) Print(...any) {}

// MySQL error numbers that mean "not now" rather than "wrong".
const (
	erTooManyConnections        = 1040
	erTooManyUserConnections    = 1203
	erUserLimitReached          = 1226
	erMariaDBStatementTimeout   = 1969
	erMySQLExecutionTimeExceeds = 3024
)

// classify maps a driver error to ErrTimedOut, ErrUnreachable or a *ServerError. The
// result never holds the DSN: driver errors name the address at most.
func classify(ctx context.Context, err error) error {
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &myErr):
		switch myErr.Number {
		case erTooManyConnections, erTooManyUserConnections, erUserLimitReached:
			return fmt.Errorf("%w: %s", ErrUnreachable, myErr.Message)
		case erMariaDBStatementTimeout, erMySQLExecutionTimeExceeds:
			return ErrTimedOut
		}
		return &ServerError{Number: myErr.Number, Message: myErr.Message}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ErrTimedOut
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%w: cannot resolve %s", ErrUnreachable, dnsErr.Name)
	case errors.As(err, &opErr):
		return fmt.Errorf("%w: %v", ErrUnreachable, opErr.Err)
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the connection was closed", ErrUnreachable)
	}
	return fmt.Errorf("%w: %v", ErrUnreachable, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
