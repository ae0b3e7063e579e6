package dryrun

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// AdminSession is one connection that sends statements innokeda wrote itself (account
// management with the cluster's root credentials), with the dry-run's connection
// safeguards: it dials only the address given, every socket read and write ends by the
// session's deadline, at most 1 MiB is read from the server (rows of 64 KiB at most, when
// not under TLS), no cleartext or pre-4.1 password plugins, no LOCAL INFILE, no
// multi-statements, no session variables from the DSN, the driver's logger discarded.
//
// Errors never hold the DSN or the password. A statement the server rejects is a
// *StatementError, which gives MySQL's error number and name but not the server's text:
// the text can quote the statement (a syntax error quotes it from the error on), and an
// account statement can hold a password.
type AdminSession struct {
	dialer *dialer
	db     *sql.DB
	conn   *sql.Conn
}

// StatementError is a statement or query of an AdminSession that the server rejected.
type StatementError struct{ Number uint16 }

func (e *StatementError) Error() string {
	return fmt.Sprintf("MySQL error %d (%s)", e.Number, mysqlerr.Name(e.Number))
}

// OpenAdminSession connects with cfg to dialAddress, and only there. ctx must have a
// deadline: it bounds the whole session (every later statement), not only the connect.
// A connection the server refuses is classified as a dry-run's is: ErrUnreachable,
// ErrTimedOut, or a *ServerError (wrong password, unknown database).
func OpenAdminSession(ctx context.Context, cfg *mysql.Config, dialAddress string) (*AdminSession, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("MySQL admin session without a deadline")
	}
	d, db := open(cfg, dialAddress, deadline)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		d.close()
		return nil, d.classify(ctx, err)
	}
	return &AdminSession{dialer: d, db: db, conn: conn}, nil
}

// Exec runs one statement.
func (s *AdminSession) Exec(ctx context.Context, statement string) error {
	_, err := s.conn.ExecContext(ctx, statement)
	return s.statementError(ctx, err)
}

// Query runs one query and returns its rows, every value as text (Valid false for NULL).
func (s *AdminSession) Query(ctx context.Context, query string) ([][]sql.NullString, error) {
	rows, err := s.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, s.statementError(ctx, err)
	}
	defer func() { _ = rows.Close() }()
	columns, err := rows.Columns()
	if err != nil {
		return nil, s.statementError(ctx, err)
	}
	var result [][]sql.NullString
	for rows.Next() {
		row := make([]sql.NullString, len(columns))
		dest := make([]any, len(columns))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, s.statementError(ctx, err)
		}
		result = append(result, row)
	}
	if err := rows.Err(); err != nil {
		return nil, s.statementError(ctx, err)
	}
	return result, nil
}

// Close ends the session and closes its socket.
func (s *AdminSession) Close() error {
	_ = s.conn.Close()
	err := s.db.Close()
	s.dialer.close()
	return err
}

// statementError maps a driver error of a statement to a *StatementError (the server
// rejected it), or as a dry-run's: ErrValueTooLarge, ErrTimedOut, ErrUnreachable.
func (s *AdminSession) statementError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return &StatementError{Number: myErr.Number}
	}
	return s.dialer.classify(ctx, err)
}

// CheckLogin connects with cfg to dialAddress (and only there), with the safeguards of
// an AdminSession, and disconnects. ctx must have a deadline. It returns nil when the
// server accepted the credentials and any MySQL error of the handshake as a *ServerError
// with its number, including those a dry-run reports as ErrUnreachable (too many
// connections): the caller tells "wrong password" from "authenticated, but over a
// connection limit". Other failures are ErrUnreachable or ErrTimedOut.
func CheckLogin(ctx context.Context, cfg *mysql.Config, dialAddress string) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return errors.New("MySQL login check without a deadline")
	}
	d, db := open(cfg, dialAddress, deadline)
	defer d.close()
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(ctx)
	if err != nil {
		var myErr *mysql.MySQLError
		if errors.As(err, &myErr) {
			// The handshake's errors name the account, never the password.
			return &ServerError{Number: myErr.Number, message: myErr.Message}
		}
		return d.classify(ctx, err)
	}
	return conn.Close()
}
