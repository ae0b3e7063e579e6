// Package scaleraccount manages the least-privilege MySQL account KEDA polls with
// instead of root: it creates or alters the account on the cluster's primary, with the
// root credentials, and reconciles its grants to SELECT on exactly the tables its
// ScaledObjects' queries read, plus at most the global privileges of AllowedPrivileges.
//
// Plan decides the statements (pure, from what the server holds); Ensure and Remove do
// the I/O through an Admin, which Connect opens with the dry-run's connection safeguards.
// The password never appears in an error: statements holding it are shown redacted, and
// the server's own error text (which can quote a statement) is never repeated.
package scaleraccount

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// Admin is a root session on one MySQL server. A statement or query the server rejects
// fails with a *dryrun.StatementError (its number, never its text).
type Admin interface {
	// Address is the server's address, for messages.
	Address() string
	// Exec runs one statement.
	Exec(ctx context.Context, statement string) error
	// Query runs one query and returns its rows, values as text (NULL as "").
	Query(ctx context.Context, query string) ([][]string, error)
	// Authenticates tells whether the server accepts user's password, by connecting as
	// user to the same server.
	Authenticates(ctx context.Context, user, password string) (bool, error)
}

// ErrReadOnly: the server is not the primary, so the account cannot be changed on it.
// The error Ensure and Remove return is a *ReadOnlyError, which matches it.
var ErrReadOnly = errors.New("MySQL server is not the primary")

// ReadOnlyError says which server is not the primary and, when the replication group
// tells, which is. Nothing was changed, unless the server became read-only while the
// account was being changed (Reason says so).
type ReadOnlyError struct {
	Address string // the server innokeda was connected to
	Reason  string // e.g. "it is a SECONDARY of its replication group"
	Primary string // host:port of the group's primary, when known
}

func (e *ReadOnlyError) Error() string {
	msg := fmt.Sprintf("MySQL server %s is not the primary: %s", e.Address, e.Reason)
	if e.Primary != "" {
		return msg + "; the primary is " + e.Primary
	}
	return msg
}

func (e *ReadOnlyError) Is(target error) bool { return target == ErrReadOnly }

// MissingTablesError: granting SELECT on these tables failed because they (or their
// schema) do not exist. Every other statement of the plan was run.
type MissingTablesError struct{ Tables []Table }

func (e *MissingTablesError) Error() string {
	names := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		names[i] = t.String()
	}
	return "no such table, so SELECT on it was not granted: " + strings.Join(names, ", ")
}

// Result is what Ensure changed.
type Result struct {
	// Granted and Revoked are the privileges granted and revoked, with their objects
	// (SELECT ON `db`.`t`, PROCESS ON *.*); a revoked role is named alone.
	Granted, Revoked []string
	Created          bool // the account did not exist
	PasswordChanged  bool // the account existed, and the password no longer worked
}

// mysqlError returns the MySQL error number of err, if it is a server's rejection.
func mysqlError(err error) (uint16, bool) {
	var stmtErr *dryrun.StatementError
	if errors.As(err, &stmtErr) {
		return stmtErr.Number, true
	}
	var srvErr *dryrun.ServerError
	if errors.As(err, &srvErr) {
		return srvErr.Number, true
	}
	return 0, false
}

func isMySQLError(err error, numbers ...uint16) bool {
	n, ok := mysqlError(err)
	if !ok {
		return false
	}
	for _, want := range numbers {
		if n == want {
			return true
		}
	}
	return false
}

