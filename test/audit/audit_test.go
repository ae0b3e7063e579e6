package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// exec runs statements on MariaDB as its administrator.
func exec(t *testing.T, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := mariadb.Admin().ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// annotate sets an annotation on the stored cluster.
func annotate(t *testing.T, c client.Client, cluster *innodbcluster.InnoDBCluster, key, value string) {
	t.Helper()
	ctx := context.Background()
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	metav1.SetMetaDataAnnotation(&latest.ObjectMeta, key, value)
	if err := c.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
}

// cleanUpScaledObjects deletes the namespace's ScaledObjects when the test ends, so that
// the next test's innokeda does not audit them.
func cleanUpScaledObjects(t *testing.T, c client.Client, ns string) {
	t.Cleanup(func() {
		if err := c.DeleteAllOf(context.Background(), &kedav1alpha1.ScaledObject{}, client.InNamespace(ns)); err != nil {
			t.Errorf("delete the ScaledObjects of %s: %v", ns, err)
		}
	})
}

// TestAuditFollowsTheTablesAQueryReads: a table dropped after admission makes the audit
// fail with the denial's words, naming the table; recreated, the audit passes again. The
// ScaledObjects of a cluster that is not annotated are never audited.
func TestAuditFollowsTheTablesAQueryReads(t *testing.T) {
	const ns = "audit-tables"
	c := newClient(t, ns)
	ctx := context.Background()
	mgr := startInnokeda(t, auditOptions(ns, "mycluster", mariadb.Addr, time.Second, 50))
	cleanUpScaledObjects(t, c, ns)
	createCluster(t, c, mgr, gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Database, harness.Database)))
	createCluster(t, c, mgr, gen.InnoDBCluster(ns, "plain", gen.WithClusterAnnotation(annotations.Autofill, "")))
	exec(t, "CREATE TABLE testdb.audit_jobs (id INT PRIMARY KEY)", "INSERT INTO testdb.audit_jobs VALUES (1), (2)")
	t.Cleanup(func() { exec(t, "DROP TABLE IF EXISTS testdb.audit_jobs") })

	so := gen.ScaledObject(ns, "jobs", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM audit_jobs", "1"))
	mustCreate(t, c, so)
	plain := gen.ScaledObject(ns, "plain-jobs", "plain", gen.WithMySQLTrigger("SELECT COUNT(*) FROM audit_jobs", "1"),
		gen.WithTriggerMetadata(0, "host", innodbcluster.ServiceHost(innodbcluster.InstancesService("plain"), ns, "cluster.local"), "dbName", harness.Database),
		gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](3)))
	mustCreate(t, c, plain)
	waitForCache(t, mgr, so)
	waitForCache(t, mgr, plain)

	exec(t, "DROP TABLE testdb.audit_jobs")
	failed := waitForAuditEvent(t, c, so, corev1.EventTypeWarning, "AuditFailed", "Table 'testdb.audit_jobs' doesn't exist")
	want := "KEDA would fail on this ScaledObject: spec.triggers[0].metadata.query: Invalid value: MySQL rejected the query: MySQL error 1146 (ER_NO_SUCH_TABLE): Table 'testdb.audit_jobs' doesn't exist"
	if failed.Note != want || failed.Action != "Audit" || failed.ReportingController != "innokeda" {
		t.Errorf("event: note %q, action %q, reporter %q; want note %q", failed.Note, failed.Action, failed.ReportingController, want)
	}
	if got := gauge(t, "innokeda_audit_failing"); got != 1 {
		t.Errorf("innokeda_audit_failing = %v, want 1", got)
	}
	// Three more intervals: the annotated cluster's ScaledObject is audited each time, the
	// other one never.
	before := auditRuns(t)
	eventually(t, "three more failed audits", func(context.Context) (bool, error) {
		return auditRuns(t)["failed"] >= before["failed"]+3, nil
	})
	if events, err := auditEvents(ctx, c, plain); err != nil || len(events) > 0 {
		t.Errorf("the ScaledObject of a cluster that is not annotated was audited: %v (%v)", events, err)
	}
	stored := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Generation != 1 || len(stored.Status.Conditions) > 0 {
		t.Errorf("the audit changed the ScaledObject: generation %d, status %+v", stored.Generation, stored.Status)
	}

	exec(t, "CREATE TABLE testdb.audit_jobs (id INT PRIMARY KEY)")
	passed := waitForAuditEvent(t, c, so, corev1.EventTypeNormal, "AuditPassed", "passes innokeda's checks again")
	if !strings.Contains(passed.Note, "dry-run returned 0") {
		t.Errorf("AuditPassed note %q does not say what the dry-run returned", passed.Note)
	}
	eventually(t, "innokeda_audit_failing back to 0", func(context.Context) (bool, error) {
		return gauge(t, "innokeda_audit_failing") == 0, nil
	})
}

