package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
)

// TestDryRunDialsOnlyTheOperatorsServers plays someone who may create Services and pods in
// the cluster's namespace and wants the dry-run's handshake (the root account's) to reach
// a server of theirs: a cluster DNS name of the cluster is dialed only when the API
// objects behind it are the MySQL Operator's. The names are aliased to the test's MariaDB,
// so a dial that should not happen would show in its connection count.
func TestDryRunDialsOnlyTheOperatorsServers(t *testing.T) {
	const ns = "impostor"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	instances := innodbcluster.ServiceHost("mycluster-instances", ns, "cluster.local")
	member0 := "mycluster-0." + instances

	// First, before the operator has made the cluster's objects (it then keeps this one,
	// since it creates the Service only when none of that name exists): an ExternalName
	// Service of the instances service's name, without the operator's label.
	impostor := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mycluster-instances"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "mysql.attacker.example"}}
	mustCreate(t, c, impostor)
	cluster := gen.InnoDBCluster(ns, "mycluster")
	mustCreate(t, c, gen.Secret(cluster, "", mariadb.RootPassword))
	mustCreate(t, c, cluster)
	sts := gen.StatefulSet(cluster)
	mustCreate(t, c, sts)
	mustCreate(t, c, gen.RouterService(cluster))
	for _, obj := range []client.Object{cluster, sts, gen.RouterService(cluster), gen.TriggerAuthentication(cluster, false)} {
		waitForCache(t, ctx, obj)
	}

	// notDialed creates a ScaledObject whose trigger names host, and checks that it is
	// admitted with a warning that says why it was not dry-run, and that MariaDB saw no
	// connection.
	n := 0
	notDialed := func(t *testing.T, host, want string) {
		t.Helper()
		n++
		before, err := mariadb.Connections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		warnings.Take()
		mustCreate(t, c, gen.ScaledObject(ns, "so-"+string(rune('a'+n)), "mycluster",
			gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", host)))
		got := warnings.Take()
		if !hasWarning(got, "spec.triggers[0]: not dry-run: host "+host+" "+want) {
			t.Errorf("warnings %q\nwant one that says %q", got, want)
		}
		if after, err := mariadb.Connections(ctx); err != nil || after != before {
			t.Errorf("MariaDB saw %d new connection(s) (%v), want none", after-before, err)
		}
	}

	t.Run("an ExternalName Service without the operator's label", func(t *testing.T) {
		notDialed(t, instances, "names Service mycluster-instances, which does not exist in namespace impostor (or is not labelled mysql.oracle.com/cluster=mycluster)")
	})

	t.Run("an ExternalName Service with the operator's label", func(t *testing.T) {
		impostor.Labels = map[string]string{innodbcluster.ClusterLabel: "mycluster"}
		if err := c.Update(ctx, impostor); err != nil {
			t.Fatal(err)
		}
		waitForCache(t, ctx, impostor)
		want := "names Service mycluster-instances, which is of type ExternalName (a DNS alias for another host), so it is not the MySQL Operator's: find out who created it, and delete it"
		notDialed(t, instances, want)
		notDialed(t, member0, want)
	})

	// The ExternalName Service deleted, the operator's made: now a pod with a member's
	// name, hostname, subdomain and labels, which no StatefulSet controls. Its name would
	// resolve to it through the headless service.
	if err := c.Delete(ctx, impostor); err != nil {
		t.Fatal(err)
	}
	operators := gen.InstancesService(cluster)
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Create(ctx, operators.DeepCopy())
		return err == nil, client.IgnoreAlreadyExists(err) // the deletion may not be done yet
	}); err != nil {
		t.Fatalf("create the operator's Service: %v", err)
	}
	cached := &corev1.Service{}
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return innokeda.GetCache().Get(ctx, client.ObjectKeyFromObject(operators), cached) == nil && cached.Spec.Type != corev1.ServiceTypeExternalName, nil
	}); err != nil {
		t.Fatalf("the manager's cache never saw the operator's Service: %v", err)
	}
	pod := gen.MemberPod(sts, 0, "10.244.6.6")
	pod.OwnerReferences = nil
	createPod(t, c, pod)

	t.Run("a pod with a member's name that no StatefulSet controls", func(t *testing.T) {
		notDialed(t, member0, "names pod mycluster-0, which is not a pod of StatefulSet mycluster: its controller is none: find out who created it, and delete it")
	})

	t.Run("the instances service when that pod is the only one", func(t *testing.T) {
		notDialed(t, instances, "has no group member to dial: no pod of StatefulSet mycluster is running with an IP yet: wait until one is")
	})

	t.Run("a member of the StatefulSet: dry-run", func(t *testing.T) {
		createPod(t, c, gen.MemberPod(sts, 1, "10.244.0.11"))
		before, err := mariadb.Connections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		warnings.Take()
		mustCreate(t, c, gen.ScaledObject(ns, "member", "mycluster",
			gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", instances)))
		if got := warnings.Take(); !hasWarning(got, "spec.triggers[0]: dry-run returned 2 in ") {
			t.Errorf("warnings %q, want a dry-run's", got)
		}
		if after, err := mariadb.Connections(ctx); err != nil || after == before {
			t.Errorf("MariaDB saw no new connection (%v): the test would not see a dial", err)
		}
	})
}

// hasWarning tells whether one of warnings starts with prefix.
func hasWarning(warnings []string, prefix string) bool {
	for _, w := range warnings {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}