// Ensure creates or alters the account d describes on the server conn is connected to,
// which must be the primary (else a *ReadOnlyError, and nothing is changed), and
// reconciles its grants: SELECT on d.Tables and d.Privileges, nothing else.
//
// The password is set when the account is created and afterwards only when connecting
// as the account with it fails: an ALTER on every pass would be a replicated write each
// time, would flush MySQL's caching_sha2_password cache for the account (KEDA's next
// connections then need the full, RSA or TLS, authentication), and would be refused by
// a password reuse policy (password_history). The check costs one short connection.
//
// A grant on a table that does not exist does not stop the others: Ensure runs the
// whole plan and then returns a *MissingTablesError. Any other failure stops it, and the
// Result says what was done until then.
func Ensure(ctx context.Context, conn Admin, d Desired) (Result, error) {
	d, err := d.normalize()
	if err != nil {
		return Result{}, err
	}
	if err := checkPrimary(ctx, conn); err != nil {
		return Result{}, err
	}
	current, err := readAccount(ctx, conn, d.User, d.Host)
	if err != nil {
		return Result{}, err
	}
	if current.Exists {
		if current.Grants, err = query(ctx, conn, "SHOW GRANTS FOR "+account(d.User, d.Host)); err != nil {
			return Result{}, err
		}
		if current.PasswordWorks, err = conn.Authenticates(ctx, d.User, d.Password); err != nil {
			return Result{}, fmt.Errorf("connecting as %s to check its password: %w", account(d.User, d.Host), err)
		}
	}
	rows, err := conn.Query(ctx, "SELECT @@GLOBAL.lower_case_table_names")
	if err != nil {
		return Result{}, fmt.Errorf("reading lower_case_table_names: %w", err)
	}
	current.FoldCase = len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] != "0"
	if d.NewPassword != nil && (!current.Exists || !current.PasswordWorks) {
		if d.Password, err = d.NewPassword(); err != nil {
			return Result{}, fmt.Errorf("storing a new password for %s: %w", account(d.User, d.Host), err)
		}
	}

	plan, err := Plan(current, d)
	if err != nil {
		return Result{}, err
	}
	var result Result
	var missing []Table
	for _, s := range plan {
		if err := conn.Exec(ctx, s.SQL); err != nil {
			switch {
			case isMySQLError(err, mysqlerr.OptionPreventsStatement):
				return result, &ReadOnlyError{Address: conn.Address(), Reason: "it became read-only while the account was being changed (" + s.Redacted + ")"}
			case s.Table != nil && isMySQLError(err, mysqlerr.NoSuchTable, mysqlerr.BadDB):
				missing = append(missing, *s.Table)
				continue
			}
			return result, fmt.Errorf("%s: %w", s.Redacted, err)
		}
		switch s.Kind {
		case KindCreate:
			result.Created = true
		case KindPassword:
			result.PasswordChanged = true
		case KindGrant:
			result.Granted = append(result.Granted, s.What)
		case KindRevoke:
			result.Revoked = append(result.Revoked, s.What)
		}
	}
	if len(missing) > 0 {
		return result, &MissingTablesError{Tables: missing}
	}
	return result, nil
}

