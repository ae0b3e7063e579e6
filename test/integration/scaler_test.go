package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/controller"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/scaleraccount"
	"github.com/innokeda/innokeda/test/gen"
)

// TestManagedScalerAccount: through the real API server and a real MariaDB, a cluster
// annotated innokeda.io/scaler-account: managed gets a least-privilege account; its
// TriggerAuthentication switches to it; the grants follow the ScaledObjects; a read-only
// server gets a clear Event; removing the annotation restores root, then drops the account.
func TestManagedScalerAccount(t *testing.T) {
	const ns = "scaler"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "root")
	taKey := client.ObjectKey{Namespace: ns, Name: managed.Name(cluster.Name)}
	secretKey := client.ObjectKey{Namespace: ns, Name: managed.ScalerSecretName(cluster.Name)}

	// The server offers TLS, as the MySQL Operator's do: the controller's root sessions
	// use it (Ssl_accepts counts them; KEDA's host-and-port DSN in the dry-runs does not).
	tlsBefore, err := mariadb.TLSConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	annotate(t, c, cluster, annotations.ScalerAccount, "managed")

	var password string
	t.Run("the TriggerAuthentication switches to the scaler Secret", func(t *testing.T) {
		eventually(t, "the TriggerAuthentication to map the scaler Secret", func(ctx context.Context) (bool, error) {
			ta := &kedav1alpha1.TriggerAuthentication{}
			if err := c.Get(ctx, taKey, ta); err != nil {
				return false, err
			}
			return slices.Equal(ta.Spec.SecretTargetRef, managed.ScalerTriggerAuthentication(cluster).Spec.SecretTargetRef), nil
		})
		secret := &corev1.Secret{}
		if err := c.Get(ctx, secretKey, secret); err != nil {
			t.Fatal(err)
		}
		owner := metav1.GetControllerOf(secret)
		if owner == nil || string(owner.UID) != currentUID(t, c, cluster) || owner.Kind != innodbcluster.Kind {
			t.Errorf("Secret %s is controlled by %+v, not the InnoDBCluster", secret.Name, owner)
		}
		password = string(secret.Data[managed.ScalerSecretKeyPassword])
		if got := string(secret.Data[managed.ScalerSecretKeyUsername]); got != managed.ScalerUser || len(password) < 32 {
			t.Fatalf("Secret holds username %q and a password of %d characters", got, len(password))
		}
		waitForEvent(t, c, cluster, corev1.EventTypeNormal, controller.ReasonScalerAccountReady, "Created MySQL account innokeda_scaler@'%'")
		if got := scalerGrants(t); len(got) != 1 || !strings.HasPrefix(got[0], "GRANT USAGE ON *.* TO `innokeda_scaler`@`%`") || !strings.Contains(got[0], "MAX_USER_CONNECTIONS") {
			t.Errorf("grants before any ScaledObject: %q", got)
		}
		if after, err := mariadb.TLSConnections(ctx); err != nil || after <= tlsBefore {
			t.Errorf("Ssl_accepts went from %d to %d (%v): the account was not kept over TLS", tlsBefore, after, err)
		}
	})

	t.Run("the connection limit leaves room for every serving replica's dry-runs", func(t *testing.T) {
		// No trigger yet: KEDA's share is its minimum, each of the three replicas' dry-runs
		// have theirs (scaleraccount.ConnectionLimit).
		want := scaleraccount.ConnectionLimit(0, servingReplicas*managerOptions.MaxConcurrentDryRuns)
		if got := scalerGrants(t); len(got) != 1 || !strings.HasSuffix(got[0], fmt.Sprintf("MAX_USER_CONNECTIONS %d", want)) {
			t.Fatalf("grants %q, want MAX_USER_CONNECTIONS %d for --serving-replicas=%d x --dry-run-max-concurrent=%d", got, want, servingReplicas, managerOptions.MaxConcurrentDryRuns)
		}
		// The server holds to it: as many sessions at once as it says, and not one more.
		db := asScaler(t, password)
		var held []*sql.Conn
		t.Cleanup(func() {
			for _, c := range held {
				_ = c.Close()
			}
		})
		for range want {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatalf("session %d of the %d the limit allows: %v", len(held)+1, want, err)
			}
			held = append(held, conn)
		}
		conn, err := db.Conn(ctx)
		if err == nil {
			_ = conn.Close()
			t.Fatalf("a session beyond MAX_USER_CONNECTIONS %d was accepted", want)
		}
		var myErr *mysql.MySQLError
		if !errors.As(err, &myErr) || (myErr.Number != 1203 && myErr.Number != 1226) {
			t.Errorf("session %d: %v, want the account's connection limit (1203 or 1226)", want+1, err)
		}
	})

	var rows string
	if err := mariadb.Admin().QueryRowContext(ctx, "SELECT COUNT(*) FROM testdb.testtable").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	so := gen.ScaledObject(ns, "seed", cluster.Name, gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"))
	t.Run("a new ScaledObject: admitted before the grant, then granted", func(t *testing.T) {
		warnings.Take()
		mustCreate(t, c, so)
		got := strings.Join(warnings.Take(), "\n")
		// Read as root over a table the account has not been granted: the value is not shown.
		if !strings.Contains(got, "MySQL account innokeda_scaler has no SELECT yet") || !strings.Contains(got, "dry-run as root returned one number in") || strings.Contains(got, "dry-run returned "+rows) {
			t.Errorf("warnings:\n%s", got)
		}
		waitForEvent(t, c, cluster, corev1.EventTypeNormal, controller.ReasonScalerGrantsUpdated, "granted SELECT ON `testdb`.`testtable`")
		want := []string{"GRANT SELECT ON `testdb`.`testtable` TO `innokeda_scaler`@`%`"}
		if got := scalerGrants(t); len(got) != 2 || !slices.Equal(got[:1], want) {
			t.Errorf("grants %q, want %q", got, want)
		}
	})

	t.Run("the dry-run now succeeds as the account", func(t *testing.T) {
		warnings.Take()
		updateScaledObject(t, c, so, func(so *kedav1alpha1.ScaledObject) {
			so.Spec.Triggers[0].Metadata["queryValue"] = "2"
		})
		got := strings.Join(warnings.Take(), "\n")
		if strings.Contains(got, "no SELECT yet") || !strings.Contains(got, "dry-run returned "+rows+" in") {
			t.Errorf("warnings:\n%s", got)
		}
	})

	t.Run("connected as the account, only the query's table can be read", func(t *testing.T) {
		db := asScaler(t, password)
		var n string
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM testdb.testtable").Scan(&n); err != nil || n != rows {
			t.Fatalf("the seed query as the account: %s, %v", n, err)
		}
		for _, stmt := range []string{
			"INSERT INTO testdb.testtable (testcolumn, testcolumn2) VALUES ('x', 'y')",
			"CREATE TABLE testdb.created (id INT)",
			"SELECT COUNT(*) FROM mysql.user",
			"SET GLOBAL max_connections = 10",
		} {
			if _, err := db.ExecContext(ctx, stmt); err == nil {
				t.Errorf("%s: succeeded as the scaler account", stmt)
			}
		}
	})

	t.Run("a query that no longer reads the table revokes it", func(t *testing.T) {
		updateScaledObject(t, c, so, func(so *kedav1alpha1.ScaledObject) {
			so.Spec.Triggers[0].Metadata["query"] = "SELECT COUNT(*) FROM information_schema.schemata"
			delete(so.Spec.Triggers[0].Metadata, "dbName") // the account will have nothing in testdb
		})
		waitForEvent(t, c, cluster, corev1.EventTypeNormal, controller.ReasonScalerGrantsUpdated, "revoked SELECT ON `testdb`.`testtable`")
		if got := scalerGrants(t); len(got) != 1 {
			t.Errorf("grants %q, want USAGE only", got)
		}
	})

	t.Run("deleting the ScaledObject revokes", func(t *testing.T) {
		updateScaledObject(t, c, so, func(so *kedav1alpha1.ScaledObject) {
			so.Spec.Triggers[0].Metadata["query"] = "SELECT COUNT(*) FROM testdb.testtable"
		})
		eventually(t, "the grant to come back", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 2, nil })
		if err := c.Delete(ctx, so); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the grant to go with the ScaledObject", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 1, nil })
	})

	t.Run("the owner's bound: nothing outside it is granted, admitted or dry-run", func(t *testing.T) {
		bounded := gen.ScaledObject(ns, "bounded", cluster.Name, gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"))
		mustCreate(t, c, bounded)
		eventually(t, "the grant for the ScaledObject", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 2, nil })

		annotate(t, c, cluster, annotations.AllowedTables, "privdb.*")
		// Granted before the bound was set: revoked, read back from SHOW GRANTS.
		eventually(t, "the grant outside the bound to be revoked", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 1, nil })
		if got := scalerGrants(t); !strings.HasPrefix(got[0], "GRANT USAGE ON *.* TO `innokeda_scaler`@`%`") {
			t.Errorf("grants %q, want USAGE only", got)
		}
		waitForEvent(t, c, cluster, corev1.EventTypeWarning, controller.ReasonScalerTriggerNotGranted, "outside what InnoDBCluster mycluster allows (annotation innokeda.io/allowed-tables)")
		before, err := mariadb.Connections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Create(ctx, gen.ScaledObject(ns, "outside", cluster.Name, gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1")))
		if err == nil || !strings.Contains(err.Error(), "the query reads testdb.testtable, outside what InnoDBCluster mycluster allows") {
			t.Errorf("a ScaledObject reading outside the bound: %v", err)
		}
		if after, err := mariadb.Connections(ctx); err != nil || after != before {
			t.Errorf("MySQL saw %d connection(s) for a ScaledObject outside the bound (%v), want none", after-before, err)
		}

		annotate(t, c, cluster, annotations.AllowedTables, "")
		eventually(t, "the grant to come back without the bound", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 2, nil })
		if err := c.Delete(ctx, bounded); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the grant to go with the ScaledObject", func(context.Context) (bool, error) { return len(scalerGrants(t)) == 1, nil })
	})

	t.Run("a read-only server: a clear Event, the TriggerAuthentication kept", func(t *testing.T) {
		setReadOnly(t, true)
		t.Cleanup(func() { setReadOnly(t, false) })
		failuresBefore := counter(t, "innokeda_scaler_account_failures_total", "step", "FindPrimary")
		mustCreate(t, c, gen.ScaledObject(ns, "again", cluster.Name, gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1")))
		note := waitForEvent(t, c, cluster, corev1.EventTypeWarning, controller.ReasonScalerAccountFailed, "is not the primary: its read_only is ON")
		if failures := counter(t, "innokeda_scaler_account_failures_total", "step", "FindPrimary"); failures <= failuresBefore {
			t.Errorf("innokeda_scaler_account_failures_total{step=FindPrimary} %v, then %v: the failure is not counted", failuresBefore, failures)
		}
		if !strings.Contains(note, "innokeda tries again in 1m0s") {
			t.Errorf("event: %s", note)
		}
		ta := &kedav1alpha1.TriggerAuthentication{}
		if err := c.Get(ctx, taKey, ta); err != nil || !managed.MapsScalerAccount(ta, cluster) {
			t.Errorf("the TriggerAuthentication no longer maps the account that works: %v", err)
		}
		setReadOnly(t, false)
	})

	t.Run("removing the annotation restores root, then drops the account and the Secret", func(t *testing.T) {
		annotate(t, c, cluster, annotations.ScalerAccount, "")
		eventually(t, "the Secret to be deleted", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, secretKey, &corev1.Secret{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		ta := &kedav1alpha1.TriggerAuthentication{}
		if err := c.Get(ctx, taKey, ta); err != nil {
			t.Fatal(err)
		}
		if want := managed.TriggerAuthentication(cluster, true).Spec.SecretTargetRef; !slices.Equal(ta.Spec.SecretTargetRef, want) {
			t.Errorf("TriggerAuthentication maps %+v, want root's %+v", ta.Spec.SecretTargetRef, want)
		}
		var accounts int
		if err := mariadb.Admin().QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ?", managed.ScalerUser).Scan(&accounts); err != nil || accounts != 0 {
			t.Errorf("%d accounts %s left (%v)", accounts, managed.ScalerUser, err)
		}
		waitForEvent(t, c, cluster, corev1.EventTypeNormal, controller.ReasonScalerAccountRemoved, "Dropped MySQL account innokeda_scaler@'%' and deleted Secret mycluster-innokeda-scaler")
		eventually(t, "the TriggerAuthentication to drop its record of the account", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, taKey, ta)
			return err == nil && !managed.ScalerAccountRecorded(ta), err
		})
	})

	t.Run("switching with ScaledObjects in place: KEDA keeps its connections, and innokeda says so", func(t *testing.T) {
		annotate(t, c, cluster, annotations.ScalerAccount, "managed")
		note := waitForEvent(t, c, cluster, corev1.EventTypeWarning, controller.ReasonKEDAStillPollsAsRoot, "ScaledObject(s) again")
		if !strings.Contains(note, "kubectl rollout restart deployment keda-operator -n keda") {
			t.Errorf("event: %s", note)
		}
		annotate(t, c, cluster, annotations.ScalerAccount, "root")
		eventually(t, "the account to be dropped again", func(context.Context) (bool, error) { return scalerGrants(t) == nil, nil })
	})

	t.Run("no password in any event", func(t *testing.T) {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			if strings.Contains(e.Note, password) || strings.Contains(e.Note, mariadb.RootPassword) {
				t.Errorf("event %s holds a password", e.Reason)
			}
		}
		if len(list.Items) < 5 {
			t.Errorf("only %d events checked", len(list.Items))
		}
	})
}

