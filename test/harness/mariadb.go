package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// The accounts and data of a test MariaDB server, the classic KEDA example's.
const (
	AppUser     = "keda"
	AppPassword = "app-pw-Zq8!never-shown"
	Database    = "testdb"
)

// MariaDB is a throwaway MariaDB server on loopback, private to one test binary: its
// own data directory, port and socket, no system service involved. It offers TLS, as
// every MySQL Operator server does, unless started WithoutTLS.
type MariaDB struct {
	Addr         string // 127.0.0.1:port
	RootPassword string
	CA           []byte // PEM of the CA that signed the server's certificate; nil without TLS
	dir          string
	cmd          *exec.Cmd
	exited       chan struct{}
	admin        *sql.DB
}

// MariaDBOption changes how StartMariaDB starts a server.
type MariaDBOption func(*mariaDBOptions)

type mariaDBOptions struct{ withoutTLS bool }

// WithoutTLS starts a server that offers no TLS (for the tests of a plain-text stream).
func WithoutTLS() MariaDBOption { return func(o *mariaDBOptions) { o.withoutTLS = true } }

// StartMariaDB initialises and starts a server, then creates testdb.testtable (rows
// whose testcolumn2 is 'none' and 'done'), a least-privilege user AppUser that may only
// SELECT from and EXECUTE in testdb, and a stored function testdb.sneaky() that writes
// (SQL SECURITY DEFINER, defined by root), to prove that a dry-run cannot write even
// through a function.
func StartMariaDB(opts ...MariaDBOption) (*MariaDB, error) {
	if err := serversAllowed("a MariaDB server"); err != nil {
		return nil, err
	}
	var o mariaDBOptions
	for _, opt := range opts {
		opt(&o)
	}
	mariadbd, err := findBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := findBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "innokeda-mariadb-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return nil, err
	}
	out, err := exec.Command(installDB, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w: %s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{dir: dir, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), RootPassword: "root-pw-never-shown", exited: make(chan struct{})}
	args := []string{"--no-defaults", "--datadir=" + data, "--socket=" + m.socket(),
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin",
		"--skip-name-resolve", "--log-error=" + filepath.Join(dir, "error.log"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--max-connections=50", "--max-allowed-packet=64M", "--secure-file-priv=" + m.FileDir()}
	if !o.withoutTLS {
		caFile, certFile, keyFile, caPEM, err := serverTLS(dir)
		if err != nil {
			return nil, fmt.Errorf("TLS files: %w", err)
		}
		m.CA = caPEM
		args = append(args, "--ssl-ca="+caFile, "--ssl-cert="+certFile, "--ssl-key="+keyFile)
	}
	m.cmd = exec.Command(mariadbd, args...)
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mariadbd: %w", err)
	}
	go func() { _ = m.cmd.Wait(); close(m.exited) }()

	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User = "unix", m.socket(), "root"
	cfg.MultiStatements = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	m.admin = sql.OpenDB(connector)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-m.exited:
			return false, fmt.Errorf("mariadbd exited: %s", m.errorLog())
		default:
		}
		return m.admin.PingContext(ctx) == nil, nil
	}); err != nil {
		m.Stop()
		return nil, fmt.Errorf("wait for mariadbd: %w", err)
	}
	if _, err := m.admin.ExecContext(ctx, fmt.Sprintf(`
		CREATE DATABASE %[1]s;
		CREATE TABLE %[1]s.testtable (id INT AUTO_INCREMENT PRIMARY KEY, testcolumn VARCHAR(64), testcolumn2 VARCHAR(64), price DECIMAL(10,2));
		INSERT INTO %[1]s.testtable (testcolumn, testcolumn2, price) VALUES
			('a', 'none', 1.50), ('b', 'none', 2.00), ('c', 'none', NULL), ('d', 'done', 4.25), ('e', 'none', 5.00), ('f', 'none', 6.00),
			('g', 'none', 7.00), ('h', 'none', 8.00), ('i', 'none', 9.00), ('j', 'none', 10.00), ('k', 'none', 11.00), ('l', 'none', 12.00), ('m', 'none', 13.00);
		CREATE FUNCTION %[1]s.sneaky() RETURNS INT MODIFIES SQL DATA SQL SECURITY DEFINER
			BEGIN INSERT INTO %[1]s.testtable (testcolumn, testcolumn2) VALUES ('sneaky', 'none'); RETURN 1; END;
		CREATE USER '%[2]s'@'%%' IDENTIFIED BY '%[3]s';
		GRANT SELECT, EXECUTE ON %[1]s.* TO '%[2]s'@'%%';
		DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';
		CREATE USER 'root'@'%%' IDENTIFIED BY '%[4]s';
		GRANT ALL ON *.* TO 'root'@'%%' WITH GRANT OPTION;
		FLUSH PRIVILEGES;`, Database, AppUser, AppPassword, m.RootPassword)); err != nil {
		m.Stop()
		return nil, fmt.Errorf("set up test data: %w", err)
	}
	return m, nil
}