// TestAuditSaysAccessDeniedWithoutTheSecret: the password of the account a trigger uses
// changes in MySQL only; the audit fails saying access was denied, and nothing the
// Secret holds appears in the Event.
func TestAuditSaysAccessDeniedWithoutTheSecret(t *testing.T) {
	const (
		ns             = "audit-password"
		user           = "audit_reader_q7"
		password       = "first-Pw-4u7zK"
		rotatedInMySQL = "second-Pw-9k2xR"
	)
	c := newClient(t, ns)
	mgr := startInnokeda(t, auditOptions(ns, "mycluster", mariadb.Addr, time.Second, 50))
	cleanUpScaledObjects(t, c, ns)
	createCluster(t, c, mgr, gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Database, harness.Database)))
	exec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT SELECT ON testdb.* TO '%s'@'%%'", user))
	t.Cleanup(func() { exec(t, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", user)) })
	mustCreate(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"},
		StringData: map[string]string{"username": user, "password": password}})
	ta := &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{
			{Parameter: "username", Name: "reader", Key: "username"}, {Parameter: "password", Name: "reader", Key: "password"}}}}
	mustCreate(t, c, ta)
	waitForCache(t, mgr, ta)
	so := gen.ScaledObject(ns, "reads", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM testtable", "5"),
		gen.WithAuthenticationRef(0, "", "reader"))
	mustCreate(t, c, so)

	exec(t, fmt.Sprintf("ALTER USER '%s'@'%%' IDENTIFIED BY '%s'", user, rotatedInMySQL))
	failed := waitForAuditEvent(t, c, so, corev1.EventTypeWarning, "AuditFailed", "MySQL error 1045 (ER_ACCESS_DENIED_ERROR)")
	if !strings.Contains(failed.Note, "spec.triggers[0].authenticationRef: Invalid value: MySQL refused the connection") ||
		!strings.Contains(failed.Note, "check the user name, password and database the trigger resolves to") {
		t.Errorf("note %q does not say where to look", failed.Note)
	}
	event := asJSON(t, failed)
	for _, secret := range []string{user, password, rotatedInMySQL, mariadb.RootPassword} {
		if strings.Contains(event, secret) {
			t.Errorf("the Event holds the Secret's value %q: %s", secret, event)
		}
	}
}

