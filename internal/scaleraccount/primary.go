package scaleraccount

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/go-sql-driver/mysql"
)

// DialFunc returns the address to dial for a MySQL host:port, or why innokeda may not
// connect there: the dry-run's host policy (dryrun.HostPolicy.DialAddress) over the
// cluster's servers, so the account is kept only where a dry-run may connect.
type DialFunc func(hostPort string) (string, error)

// OnPrimary connects with cfg (the cluster's root account) to the server cfg.Addr names,
// through dial, and runs do there. Account changes must be made on the group's primary:
// when do fails with a *ReadOnlyError that names the primary (Ensure and Remove read it
// from performance_schema.replication_group_members, whose MEMBER_HOST is the pod's
// @@report_host, a name under the instances service: mysql-operator
// mysqloperator/init_main.py sets it from fqdn.pod_fqdn), OnPrimary connects to that
// host, through dialPrimary (which should accept only the cluster's own members: the
// name comes from the server, and a server is not trusted to pick where innokeda sends
// the root password next), and runs do once more. A primary that moves again in the
// meantime is left for the next attempt: following the group around in a loop would
// be the retry storm a read-only server must not cause.
//
// ctx must have a deadline; it bounds both sessions.
func OnPrimary(ctx context.Context, cfg *mysql.Config, dial, dialPrimary DialFunc, do func(context.Context, Admin) error) error {
	connect := func(ctx context.Context, dialAddress string) (session, error) { return Connect(ctx, cfg, dialAddress) }
	return onPrimary(ctx, cfg.Addr, dial, dialPrimary, connect, do)
}

// session is an Admin to close.
type session interface {
	Admin
	Close() error
}

func onPrimary(ctx context.Context, addr string, dial, dialPrimary DialFunc, connect func(context.Context, string) (session, error), do func(context.Context, Admin) error) error {
	for hop := 0; ; hop++ {
		dialAddress, err := dial(addr)
		if err != nil {
			return fmt.Errorf("innokeda may not connect to %s: %w", addr, err)
		}
		conn, err := connect(ctx, dialAddress)
		if err != nil {
			return err
		}
		err = do(ctx, conn)
		_ = conn.Close()
		var readOnly *ReadOnlyError
		if hop > 0 || !errors.As(err, &readOnly) || readOnly.Primary == "" {
			return err
		}
		next := readOnly.Primary
		if _, _, splitErr := net.SplitHostPort(next); splitErr != nil {
			next = net.JoinHostPort(next, "3306")
		}
		if next == addr {
			return err
		}
		addr, dial = next, dialPrimary
	}
}
