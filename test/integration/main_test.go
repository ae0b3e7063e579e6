// Package integration runs innokeda against a real kube-apiserver and etcd (envtest):
// the API server calls innokeda's webhooks over TLS, as in a cluster.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/harness"
)

// downNamespace holds a cluster whose MySQL does not answer: its names are aliased to
// downAddr, where nothing listens.
const downNamespace = "hostile-down"

var downAddr string

// servingReplicas is the --serving-replicas of the manager under test: more than the two the
// defaults assume, so that the scaler account's connection limit is seen to follow it.
const servingReplicas = 3

// managerOptions are the options the manager under test runs with.
var managerOptions app.Options

var (
	controlPlane *harness.ControlPlane
	innokeda     *harness.RunningManager
	mariadb      *harness.MariaDB
)

// The namespaces and clusters the tests use. innokeda's dry-runs dial the services of
// these clusters, and their first member, which --dry-run-host-alias maps to the test's
// MariaDB server (once innokeda has checked the objects behind the names).
var testClusters = []struct{ namespace, cluster string }{
	{"fill", "mycluster"},
	{"table", "annotated"},
	{"validate", "mycluster"},
	{"zero-yaml", "mycluster"},
	{"impostor", "mycluster"},
	{"concurrent", "mycluster"},
	{"scaler", "mycluster"},
	{"pacing", "mycluster"},
	{"lifecycle", "mycluster"},
	{"replicas", "mycluster"},
	{"routers", "mycluster"},
	{"bound", "mycluster"},
	{"hostile", "mycluster"},
	{"agreement", "mycluster"},
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return harness.WithServers(func(cp *harness.ControlPlane, db *harness.MariaDB) int {
		mariadb = db
		return runWithServers(m, cp)
	})
}

func runWithServers(m *testing.M, cp *harness.ControlPlane) int {
	opts := cp.ManagerOptions()
	opts.DryRunHostAliases = map[string]string{}
	for _, c := range testClusters {
		for _, service := range []string{innodbcluster.InstancesService(c.cluster), innodbcluster.RouterService(c.cluster)} {
			opts.DryRunHostAliases[innodbcluster.ServiceHost(service, c.namespace, "cluster.local")] = mariadb.Addr
		}
		member0 := innodbcluster.StatefulSetName(c.cluster) + "-0." + innodbcluster.ServiceHost(innodbcluster.InstancesService(c.cluster), c.namespace, "cluster.local")
		opts.DryRunHostAliases[member0] = mariadb.Addr
	}
	// One cluster's servers are down: its names lead to a port nothing listens on.
	down, err := harness.FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	downAddr = fmt.Sprintf("127.0.0.1:%d", down)
	for _, service := range []string{innodbcluster.InstancesService("mycluster"), innodbcluster.RouterService("mycluster")} {
		opts.DryRunHostAliases[innodbcluster.ServiceHost(service, downNamespace, "cluster.local")] = downAddr
	}
	opts.ScalerAccounts = true
	opts.ServingReplicas = servingReplicas
	managerOptions = opts
	// Short, so that the test of the backoff after a refusal runs in seconds.
	opts.Controller.RetryBaseDelay, opts.Controller.RetryMaxDelay = 200*time.Millisecond, 5*time.Second
	mgr, err := harness.StartManager(cp, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := mgr.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop manager:", err)
		}
	}()
	controlPlane, innokeda = cp, mgr
	return m.Run()
}

// newClient returns a client whose received warnings the test can read, and creates
// namespace ns.
func newClient(t *testing.T, ns string) (client.Client, *harness.Warnings) {
	t.Helper()
	c, warnings, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return c, warnings
}