// TestAuditFindsARevokedGrant: KEDA polls as the scaler account innokeda keeps; a grant
// revoked behind innokeda's back is what KEDA meets, and the audit says so instead of
// dry-running as root in the account's stead, as admission may before the first grant.
func TestAuditFindsARevokedGrant(t *testing.T) {
	const ns = "audit-grant"
	c := newClient(t, ns)
	ctx := context.Background()
	// 3 s: a new ScaledObject's first audit comes after the controller's grant.
	o := auditOptions(ns, "mycluster", mariadb.Addr, 3*time.Second, 50)
	o.ScalerAccounts = true
	// The controller keeps the account on the primary, which it dials by the pod's name.
	o.DryRunHostAliases[innodbcluster.StatefulSetName("mycluster")+"-0."+innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local")] = mariadb.Addr
	mgr := startInnokeda(t, o)
	cleanUpScaledObjects(t, c, ns)
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Database, harness.Database),
		gen.WithClusterAnnotation(annotations.ScalerAccount, "managed"))
	createCluster(t, c, mgr, cluster)
	t.Cleanup(func() { exec(t, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", managed.ScalerUser)) })
	eventually(t, "the TriggerAuthentication to map the scaler account", func(ctx context.Context) (bool, error) {
		ta := &kedav1alpha1.TriggerAuthentication{}
		err := mgr.GetCache().Get(ctx, client.ObjectKey{Namespace: ns, Name: managed.Name(cluster.Name)}, ta)
		return err == nil && managed.MapsScalerAccount(ta, cluster), client.IgnoreNotFound(err)
	})
	so := gen.ScaledObject(ns, "polls", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM testtable", "5"))
	mustCreate(t, c, so)
	granted := func(ctx context.Context) (bool, error) {
		grants, err := mariadb.Grants(ctx, managed.ScalerUser, "%")
		return slices.ContainsFunc(grants, func(g string) bool { return strings.Contains(g, "`testtable`") }), err
	}
	eventually(t, "the controller to grant SELECT on testtable", granted)
	passed := auditRuns(t)["passed"]
	eventually(t, "an audit that passes with the grant", func(context.Context) (bool, error) { return auditRuns(t)["passed"] > passed, nil })

	exec(t, fmt.Sprintf("REVOKE SELECT ON testdb.testtable FROM '%s'@'%%'", managed.ScalerUser))
	// Its only grant in testdb gone, the account may not even open the database the
	// trigger names.
	waitForAuditEvent(t, c, so, corev1.EventTypeWarning, "AuditFailed", "MySQL error 1044 (ER_DBACCESS_DENIED_ERROR): the user from Secret mycluster-innokeda-scaler key username")
	if ok, err := granted(ctx); err != nil || ok {
		t.Errorf("the grant is back already (%v): the test shows nothing", err)
	}
}

// admittedThenBroken starts innokeda auditing every interval, creates an annotated
// cluster in namespace ns and a ScaledObject reading table, which is dropped once the
// ScaledObject is admitted.
func admittedThenBroken(t *testing.T, ns, table string, interval time.Duration) (client.Client, *innodbcluster.InnoDBCluster, *kedav1alpha1.ScaledObject) {
	t.Helper()
	c := newClient(t, ns)
	mgr := startInnokeda(t, auditOptions(ns, "mycluster", mariadb.Addr, interval, 50))
	cleanUpScaledObjects(t, c, ns)
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Database, harness.Database))
	createCluster(t, c, mgr, cluster)
	exec(t, fmt.Sprintf("CREATE TABLE testdb.%s (id INT PRIMARY KEY)", table))
	t.Cleanup(func() { exec(t, "DROP TABLE IF EXISTS testdb."+table) })
	so := gen.ScaledObject(ns, "reads-"+strings.ReplaceAll(table, "_", "-"), "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM "+table, "1"))
	mustCreate(t, c, so)
	exec(t, "DROP TABLE testdb."+table)
	return c, cluster, so
}

// TestAuditComesAtOnceWhenTheClusterChanges: with an interval far beyond the test, a
// change to the cluster's annotations re-audits its ScaledObjects at once.
func TestAuditComesAtOnceWhenTheClusterChanges(t *testing.T) {
	c, cluster, so := admittedThenBroken(t, "audit-sooner", "audit_sooner", 24*time.Hour)
	annotate(t, c, cluster, "example.com/owner", "team-a")
	waitForAuditEvent(t, c, so, corev1.EventTypeWarning, "AuditFailed", "Table 'testdb.audit_sooner' doesn't exist")
}

