package dryrun

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/singleflight"

	"github.com/innokeda/innokeda/internal/mysqlerr"
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
	// ErrValueTooLarge: the result held a value longer than MaxValueBytes; it was not read.
	ErrValueTooLarge = fmt.Errorf("returned a value longer than %d KiB, which is not a number KEDA can read: return a numeric expression", MaxValueBytes>>10)
)

// RefusedError is a query the guard refused: it was not sent to the server.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// What one dry-run may read and how long it may take to clean up.
const (
	// MaxValueBytes bounds a row of the result (a number needs a few dozen bytes).
	MaxValueBytes = 64 << 10
	// maxPacket is the longest packet read: a one-value row, its length prefix and slack.
	maxPacket = MaxValueBytes + 64
	// maxRead bounds all bytes read from the server on one connection (handshake, column
	// definitions, rows), also when TLS hides the packets.
	maxRead = 1 << 20
	// cleanupGrace is how long after the deadline killing an overrunning statement may take:
	// a dry-run (and its slot) ends within its deadline plus this.
	cleanupGrace = 250 * time.Millisecond
	// The share of the time budget kept back for rolling back.
	cleanupShare = 5
)

// Runner runs dry-runs, at most a fixed number at a time.
type Runner struct {
	slots   chan struct{}
	flights singleflight.Group
}

// NewRunner returns a Runner that runs at most concurrency dry-runs at once.
func NewRunner(concurrency int) *Runner {
	return &Runner{slots: make(chan struct{}, max(concurrency, 1))}
}

// Run connects with cfg to dialAddress (which the caller has allowed), runs query inside a
// read-only transaction, rolls back and disconnects, all before ctx's deadline (which must
// be set) plus cleanupGrace. Before anything is sent, query goes through the guard
// (CheckQuery, then CheckQueryInMode with the server's sql_mode): a refusal is a
// *RefusedError. The server is told to abort the statement before the deadline; a
// statement the client stops reading (more rows than needed, a timeout) is killed and its
// connection closed, never drained.
func (r *Runner) Run(ctx context.Context, cfg *mysql.Config, dialAddress, query string) (Observation, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return Observation{}, errors.New("dry-run without a deadline")
	}
	if err := CheckQuery(query); err != nil {
		return Observation{}, &RefusedError{err}
	}
	if mode, ok := cfg.Params["sql_mode"]; ok {
		// KEDA's session would run in this mode; the dry-run's runs in the server's.
		if _, err := parserMode(mode); err != nil {
			return Observation{}, &RefusedError{err}
		}
	}
	// A GitOps sync applies many ScaledObjects with the same query and credentials at
	// once: identical dry-runs in flight share one connection and one result instead of
	// queueing for the slots one by one. The key is a hash: it never holds the password.
	// Only a verdict is shared: a dry-run that timed out, found no slot or no server under
	// another caller's deadline is tried once more under this one's, while it has time.
	key := flightKey(cfg, dialAddress, query)
	for retried := false; ; retried = true {
		led := false // set by the flight's function, which runs only for the caller that led it
		ch := r.flights.DoChan(key, func() (any, error) {
			led = true
			obs, err := r.run(ctx, cfg, dialAddress, query, deadline)
			return flight{obs, err}, nil
		})
		select {
		case res := <-ch:
			f := res.Val.(flight)
			if !led && !retried && transient(f.err) && ctx.Err() == nil && time.Until(deadline) > cleanupGrace {
				continue
			}
			return f.obs, f.err
		case <-ctx.Done():
		}
		return r.afterDeadline(ch)
	}
}

// transient tells whether a dry-run's failure says nothing about the query.
func transient(err error) bool {
	return errors.Is(err, ErrTimedOut) || errors.Is(err, ErrBusy) || errors.Is(err, ErrUnreachable)
}

// afterDeadline waits for a flight once the caller's deadline has passed.
func (r *Runner) afterDeadline(ch <-chan singleflight.Result) (Observation, error) {
	// The dry-run that ran under this ctx ends within cleanupGrace of it, and says why
	// (busy, timed out); one started under another caller's may go on longer.
	grace := time.NewTimer(cleanupGrace)
	defer grace.Stop()
	select {
	case res := <-ch:
		f := res.Val.(flight)
		return f.obs, f.err
	case <-grace.C:
		return Observation{}, ErrTimedOut
	}
}

