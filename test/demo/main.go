// Command demo shows innokeda at work without a cluster: it starts a real kube-apiserver
// and etcd (envtest) and a throwaway MariaDB, runs the innokeda binary against them with
// its webhooks registered over TLS, creates an InnoDBCluster shaped like the MySQL
// Operator's, annotated for a managed scaler account (the recommended setup), and shows
// the account innokeda keeps for KEDA; then a ScaledObject written the way people get it
// wrong, one whose query returns NULL, one that reads mysql.user, and one whose query hides
// a DROP TABLE, and prints what was stored, granted and what the client was told. It stops
// everything when done.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

func main() {
	binary := flag.String("innokeda", "bin/innokeda", "Path to the innokeda binary.")
	flag.Parse()
	if err := run(*binary); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(binary string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	step("Starting a kube-apiserver and etcd (envtest) with KEDA's CRDs and the InnoDBCluster CRD")
	cp, err := harness.StartControlPlane()
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()

	step("Starting a throwaway MariaDB server with testdb.testtable, standing in for the cluster's MySQL")
	db, err := harness.StartMariaDB()
	if err != nil {
		return err
	}
	defer db.Stop()

	const ns = "mysql-cluster"
	// No cluster DNS here: the cluster's service name is mapped to the local server (once
	// innokeda has checked, through the API server, that the name is the operator's Service).
	alias := innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local") + "=" + db.Addr
	step("Running " + binary + " --scaler-accounts --audit-interval=2s --dry-run-host-alias " + alias + " (and the kubeconfig, certificate and ports of this control plane)")
	innokeda, err := harness.StartProcess(cp, binary, harness.Admin, cp.Env.WebhookInstallOptions.LocalServingPort,
		"--scaler-accounts", "--audit-interval=2s", "--dry-run-host-alias", alias)
	if err != nil {
		return err
	}
	defer innokeda.Stop()
	fmt.Println("innokeda is ready (/readyz answered 200)")

	c, warnings, err := cp.Client()
	if err != nil {
		return err
	}
	step("Creating namespace " + ns + ", InnoDBCluster mycluster (annotated innokeda.io/autofill: \"true\" and innokeda.io/scaler-account: managed), its Secret, and the StatefulSet, Services and pods the MySQL Operator and Kubernetes would create")
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.ScalerAccount, "managed"), gen.WithReadReplica("reporting", 1))
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, gen.Secret(cluster, "", db.RootPassword), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
	}
	if _, err := harness.CreateOperatorObjects(ctx, c, cluster); err != nil {
		return err
	}
	// spec.readReplicas: [{name: reporting, instances: 1}]: the operator's StatefulSet for it.
	if err := c.Create(ctx, gen.ReadReplicaStatefulSet(cluster, "reporting")); err != nil {
		return err
	}
	ta := &kedav1alpha1.TriggerAuthentication{}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}, ta)
		return err == nil && managed.MapsScalerAccount(ta, cluster), client.IgnoreNotFound(err)
	}); err != nil {
		return fmt.Errorf("innokeda's controller did not switch the TriggerAuthentication to the scaler account (log: %s): %w", innokeda.LogTail(), err)
	}
	step("innokeda's controller created MySQL account " + managed.ScalerUser + " (no privileges yet), its password in Secret " +
		managed.ScalerSecretName("mycluster") + ", and TriggerAuthentication mycluster-innokeda, which maps it: KEDA never polls as root")
	if err := printYAML(ta.Spec); err != nil {
		return err
	}

	so := gen.ScaledObject(ns, "mycluster-scaler", "mycluster",
		gen.WithEnvSourceContainer(".spec.template.spec.containers[0]"),
		gen.WithMySQLTrigger("SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'", "3"))
	step("Creating this ScaledObject (no host, no credentials, no replica bounds, a wrong container name):")
	if err := printYAML(so.Spec); err != nil {
		return err
	}
	// The cache may still be catching up with the StatefulSet just created: retry until
	// innokeda has filled the object, as a user would re-apply.
	stored := &kedav1alpha1.ScaledObject{}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_ = c.Delete(ctx, so.DeepCopy())
		attempt := so.DeepCopy()
		warnings.Take()
		if err := c.Create(ctx, attempt); err != nil {
			return false, err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
			return false, err
		}
		return stored.Annotations["innokeda.io/autofilled"] != "", nil
	})
	if err != nil {
		return fmt.Errorf("the ScaledObject was never filled (log: %s): %w", innokeda.LogTail(), err)
	}
	step("The API server answered with these warnings from innokeda:")
	for _, w := range warnings.Take() {
		fmt.Println("  Warning:", w)
	}
	step("And stored this spec:")
	if err := printYAML(stored.Spec); err != nil {
		return err
	}
	fmt.Printf("annotation innokeda.io/autofilled: %s\n", stored.Annotations["innokeda.io/autofilled"])

	readReplicas := gen.ScaledObject(ns, "reporting-scaler", "mycluster-reporting",
		gen.WithMySQLTrigger("SELECT CEIL(COUNT(*) / 2) FROM testdb.testtable", "1"), gen.WithReplicas(nil, ptr.To[int32](12)))
	step("Creating a ScaledObject for the read replicas' StatefulSet mycluster-reporting (read load: not group members, no 9-member limit):")
	if err := printYAML(readReplicas.Spec); err != nil {
		return err
	}
	warnings.Take()
	if err := c.Create(ctx, readReplicas); err != nil {
		return fmt.Errorf("the read-replica ScaledObject was refused: %w", err)
	}
	for _, w := range warnings.Take() {
		fmt.Println("  Warning:", w)
	}
	storedRR := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(readReplicas), storedRR); err != nil {
		return err
	}
	fmt.Printf("Stored: minReplicaCount %d (the read replica's instances), maxReplicaCount %d, envSourceContainerName %s, no pacing (advanced: %v)\n",
		*storedRR.Spec.MinReplicaCount, *storedRR.Spec.MaxReplicaCount, storedRR.Spec.ScaleTargetRef.EnvSourceContainerName, storedRR.Spec.Advanced != nil)

	step("innokeda's controller granted the account SELECT on exactly the table the query reads (SHOW GRANTS, by an admin connection):")
	var grants []string
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		grants, err = db.Grants(ctx, managed.ScalerUser, managed.ScalerHost)
		return len(grants) == 2, err
	}); err != nil {
		return fmt.Errorf("the account was never granted the query's table (grants %q; log: %s): %w", grants, innokeda.LogTail(), err)
	}
	for _, g := range grants {
		fmt.Println("  " + g)
	}
	step("Events on InnoDBCluster mycluster:")
	events := &eventsv1.EventList{}
	if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, e := range events.Items {
		if strings.HasPrefix(e.Reason, "Scaler") {
			fmt.Printf("  %s %s: %s\n", e.Type, e.Reason, e.Note)
		}
	}

	bad := gen.ScaledObject(ns, "null-scaler", "mycluster",
		gen.WithMySQLTrigger("SELECT price FROM testdb.testtable WHERE testcolumn = 'c'", "3"))
	step("Creating a second ScaledObject whose query returns NULL (KEDA would fail on every poll):")
	if err := printYAML(bad.Spec.Triggers); err != nil {
		return err
	}
	if err := c.Create(ctx, bad); err == nil {
		return errors.New("the NULL-returning ScaledObject was admitted")
	} else {
		fmt.Println("Error from server:", err)
	}

	secrets := gen.ScaledObject(ns, "secrets-scaler", "mycluster",
		gen.WithMySQLTrigger("SELECT COUNT(*) FROM mysql.user", "3"))
	step("Creating a ScaledObject whose query reads mysql.user, which the scaler account may never be granted:")
	if err := printYAML(secrets.Spec.Triggers); err != nil {
		return err
	}
	if err := c.Create(ctx, secrets); err == nil {
		return errors.New("the ScaledObject reading mysql.user was admitted")
	} else {
		fmt.Println("Error from server:", err)
	}

	// A query that hides a DROP in a comment MariaDB skips and a parser would read: it is
	// refused before anything is sent, and the table is still there.
	hostile := gen.ScaledObject(ns, "hostile", "mycluster",
		gen.WithMySQLTrigger("/*!99999 SELECT '*/ DROP TABLE testdb.testtable -- '*/", "3"))
	step("Creating a third ScaledObject whose query hides a DROP TABLE in an executable comment:")
	if err := printYAML(hostile.Spec.Triggers); err != nil {
		return err
	}
	if err := c.Create(ctx, hostile); err == nil {
		return errors.New("the hostile ScaledObject was admitted")
	} else {
		fmt.Println("Error from server:", err)
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("Tables of testdb afterwards, read by an admin connection: %s\n", strings.Join(tables, ", "))

	step("Zero YAML: annotating the InnoDBCluster with innokeda.io/query and innokeda.io/query-value instead")
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		return err
	}
	latest.Annotations[annotations.Query] = "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2='none'"
	latest.Annotations[annotations.QueryValue] = "4"
	if err := c.Update(ctx, latest); err != nil {
		return err
	}
	generated := &kedav1alpha1.ScaledObject{}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: managed.Name("mycluster")}, generated)
		return err == nil, client.IgnoreNotFound(err)
	}); err != nil {
		return fmt.Errorf("no generated ScaledObject (log: %s): %w", innokeda.LogTail(), err)
	}
	fmt.Printf("innokeda's controller generated ScaledObject %s; the webhooks filled and dry-run it:\n", generated.Name)
	if err := printYAML(generated.Spec); err != nil {
		return err
	}

	// After admission: the table the queries read is renamed, then renamed back.
	step("Renaming testdb.testtable, which the admitted ScaledObject reads; innokeda's audit (every 2s here, 5m by default) notices:")
	if _, err := db.Admin().ExecContext(ctx, "RENAME TABLE testdb.testtable TO testdb.testtable_old"); err != nil {
		return err
	}
	note, err := waitForAuditEvent(ctx, c, so, "AuditFailed")
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, innokeda.LogTail())
	}
	fmt.Printf("Warning AuditFailed on ScaledObject %s: %s\n", so.Name, note)
	step("Renaming it back:")
	if _, err := db.Admin().ExecContext(ctx, "RENAME TABLE testdb.testtable_old TO testdb.testtable"); err != nil {
		return err
	}
	if note, err = waitForAuditEvent(ctx, c, so, "AuditPassed"); err != nil {
		return fmt.Errorf("%w (log: %s)", err, innokeda.LogTail())
	}
	fmt.Printf("Normal AuditPassed on ScaledObject %s: %s\n", so.Name, note)

	step("innokeda's metrics (" + innokeda.MetricsAddr + "/metrics):")
	lines, err := innokeda.Metrics("innokeda_")
	if err != nil {
		return err
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, " 0") && !strings.Contains(l, "_bucket") {
			fmt.Println("  " + l)
		}
	}
	return nil
}

// waitForAuditEvent waits for an Event of reason about so and returns its note.
func waitForAuditEvent(ctx context.Context, c client.Client, so *kedav1alpha1.ScaledObject, reason string) (string, error) {
	var note string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(so.Namespace)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Regarding.Kind == "ScaledObject" && e.Regarding.Name == so.Name && e.Reason == reason {
				note = e.Note
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("no Event %s about ScaledObject %s: %w", reason, so.Name, err)
	}
	return note, nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func printYAML(v any) error {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Print(string(out))
	return nil
}