// TestAuditComesAtOnceWhenTheRootSecretChanges: spec.secretName moved to a Secret with
// a wrong password; the controller points its TriggerAuthentication there, and the
// ScaledObjects that use it are re-audited at once, long before the interval.
func TestAuditComesAtOnceWhenTheRootSecretChanges(t *testing.T) {
	const ns = "audit-secret"
	c := newClient(t, ns)
	mgr := startInnokeda(t, auditOptions(ns, "mycluster", mariadb.Addr, 24*time.Hour, 50))
	cleanUpScaledObjects(t, c, ns)
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Database, harness.Database))
	createCluster(t, c, mgr, cluster)
	so := gen.ScaledObject(ns, "reads", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM testtable", "5"))
	mustCreate(t, c, so)

	// Its root user name, past MySQL's 128 characters, is never echoed in part either.
	rootUser := "Ru" + strings.Repeat("Zq8rTx4w", 20)
	moved := gen.Secret(cluster, rootUser, "not-the-password-4c9")
	moved.Name = "moved-secret"
	mustCreate(t, c, moved)
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	latest.Spec.SecretName = moved.Name
	if err := c.Update(context.Background(), latest); err != nil {
		t.Fatal(err)
	}
	failed := waitForAuditEvent(t, c, so, corev1.EventTypeWarning, "AuditFailed", "MySQL error 1045 (ER_ACCESS_DENIED_ERROR)")
	event := asJSON(t, failed)
	if strings.Contains(event, "not-the-password-4c9") {
		t.Errorf("the Event holds the Secret's value: %s", failed.Note)
	}
	if !strings.Contains(failed.Note, "the user name from Secret moved-secret key rootUser") {
		t.Errorf("the Event does not say where the user name came from: %s", failed.Note)
	}
	for i := 0; i+8 <= len(rootUser); i++ {
		if w := rootUser[i : i+8]; strings.Contains(event, w) {
			t.Fatalf("the Event holds %q of the Secret's user name: %s", w, failed.Note)
		}
	}
}

// TestNoAuditWhenTheIntervalIsZero: --audit-interval=0 audits nothing, not even on a
// change that would re-audit at once.
func TestNoAuditWhenTheIntervalIsZero(t *testing.T) {
	c, cluster, so := admittedThenBroken(t, "audit-off", "audit_off", 0)
	ctx := context.Background()
	before := auditRuns(t)
	annotate(t, c, cluster, "example.com/owner", "team-a")

	// Absence is watched for a bounded time: three times the interval the other tests
	// audit at, and the re-audit on a change comes within milliseconds there.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if events, err := auditEvents(ctx, c, so); err != nil || len(events) > 0 {
			t.Fatalf("audited with --audit-interval=0: %v (%v)", events, err)
		}
	}
	if after := auditRuns(t); total(after) != total(before) {
		t.Errorf("innokeda_audit_runs_total went from %v to %v with --audit-interval=0", before, after)
	}
}