// flight is the outcome of one dry-run, shared by the identical ones that waited for it.
type flight struct {
	obs Observation
	err error
}

// flightKey identifies a dry-run by everything its outcome depends on: the connection
// settings (the DSN, password included), the address and the query.
func flightKey(cfg *mysql.Config, dialAddress, query string) string {
	h := sha256.New()
	for _, part := range []string{cfg.FormatDSN(), dialAddress, query} {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return string(h.Sum(nil))
}

// run is one dry-run, in a slot.
func (r *Runner) run(ctx context.Context, cfg *mysql.Config, dialAddress, query string, deadline time.Time) (Observation, error) {
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

	session, db := open(cfg, dialAddress, deadline)
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(queryCtx)
	if err != nil {
		return Observation{}, session.classify(queryCtx, err)
	}
	defer func() { _ = conn.Close() }()

	var id int64
	var version, sqlMode string
	if err := conn.QueryRowContext(queryCtx, "SELECT CONNECTION_ID(), VERSION(), @@SESSION.sql_mode").Scan(&id, &version, &sqlMode); err != nil {
		return Observation{}, session.classify(queryCtx, err)
	}
	if err := checkInServerMode(query, sqlMode); err != nil { // Run has checked it with CheckQuery
		return Observation{}, &RefusedError{err}
	}
	// The server aborts the statement a little before the client would give up.
	queryDeadline, _ := queryCtx.Deadline()
	limit := time.Until(queryDeadline) * 9 / 10
	if _, err := conn.ExecContext(queryCtx, statementTimeLimit(version, limit)); err != nil {
		return Observation{}, session.classify(queryCtx, err)
	}
	if _, err := conn.ExecContext(queryCtx, "START TRANSACTION READ ONLY"); err != nil {
		return Observation{}, session.classify(queryCtx, err)
	}
	stopped := false
	stop := func() { // kill, then close: the server stops working, the client stops reading
		stopped = true
		killConnection(cfg, dialAddress, deadline.Add(cleanupGrace), id)
		session.close()
	}
	obs, err := observe(queryCtx, conn, query, stop)
	obs.Took = time.Since(start)
	switch {
	case stopped:
	case err == nil || queryCtx.Err() == nil:
		// The connection is still usable: end the transaction explicitly.
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
	default:
		stop() // the client gave up mid-statement
	}
	if err != nil {
		return obs, session.classify(queryCtx, err)
	}
	return obs, nil
}

// observe runs query and reads what KEDA reads: the first column of the first row, and
// whether a second row exists. A result not read to its end is cut off with stop before
// its rows are closed, since closing would drain every remaining row.
func observe(ctx context.Context, conn *sql.Conn, query string, stop func()) (obs Observation, err error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return obs, err
	}
	complete := false
	defer func() {
		if !complete {
			stop()
		}
		_ = rows.Close()
	}()
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
	if err := rows.Err(); err != nil {
		return obs, err
	}
	complete = obs.Rows < 2 // Next returned false: nothing is left to drain
	return obs, nil
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

// killConnection asks the server, over a second connection, to end connection id (its
// statement and its transaction), before deadline.
func killConnection(cfg *mysql.Config, dialAddress string, deadline time.Time, id int64) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, db := open(cfg, dialAddress, deadline)
	defer func() { _ = db.Close() }()
	_, _ = db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
}

// open returns a database handle for cfg whose connections go only to dialAddress, through
// a dialer bounded by deadline, with the safeguards of newConnector.
func open(cfg *mysql.Config, dialAddress string, deadline time.Time) (*dialer, *sql.DB) {
	d := &dialer{address: dialAddress, deadline: deadline}
	return d, sql.OpenDB(newConnector(cfg, d, time.Until(deadline)))
}

// dialer dials only address, through boundedConns it keeps so that the dry-run can close
// the socket and tell why a read failed.
type dialer struct {
	address  string
	deadline time.Time

	mu    sync.Mutex
	conns []*boundedConn // one, unless database/sql retried a bad connection
}