// Remove revokes everything the account holds, which takes effect at once for its open
// sessions' table privileges, and drops it. An account that does not exist is not an
// error. The server must be the primary (else a *ReadOnlyError).
func Remove(ctx context.Context, conn Admin, user, host string) error {
	for _, check := range []error{checkName("user name", user), checkLiteral("user name", user), checkName("host", host), checkLiteral("host", host)} {
		if check != nil {
			return check
		}
	}
	if err := checkPrimary(ctx, conn); err != nil {
		return err
	}
	current, err := readAccount(ctx, conn, user, host)
	if err != nil {
		return err
	}
	acct := account(user, host)
	statements := []string{"DROP USER IF EXISTS " + acct}
	if current.Exists {
		statements = append([]string{"REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + acct}, statements...)
	}
	for _, s := range statements {
		if err := conn.Exec(ctx, s); err != nil {
			if isMySQLError(err, mysqlerr.OptionPreventsStatement) {
				return &ReadOnlyError{Address: conn.Address(), Reason: "it became read-only while the account was being removed (" + s + ")"}
			}
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// readAccount tells whether the account exists, and its connection limit.
func readAccount(ctx context.Context, conn Admin, user, host string) (Current, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT max_user_connections FROM mysql.user WHERE User = %s AND Host = %s", quoteString(user), quoteString(host)))
	if err != nil {
		return Current{}, fmt.Errorf("reading account %s: %w", account(user, host), err)
	}
	if len(rows) == 0 {
		return Current{}, nil
	}
	n, err := strconv.Atoi(rows[0][0])
	if err != nil {
		return Current{}, fmt.Errorf("reading account %s: max_user_connections is not a number", account(user, host))
	}
	return Current{Exists: true, MaxUserConnections: n}, nil
}

// query runs a query whose rows have one column.
func query(ctx context.Context, conn Admin, q string) ([]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	values := make([]string, 0, len(rows))
	for _, r := range rows {
		if len(r) != 1 {
			return nil, fmt.Errorf("%s: returned %d columns", q, len(r))
		}
		values = append(values, r[0])
	}
	return values, nil
}

// checkPrimary returns a *ReadOnlyError unless the server may be written to: on MySQL in
// a replication group, it must be an ONLINE PRIMARY; and its read_only and
// super_read_only (MySQL only) must be off (root could write despite read_only, which
// is why it is checked rather than left to the server).
func checkPrimary(ctx context.Context, conn Admin) error {
	notPrimary := &ReadOnlyError{Address: conn.Address()}
	inGroup := false
	uuid, err := query(ctx, conn, "SELECT @@GLOBAL.server_uuid")
	switch {
	case isMySQLError(err, mysqlerr.UnknownSystemVariable): // MariaDB: no group replication
	case err != nil:
		return err
	default:
		members, err := conn.Query(ctx, "SELECT MEMBER_ID, MEMBER_HOST, MEMBER_PORT, MEMBER_ROLE, MEMBER_STATE FROM performance_schema.replication_group_members")
		switch {
		case isMySQLError(err, mysqlerr.NoSuchTable, mysqlerr.BadField): // no such table, or before MySQL 8
		case err != nil:
			return fmt.Errorf("reading the replication group's members: %w", err)
		}
		selfID := ""
		if len(uuid) == 1 {
			selfID = uuid[0]
		}
		var self []string
		for _, m := range members {
			if len(m) != 5 {
				return errors.New("reading the replication group's members: not the columns asked for")
			}
			if selfID != "" && m[0] == selfID {
				self = m
			}
			if m[3] == "PRIMARY" && m[4] == "ONLINE" && m[0] != selfID && notPrimary.Primary == "" {
				notPrimary.Primary = m[1]
				if m[2] != "" && m[2] != "0" {
					notPrimary.Primary = net.JoinHostPort(m[1], m[2])
				}
			}
		}
		switch {
		case self == nil, self[4] == "OFFLINE":
			// Not in a group (a server on its own, or group replication stopped):
			// read_only decides.
		case self[4] != "ONLINE":
			notPrimary.Reason = fmt.Sprintf("it is a member of its replication group in state %s, not ONLINE", self[4])
			return notPrimary
		case self[3] != "PRIMARY":
			notPrimary.Reason = fmt.Sprintf("it is a %s of its replication group", self[3])
			return notPrimary
		default:
			inGroup = true
		}
	}
	for _, variable := range []string{"read_only", "super_read_only"} {
		value, err := query(ctx, conn, "SELECT @@GLOBAL."+variable)
		switch {
		case variable == "super_read_only" && isMySQLError(err, mysqlerr.UnknownSystemVariable):
			continue // MariaDB
		case err != nil:
			return err
		}
		if len(value) == 1 && (value[0] == "1" || strings.EqualFold(value[0], "ON")) {
			notPrimary.Reason = "its " + variable + " is ON"
			if inGroup {
				notPrimary.Reason += " (a primary while the group changes its primary)"
			}
			return notPrimary
		}
	}
	return nil
}

// passwordLength and passwordAlphabet: 40 characters of 62 are 238 bits, and need no
// quoting in a DSN, a YAML file or SQL.
const (
	passwordLength   = 40
	passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// GeneratePassword returns a random password of 40 letters and digits from crypto/rand,
// with at least one upper case letter, one lower case letter and one digit (which simple
// password policies ask for).
func GeneratePassword() (string, error) {
	const limit = 256 - 256%len(passwordAlphabet) // bytes at or over it would bias the draw
	for {
		pw := make([]byte, 0, passwordLength)
		buf := make([]byte, 64)
		for len(pw) < passwordLength {
			if _, err := rand.Read(buf); err != nil {
				return "", fmt.Errorf("generating a password: %w", err)
			}
			for _, b := range buf {
				if int(b) < limit && len(pw) < passwordLength {
					pw = append(pw, passwordAlphabet[int(b)%len(passwordAlphabet)])
				}
			}
		}
		s := string(pw)
		if strings.ContainsAny(s, passwordAlphabet[:26]) && strings.ContainsAny(s, passwordAlphabet[26:52]) && strings.ContainsAny(s, passwordAlphabet[52:]) {
			return s, nil
		}
	}
}