func (m *MariaDB) socket() string { return filepath.Join(m.dir, "sock") }

// FileDir is the only directory the server may write files into (secure_file_priv), so
// that a test can tell whether a query wrote one.
func (m *MariaDB) FileDir() string { return filepath.Join(m.dir, "files") }

// Snapshot is what a hostile query might change on the server: its schemas' tables and
// routines, its accounts and their privileges, its global variables, the files it may
// write, and testtable's contents.
type Snapshot struct {
	Tables, Routines, Accounts, Grants, Globals, Files []string
	Checksum                                           string
}

// Snapshot reads the server's state over the admin connection.
func (m *MariaDB) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Tables, err = m.column(ctx, "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'performance_schema') ORDER BY 1"); err != nil {
		return s, err
	}
	if s.Routines, err = m.column(ctx, "SELECT CONCAT(routine_schema, '.', routine_name) FROM information_schema.routines ORDER BY 1"); err != nil {
		return s, err
	}
	if s.Accounts, err = m.column(ctx, "SELECT CONCAT(user, '@', host, ' ', COALESCE(authentication_string, '')) FROM mysql.user ORDER BY 1"); err != nil {
		return s, err
	}
	if s.Grants, err = m.column(ctx, "SELECT CONCAT(grantee, ' ', privilege_type, ' ', is_grantable) FROM information_schema.user_privileges ORDER BY 1"); err != nil {
		return s, err
	}
	// Counters and clocks move by themselves; settings do not.
	if s.Globals, err = m.column(ctx, "SELECT CONCAT(variable_name, '=', COALESCE(variable_value, '')) FROM information_schema.global_variables "+
		"WHERE variable_name NOT IN ('TIMESTAMP', 'GTID_BINLOG_POS', 'GTID_CURRENT_POS', 'GTID_BINLOG_STATE') ORDER BY 1"); err != nil {
		return s, err
	}
	entries, err := os.ReadDir(m.FileDir())
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		s.Files = append(s.Files, e.Name())
	}
	s.Checksum, err = m.TableChecksum(ctx)
	return s, err
}