func (d *dialer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	ctx, cancel := context.WithDeadline(ctx, d.deadline)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.address)
	if err != nil {
		return nil, err
	}
	conn := &boundedConn{Conn: raw, deadline: d.deadline, maxRead: maxRead, maxPacket: maxPacket}
	if err := raw.SetDeadline(d.deadline); err != nil {
		_ = raw.Close()
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return conn, nil
}

func (d *dialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// classify maps a driver error to ErrValueTooLarge, ErrTimedOut, ErrUnreachable or a
// *ServerError.
func (d *dialer) classify(ctx context.Context, err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		if c.tooLarge.Load() {
			return ErrValueTooLarge
		}
	}
	return classify(ctx, err)
}

// newConnector returns a connector for cfg that dials only through d, with every option
// that could let a user-written DSN reach further, weaken how the password is sent, or
// make the server read the query differently turned to its safe value. TLS stays as KEDA
// would use it.
func newConnector(cfg *mysql.Config, d *dialer, budget time.Duration) driver.Connector {
	c := cfg.Clone()
	c.Timeout, c.ReadTimeout, c.WriteTimeout = budget, budget, budget
	c.AllowAllFiles = false           // LOAD DATA LOCAL INFILE reading innokeda's files
	c.AllowCleartextPasswords = false // a server that asks would get the password in clear
	c.AllowOldPasswords = false       // the pre-4.1 hash, as good as clear
	c.AllowNativePasswords = true     // the driver's default; false only narrows what works
	c.MultiStatements = false         // a second statement behind the SELECT
	c.InterpolateParams = false
	c.Params = nil // session variables from the DSN
	c.ConnectionAttributes = ""
	c.Logger = discardLogger{}
	c.DialFunc = d.dial
	// Compressed packets would hide their headers from boundedConn; utf8mb4 is the
	// driver's default character set (the query is ASCII, so any reads it alike).
	if err := c.Apply(mysql.EnableCompression(false), mysql.Charset("utf8mb4", "")); err != nil {
		return errConnector{err}
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

// classify maps a driver error to ErrTimedOut, ErrUnreachable or a *ServerError. Its
// text is built from what kind of error it is, never from the error's own text: that can
// hold the host the DSN names (a TLS certificate "not valid for" it), and the DSN may
// have come from a Secret. A *ServerError gives no server text by itself (see
// ServerError).
func classify(ctx context.Context, err error) error {
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &myErr):
		switch myErr.Number {
		case mysqlerr.ConCount, mysqlerr.TooManyUserConnections, mysqlerr.UserLimitReached:
			return fmt.Errorf("%w: %s", ErrUnreachable, mysqlerr.Name(myErr.Number))
		case mysqlerr.StatementTimeout, mysqlerr.QueryTimeout:
			return ErrTimedOut
		}
		return &ServerError{Number: myErr.Number, message: myErr.Message}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ErrTimedOut
	}
	return fmt.Errorf("%w: %s", ErrUnreachable, failure(err))
}

// failure says what kind of connection failure err is, in words of innokeda's own.
func failure(err error) string {
	var (
		errno       syscall.Errno
		dnsErr      *net.DNSError
		hostname    x509.HostnameError
		authority   x509.UnknownAuthorityError
		invalid     x509.CertificateInvalidError
		alert       tls.AlertError
		record      tls.RecordHeaderError
		verifyError *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &errno):
		return errno.Error() // the system's words for the errno: "connection refused"
	case errors.As(err, &dnsErr):
		return "the host does not resolve"
	case errors.As(err, &hostname):
		return "the server's TLS certificate is not valid for the host the trigger connects to"
	case errors.As(err, &authority):
		return "the server's TLS certificate is not signed by a CA the connection trusts"
	case errors.As(err, &invalid):
		return "the server's TLS certificate is not valid (expired, not yet valid, or not a server's)"
	case errors.As(err, &verifyError):
		return "the server's TLS certificate could not be verified"
	case errors.As(err, &alert), errors.As(err, &record):
		return "the TLS handshake failed"
	case errors.Is(err, mysql.ErrNoTLS):
		return "the connection asks for TLS, which the server does not offer"
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	}
	return fmt.Sprintf("the connection failed (%T)", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
