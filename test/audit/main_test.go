// Package audit runs innokeda's continuous audit against a real kube-apiserver and etcd
// (envtest) and a real MariaDB server. Each test starts its own innokeda manager, with
// the audit's settings it needs, one at a time.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

var (
	controlPlane *harness.ControlPlane
	mariadb      *harness.MariaDB
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The managers' logs are not what these tests read; a failure shows in Events and metrics.
	logf.SetLogger(logr.Discard())
	return harness.WithServers(func(cp *harness.ControlPlane, db *harness.MariaDB) int {
		controlPlane, mariadb = cp, db
		return m.Run()
	})
}

// auditOptions are the manager's options with the audit every interval at rate (in all and
// per cluster: a test of the bound per cluster sets its own), and the dry-runs for cluster
// in namespace ns sent to mysqlAddr.
func auditOptions(ns, cluster, mysqlAddr string, interval time.Duration, rate float64) app.Options {
	o := controlPlane.ManagerOptions()
	o.AuditInterval, o.AuditRate, o.AuditClusterRate = interval, rate, rate
	o.DryRunHostAliases = map[string]string{
		innodbcluster.ServiceHost(innodbcluster.InstancesService(cluster), ns, "cluster.local"): mysqlAddr,
	}
	return o
}

// startInnokeda starts a manager with o, stopped when the test ends.
func startInnokeda(t *testing.T, o app.Options) *harness.RunningManager {
	t.Helper()
	mgr, err := harness.StartManager(controlPlane, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mgr.Stop(); err != nil {
			t.Errorf("stop manager: %v", err)
		}
	})
	return mgr
}

// newClient returns an API client and creates namespace ns.
func newClient(t *testing.T, ns string) client.Client {
	t.Helper()
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return c
}

// createCluster creates cluster, its root Secret and what the operator would create,
// and waits until mgr's cache has the StatefulSet and, for an annotated cluster, the
// TriggerAuthentication innokeda keeps.
func createCluster(t *testing.T, c client.Client, mgr *harness.RunningManager, cluster *innodbcluster.InnoDBCluster) {
	t.Helper()
	ctx := context.Background()
	mustCreate(t, c, gen.Secret(cluster, "root", mariadb.RootPassword))
	mustCreate(t, c, cluster)
	sts, err := harness.CreateOperatorObjects(ctx, c, cluster)
	if err != nil {
		t.Fatal(err)
	}
	waitForCache(t, mgr, sts)
	if cluster.AutofillEnabled() {
		waitForCache(t, mgr, gen.TriggerAuthentication(cluster, true))
	}
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitForCache waits until mgr's cache has obj.
func waitForCache(t *testing.T, mgr *harness.RunningManager, obj client.Object) {
	t.Helper()
	into := obj.DeepCopyObject().(client.Object)
	eventually(t, fmt.Sprintf("the cache has %T %s", obj, obj.GetName()), func(ctx context.Context) (bool, error) {
		return mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(obj), into) == nil, nil
	})
}

// eventually polls cond until it holds, for at most 30 seconds.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// auditEvents returns the audit's Events about so, oldest first.
func auditEvents(ctx context.Context, c client.Client, so *kedav1alpha1.ScaledObject) ([]eventsv1.Event, error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(so.Namespace)); err != nil {
		return nil, err
	}
	var found []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "ScaledObject" && e.Regarding.Name == so.Name && strings.HasPrefix(e.Reason, "Audit") {
			found = append(found, e)
		}
	}
	return found, nil
}

// waitForAuditEvent waits for an Event about so of eventType and reason whose note
// contains text, and returns it.
func waitForAuditEvent(t *testing.T, c client.Client, so *kedav1alpha1.ScaledObject, eventType, reason, text string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, fmt.Sprintf("a %s Event %s about ScaledObject %s saying %q", eventType, reason, so.Name, text), func(ctx context.Context) (bool, error) {
		events, err := auditEvents(ctx, c, so)
		for _, e := range events {
			if e.Type == eventType && e.Reason == reason && strings.Contains(e.Note, text) {
				found = e
				return true, nil
			}
		}
		return false, err
	})
	return found
}

// samples returns the samples of metric name from the registry the managers of this
// process share, keyed by their label values ("" for an unlabelled one).
func samples(t *testing.T, name string) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			values[strings.Join(labels, ",")] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return values
}

// auditRuns returns innokeda_audit_runs_total by outcome.
func auditRuns(t *testing.T) map[string]float64 { return samples(t, "innokeda_audit_runs_total") }

func total(runs map[string]float64) float64 {
	sum := 0.0
	for _, v := range runs {
		sum += v
	}
	return sum
}

// gauge returns the value of an unlabelled gauge.
func gauge(t *testing.T, name string) float64 {
	t.Helper()
	values := samples(t, name)
	if _, ok := values[""]; !ok {
		t.Fatalf("no gauge %s", name)
	}
	return values[""]
}

// asJSON is an object as the API serves it, to search for what must not be there.
func asJSON(t *testing.T, obj any) string {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