// Port is the server's TCP port.
func (m *MariaDB) Port() int {
	_, p, _ := net.SplitHostPort(m.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Admin is a root connection over the Unix socket, for checking the server's state.
func (m *MariaDB) Admin() *sql.DB { return m.admin }

// TableChecksum is a fingerprint of testdb.testtable's contents.
func (m *MariaDB) TableChecksum(ctx context.Context) (string, error) {
	var table string
	var sum sql.NullInt64
	err := m.admin.QueryRowContext(ctx, "CHECKSUM TABLE "+Database+".testtable").Scan(&table, &sum)
	return fmt.Sprint(sum.Int64), err
}

// Tables lists the tables of testdb.
func (m *MariaDB) Tables(ctx context.Context) ([]string, error) {
	return m.column(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", Database)
}

// ConnectAs opens a pool that connects as user over TCP, as KEDA does; the caller closes it.
func (m *MariaDB) ConnectAs(user, password string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.Timeout = "tcp", m.Addr, user, password, 5*time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// Grants returns SHOW GRANTS for user@host, sorted, with the password's hash replaced by
// '<hash>' (MariaDB prints it); nil when the account does not exist.
func (m *MariaDB) Grants(ctx context.Context, user, host string) ([]string, error) {
	var n int
	if err := m.admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", user, host).Scan(&n); err != nil || n == 0 {
		return nil, err
	}
	lines, err := m.column(ctx, "SHOW GRANTS FOR "+quoteAccount(user)+"@"+quoteAccount(host))
	// Dropped between the two statements (innokeda's controller drops accounts while tests
	// poll): no grants, as if the count had said so.
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == mysqlerr.NonexistingGrant {
		return nil, nil
	}
	for i := range lines {
		lines[i] = passwordHash.ReplaceAllString(lines[i], "IDENTIFIED BY PASSWORD '<hash>'")
	}
	slices.Sort(lines)
	return lines, err
}

var passwordHash = regexp.MustCompile(`IDENTIFIED BY PASSWORD '[^']*'`)

func quoteAccount(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Connections is the server's count of connection attempts so far (successful or not).
func (m *MariaDB) Connections(ctx context.Context) (int, error) {
	var name string
	var n int
	err := m.admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Connections'").Scan(&name, &n)
	return n, err
}

// TLSConnections is the server's count of connections that began TLS so far
// (Ssl_accepts): a session that counts in Connections but not here was plain text.
func (m *MariaDB) TLSConnections(ctx context.Context) (int, error) {
	var name string
	var n int
	err := m.admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").Scan(&name, &n)
	return n, err
}

// StatementCounts are the server's counts of statements run so far by kind (its Com_
// status counters), but for those a dry-run or a test's admin session runs itself: SELECT,
// SET, SHOW, KILL, CHECKSUM TABLE, pings, and the read-only transaction a dry-run runs in
// (BEGIN, ROLLBACK). A change in any other count between two
// readings means some session ran a statement that is not a read.
func (m *MariaDB) StatementCounts(ctx context.Context) (map[string]int, error) {
	rows, err := m.admin.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name LIKE 'Com\\_%' "+
		"AND Variable_name NOT IN ('Com_select', 'Com_set_option', 'Com_kill', 'Com_checksum', 'Com_admin_commands', 'Com_begin', 'Com_rollback') "+
		"AND Variable_name NOT LIKE 'Com\\_show\\_%'")
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	counts := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		counts[name] = n
	}
	return counts, rows.Err()
}

// RunningQueries lists the statements the server is executing for AppUser.
func (m *MariaDB) RunningQueries(ctx context.Context) ([]string, error) {
	return m.RunningQueriesOf(ctx, AppUser)
}

// RunningQueriesOf lists the statements the server is executing for user.
func (m *MariaDB) RunningQueriesOf(ctx context.Context, user string) ([]string, error) {
	return m.column(ctx, "SELECT COALESCE(info, '') FROM information_schema.processlist WHERE user = ? AND command = 'Query' AND id <> CONNECTION_ID()", user)
}

// SessionsOf counts the connections user has open.
func (m *MariaDB) SessionsOf(ctx context.Context, user string) (int, error) {
	var n int
	err := m.admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE user = ? AND id <> CONNECTION_ID()", user).Scan(&n)
	return n, err
}

// column runs an admin query that returns one string column.
func (m *MariaDB) column(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := m.admin.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var values []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	return values, rows.Err()
}

// Pause freezes the server process (SIGSTOP): connections hang instead of failing.
func (m *MariaDB) Pause() error { return m.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume thaws a paused server.
func (m *MariaDB) Resume() error { return m.cmd.Process.Signal(syscall.SIGCONT) }

// Stop shuts the server down and removes its files.
func (m *MariaDB) Stop() {
	if m.admin != nil {
		_ = m.admin.Close()
	}
	_ = m.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot shut down
	terminate(m.cmd.Process, m.exited, 20*time.Second)
	_ = os.RemoveAll(m.dir)
}

func (m *MariaDB) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
	return string(b)
}

// findBinary looks in PATH, then in the sbin directories Debian installs servers into.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New(name + " not found: install mariadb-server (apt-get install -y mariadb-server)")
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// The guard admits no function that waits or builds a long value, so the tests that need
// a slow query or a large value read them from tables of schema bulk (outside testdb, whose
// tables some tests list), which AppUser may read.

// bulkSetup creates schema bulk and lets AppUser read it.
func (m *MariaDB) bulkSetup(ctx context.Context) error {
	_, err := m.admin.ExecContext(ctx, fmt.Sprintf(`
		CREATE DATABASE IF NOT EXISTS bulk;
		CREATE TABLE IF NOT EXISTS bulk.held (a INT);
		CREATE TABLE IF NOT EXISTS bulk.long_values (n INT PRIMARY KEY, v LONGTEXT);
		GRANT SELECT ON bulk.* TO '%s'@'%%';`, AppUser))
	return err
}

// HoldTable makes a query that waits until release is called: another session holds a
// write lock on the table it reads. Release is also called when the test ends.
func (m *MariaDB) HoldTable(t testing.TB) (query string, release func()) {
	t.Helper()
	ctx := context.Background()
	if err := m.bulkSetup(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := m.admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES bulk.held WRITE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
			_ = conn.Close()
		})
	}
	t.Cleanup(release)
	return "SELECT COUNT(*) FROM bulk.held", release
}

// LongValueQuery returns a query whose one value is a string of n bytes.
func (m *MariaDB) LongValueQuery(t testing.TB, n int) string {
	t.Helper()
	ctx := context.Background()
	if err := m.bulkSetup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.admin.ExecContext(ctx, "INSERT IGNORE INTO bulk.long_values SELECT ?, REPEAT('x', ?)", n, n); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("SELECT v FROM bulk.long_values WHERE n = %d", n)
}
