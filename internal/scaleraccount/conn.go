package scaleraccount

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// Conn is a root session on one server, opened by Connect. It is an Admin.
type Conn struct {
	session  *dryrun.AdminSession
	cfg      *mysql.Config
	address  string
	deadline time.Time
}

var _ Admin = (*Conn)(nil)

// The session's sql_mode, so that SHOW GRANTS quotes names with backticks (no
// ANSI_QUOTES) and, on MariaDB, a GRANT never creates an account (NO_AUTO_CREATE_USER:
// one dropped by someone else between the read and the GRANT would come back without a
// password). MySQL 8 never creates one and has no such mode.
const (
	mysqlSQLMode   = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"
	mariaDBSQLMode = "STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"
)

// Connect connects with cfg (the cluster's root account) to dialAddress and only there,
// with the dry-run's safeguards (see dryrun.AdminSession). ctx must have a deadline,
// which bounds the whole session: every later socket operation ends by it. The session
// waits for metadata locks no longer than that either (lock_wait_timeout), so that a
// statement the client gave up on does not run later.
func Connect(ctx context.Context, cfg *mysql.Config, dialAddress string) (*Conn, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("connecting to MySQL without a deadline")
	}
	session, err := dryrun.OpenAdminSession(ctx, cfg, dialAddress)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", dialAddress, err)
	}
	c := &Conn{session: session, cfg: cfg, address: dialAddress, deadline: deadline}
	version, err := query(ctx, c, "SELECT VERSION()")
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	mode := mysqlSQLMode
	if len(version) == 1 && strings.Contains(version[0], "MariaDB") {
		mode = mariaDBSQLMode
	}
	wait := max(1, int(math.Ceil(time.Until(deadline).Seconds())))
	set := fmt.Sprintf("SET SESSION sql_mode = '%s', sql_quote_show_create = 1, lock_wait_timeout = %d", mode, wait)
	if err := c.Exec(ctx, set); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: %w", set, err)
	}
	return c, nil
}

// Address is the address the session dialed.
func (c *Conn) Address() string { return c.address }

// Exec runs one statement.
func (c *Conn) Exec(ctx context.Context, statement string) error {
	return c.session.Exec(ctx, statement)
}

// Query runs one query; NULL reads as "".
func (c *Conn) Query(ctx context.Context, q string) ([][]string, error) {
	rows, err := c.session.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	values := make([][]string, len(rows))
	for i, r := range rows {
		values[i] = make([]string, len(r))
		for j, v := range r {
			values[i][j] = v.String
		}
	}
	return values, nil
}

// Authenticates connects as user with password to the same address, over the root
// account's TLS settings, and disconnects. A server that refuses a connection over the
// account's connection limit (MAX_USER_CONNECTIONS, checked after the password) has
// accepted the password. A password that has expired does not work.
func (c *Conn) Authenticates(ctx context.Context, user, password string) (bool, error) {
	ctx, cancel := context.WithDeadline(ctx, c.deadline)
	defer cancel()
	cfg := c.cfg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = user, password, ""
	err := dryrun.CheckLogin(ctx, cfg, c.address)
	switch {
	case err == nil, isMySQLError(err, mysqlerr.TooManyUserConnections, mysqlerr.UserLimitReached):
		return true, nil
	case isMySQLError(err, mysqlerr.AccessDenied, mysqlerr.MustChangePassword, mysqlerr.MustChangePasswordLogin):
		return false, nil
	}
	return false, err
}

// Close ends the session.
func (c *Conn) Close() error { return c.session.Close() }
