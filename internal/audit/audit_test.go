package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
)

func scaledObject(ns, name, kind, target string) *kedav1alpha1.ScaledObject {
	return &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Kind: kind, Name: target}},
	}
}

// A change to a cluster or its managed TriggerAuthentication re-audits the ScaledObjects
// whose targets may be the cluster's, in its namespace only.
func TestScaledObjectsOfACluster(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := kedav1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		scaledObject("db", "members", "StatefulSet", "orders"),
		scaledObject("db", "replicas", "StatefulSet", "orders-reporting"),
		scaledObject("db", "router", "Deployment", "orders-router"),
		scaledObject("db", "by-cluster", innodbcluster.Kind, "orders"),
		scaledObject("db", "other-cluster", "StatefulSet", "ordersx"),
		scaledObject("db", "web", "Deployment", "orders-web"), // not a router's name
		scaledObject("elsewhere", "members", "StatefulSet", "orders"),
	}
	a := &Auditor{cache: fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()}
	want := []string{"by-cluster", "members", "replicas", "router"}
	for _, tc := range []struct {
		name    string
		mapping func(client.Object) (string, bool)
		obj     client.Object
		want    []string
	}{
		{"cluster", clusterName, &innodbcluster.InnoDBCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "orders"}}, want},
		{"managed authentication", managedAuthenticationCluster, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "orders-innokeda"}}, want},
		{"another authentication", managedAuthenticationCluster, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "orders"}}, nil},
		{"the bare suffix", managedAuthenticationCluster, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "-innokeda"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range a.scaledObjectsOf(tc.mapping)(context.Background(), tc.obj) {
				if r.Namespace != "db" {
					t.Errorf("request for %s", r)
				}
				got = append(got, r.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("re-audited %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOnlyCredentialSourcesOfAClusterTriggerAReaudit(t *testing.T) {
	base := &innodbcluster.InnoDBCluster{ObjectMeta: metav1.ObjectMeta{Name: "orders", Annotations: map[string]string{annotations.Autofill: "true"}}}
	base.Spec.SecretName = "orders-secret"
	for _, tc := range []struct {
		name   string
		change func(*innodbcluster.InnoDBCluster)
		want   bool
	}{
		{"annotation", func(c *innodbcluster.InnoDBCluster) { c.Annotations[annotations.Database] = "shop" }, true},
		{"secret name", func(c *innodbcluster.InnoDBCluster) { c.Spec.SecretName = "rotated" }, true},
		{"status", func(c *innodbcluster.InnoDBCluster) { c.Status.Cluster.Status = innodbcluster.StatusOnline }, false},
		{"labels", func(c *innodbcluster.InnoDBCluster) { c.Labels = map[string]string{"team": "a"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := base.DeepCopy()
			tc.change(after)
			if got := credentialsSourceChanged(event.UpdateEvent{ObjectOld: base, ObjectNew: after}); got != tc.want {
				t.Errorf("re-audit = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Interval: 0, Rate: 1, ClusterRate: 1, Workers: 1}, "the audit interval must be positive, not 0s"},
		{Options{Interval: 1, Rate: 0, ClusterRate: 1, Workers: 1}, "the audit rate must be positive, not 0"},
		{Options{Interval: 1, Rate: 1, ClusterRate: 0, Workers: 1}, "the audit rate per cluster must be positive, not 0"},
		{Options{Interval: 1, Rate: 1, ClusterRate: 1, Workers: 0}, "the audit needs at least 1 worker, not 0"},
	} {
		if _, err := New(nil, nil, nil, tc.o); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}

// The lag is how much longer ago than an interval the ScaledObject audited longest ago was
// audited: 0 while every one is audited in time.
func TestLag(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a := &Auditor{opts: Options{Interval: 5 * time.Minute}, standings: map[types.NamespacedName]standing{
		{Namespace: "db", Name: "recent"}: {audited: now.Add(-time.Minute)},
		{Namespace: "db", Name: "never"}:  {}, // not audited yet: its first audit is spread over an interval
	}}
	if lag := a.lag(now); lag != 0 {
		t.Errorf("lag %v, want 0", lag)
	}
	a.standings[types.NamespacedName{Namespace: "db", Name: "late"}] = standing{audited: now.Add(-8 * time.Minute)}
	if lag := a.lag(now); lag != 3*time.Minute {
		t.Errorf("lag %v, want 3m", lag)
	}
	current.Store(a)
	defer current.Store(nil)
	if got := testutil.ToFloat64(lagCollector{}); got < 180 {
		t.Errorf("innokeda_audit_lag_seconds %v, want at least 180 (now is later than the test's now)", got)
	}
}