// TestAuditKeepsToItsRateAndSlots: 300 ScaledObjects fall due at once (their cluster is
// annotated after they were created); the audit begins them no faster than --audit-rate
// and never holds more MySQL connections than its share of --dry-run-max-concurrent,
// even when MySQL stops answering. A proxy in front of MariaDB counts the connections.
func TestAuditKeepsToItsRateAndSlots(t *testing.T) {
	const (
		ns             = "audit-rate"
		scaledObjects  = 300
		rate           = 20.0
		maxConcurrent  = 4
		auditWorkers   = maxConcurrent / 2
		measuredAudits = 101 // 5 s at the rate
		// Two connections overlap when they do for longer than this: the proxy sees a
		// close a moment after innokeda makes it, and innokeda dials the next at once.
		slack = 50 * time.Millisecond
	)
	c := newClient(t, ns)
	proxy := harness.StartPlainProxy(t, mariadb.Addr)
	o := auditOptions(ns, "mycluster", proxy.Addr, 2*time.Second, rate)
	o.MaxConcurrentDryRuns, o.DryRunTimeout = maxConcurrent, time.Second
	mgr := startInnokeda(t, o)
	cleanUpScaledObjects(t, c, ns)
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.Autofill, ""))
	createCluster(t, c, mgr, cluster)
	createRootCredentials(t, c, ns)
	createDistinctScaledObjects(t, c, ns, "mycluster", "so", scaledObjects)
	waitForScaledObjects(t, mgr, ns, scaledObjects)
	if n := len(proxy.Spans()); n != 0 {
		t.Fatalf("%d connections for ScaledObjects of a cluster that is not annotated", n)
	}

	annotate(t, c, cluster, annotations.Autofill, "true")
	eventually(t, fmt.Sprintf("%d audits", measuredAudits), func(context.Context) (bool, error) {
		return len(proxy.Spans()) >= measuredAudits, nil
	})
	spans := proxy.Spans()[:measuredAudits]
	// With a burst of one, n audits take at least (n-1)/rate; a fifth of that is left for
	// the time between an audit's turn and its connection, on a loaded machine.
	span := spans[len(spans)-1].Start.Sub(spans[0].Start)
	minSpan := time.Duration(0.8 * float64(measuredAudits-1) / rate * float64(time.Second))
	// Dry-runs take milliseconds here, so the rate, not the slots, bounds the audit; the
	// slots are put to the test below, with dry-runs that last their whole budget.
	t.Logf("%d audits began in %v: %.1f per second at --audit-rate=%v; at most %d connections at once", len(spans), span.Round(time.Millisecond),
		float64(len(spans)-1)/span.Seconds(), rate, harness.MostAtOnce(spans, 0))
	if span < minSpan {
		t.Errorf("%d audits began within %v, faster than --audit-rate=%v allows (%v at least)", len(spans), span, rate, minSpan)
	}

	// MySQL stops answering: every audit waits out its budget, holding its connection.
	if err := mariadb.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := mariadb.Resume(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	stalled := len(proxy.Spans())
	unchecked := auditRuns(t)["unchecked"]
	eventually(t, "8 audits while MySQL does not answer", func(context.Context) (bool, error) {
		return len(proxy.Spans()) >= stalled+8 && auditRuns(t)["unchecked"] >= unchecked+4, nil
	})
	resume()
	most := harness.MostAtOnce(proxy.Spans()[stalled:], slack)
	t.Logf("while MySQL did not answer: at most %d connections at once", most)
	if most > auditWorkers {
		t.Errorf("%d connections at once while every dry-run waited out its budget, above the audit's %d of --dry-run-max-concurrent=%d", most, auditWorkers, maxConcurrent)
	}
}