// currentUID reads the cluster's UID from the API server.
func currentUID(t *testing.T, c client.Client, cluster *innodbcluster.InnoDBCluster) string {
	t.Helper()
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	return string(latest.UID)
}

// updateScaledObject changes the stored ScaledObject so through change.
func updateScaledObject(t *testing.T, c client.Client, so *kedav1alpha1.ScaledObject, change func(*kedav1alpha1.ScaledObject)) {
	t.Helper()
	latest := &kedav1alpha1.ScaledObject{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(so), latest); err != nil {
		t.Fatal(err)
	}
	change(latest)
	if err := c.Update(context.Background(), latest); err != nil {
		t.Fatal(err)
	}
}

// scalerGrants returns SHOW GRANTS of the scaler account, sorted: USAGE last.
func scalerGrants(t *testing.T) []string {
	t.Helper()
	grants, err := mariadb.Grants(context.Background(), managed.ScalerUser, managed.ScalerHost)
	if err != nil {
		t.Fatal(err)
	}
	return grants
}

// asScaler opens a pool that connects as the scaler account over TCP, as KEDA does.
func asScaler(t *testing.T, password string) *sql.DB {
	t.Helper()
	db, err := mariadb.ConnectAs(managed.ScalerUser, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func setReadOnly(t *testing.T, on bool) {
	t.Helper()
	value := "OFF"
	if on {
		value = "ON"
	}
	if _, err := mariadb.Admin().ExecContext(context.Background(), "SET GLOBAL read_only = "+value); err != nil {
		t.Fatal(err)
	}
}