// TestAuditPacesEachCluster: two clusters' ScaledObjects fall due at once (both are
// annotated after their ScaledObjects were created). Each cluster's are begun no faster
// than --audit-cluster-rate, but side by side: the fleet is audited faster than any one
// cluster may be, and no cluster waits behind another's turns. A proxy in front of MariaDB
// per cluster counts its connections.
func TestAuditPacesEachCluster(t *testing.T) {
	const (
		ns              = "audit-pace"
		perCluster      = 30
		globalRate      = 100.0
		clusterRate     = 4.0
		measuredAudits  = 13 // 3 s at the cluster's rate
		maxConcurrent   = 4
		clusterNameBase = "pace"
	)
	c := newClient(t, ns)
	names := []string{clusterNameBase + "-a", clusterNameBase + "-b"}
	o := auditOptions(ns, names[0], "", 2*time.Second, globalRate)
	o.AuditClusterRate, o.MaxConcurrentDryRuns = clusterRate, maxConcurrent
	proxies := map[string]*harness.SlowProxy{}
	for _, name := range names {
		proxies[name] = harness.StartPlainProxy(t, mariadb.Addr)
		o.DryRunHostAliases[innodbcluster.ServiceHost(innodbcluster.InstancesService(name), ns, "cluster.local")] = proxies[name].Addr
	}
	mgr := startInnokeda(t, o)
	cleanUpScaledObjects(t, c, ns)
	createRootCredentials(t, c, ns)
	var clusters []*innodbcluster.InnoDBCluster
	for _, name := range names {
		cluster := gen.InnoDBCluster(ns, name, gen.WithClusterAnnotation(annotations.Autofill, ""))
		createCluster(t, c, mgr, cluster)
		clusters = append(clusters, cluster)
		createDistinctScaledObjects(t, c, ns, name, name, perCluster)
	}
	waitForScaledObjects(t, mgr, ns, len(names)*perCluster)
	paced := samples(t, "innokeda_audit_cluster_paced_total")[""]

	for _, cluster := range clusters {
		annotate(t, c, cluster, annotations.Autofill, "true")
	}
	eventually(t, fmt.Sprintf("%d audits of each cluster", measuredAudits), func(context.Context) (bool, error) {
		return len(proxies[names[0]].Spans()) >= measuredAudits && len(proxies[names[1]].Spans()) >= measuredAudits, nil
	})
	// With a burst of one, n audits of a cluster take at least (n-1)/rate; a fifth of that
	// is left for the time between an audit's turn and its connection, on a loaded machine.
	minSpan := (measuredAudits - 1) * time.Second * 4 / 5 / clusterRate
	var lasts []time.Time
	for _, name := range names {
		spans := proxies[name].Spans()[:measuredAudits]
		span := spans[len(spans)-1].Start.Sub(spans[0].Start)
		t.Logf("cluster %s: %d audits began in %v: %.1f per second at --audit-cluster-rate=%v", name, len(spans), span.Round(time.Millisecond),
			float64(len(spans)-1)/span.Seconds(), clusterRate)
		if span < minSpan {
			t.Errorf("cluster %s: %d audits began within %v, faster than --audit-cluster-rate=%v allows (%v at least)", name, len(spans), span, clusterRate, minSpan)
		}
		lasts = append(lasts, spans[len(spans)-1].Start)
	}
	// Side by side: had one cluster's turns held the workers, the other's would have come
	// after them, a whole span later.
	if apart := lasts[1].Sub(lasts[0]).Abs(); apart > minSpan/2 {
		t.Errorf("the clusters' %dth audits began %v apart: one cluster's audits waited behind the other's", measuredAudits, apart)
	}
	if got := samples(t, "innokeda_audit_cluster_paced_total")[""] - paced; got < float64(len(names)*(measuredAudits-1)) {
		t.Errorf("innokeda_audit_cluster_paced_total rose by %v, want at least %d: every audit after each cluster's first waited for its turn", got, len(names)*(measuredAudits-1))
	}
}

// createRootCredentials creates Secret and TriggerAuthentication "creds" in ns, giving
// MariaDB's root password.
func createRootCredentials(t *testing.T, c client.Client, ns string) {
	t.Helper()
	mustCreate(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		StringData: map[string]string{"password": mariadb.RootPassword}})
	mustCreate(t, c, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "creds", Key: "password"}}}})
}

// createDistinctScaledObjects creates n ScaledObjects <prefix>-<i> of cluster, polling as
// root with "creds". Their queries differ, so that no two dry-runs share one connection.
func createDistinctScaledObjects(t *testing.T, c client.Client, ns, cluster, prefix string, n int) {
	t.Helper()
	host := innodbcluster.ServiceHost(innodbcluster.InstancesService(cluster), ns, "cluster.local")
	for i := range n {
		mustCreate(t, c, gen.ScaledObject(ns, fmt.Sprintf("%s-%03d", prefix, i), cluster,
			gen.WithMySQLTrigger(fmt.Sprintf("SELECT COUNT(*) FROM testtable WHERE id <> %d", i), "5"),
			gen.WithTriggerMetadata(0, "host", host, "port", "3306", "dbName", harness.Database, "username", "root"),
			gen.WithAuthenticationRef(0, "", "creds"), gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](3))))
	}
}

// waitForScaledObjects waits until mgr's cache holds n ScaledObjects in ns.
func waitForScaledObjects(t *testing.T, mgr *harness.RunningManager, ns string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("the cache has %d ScaledObjects", n), func(ctx context.Context) (bool, error) {
		list := &kedav1alpha1.ScaledObjectList{}
		err := mgr.GetCache().List(ctx, list, client.InNamespace(ns))
		return len(list.Items) == n, err
	})
}
