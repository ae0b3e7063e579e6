package controller

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestClustersPolledBy(t *testing.T) {
	trigger := func(typ, auth, kind string) kedav1alpha1.ScaleTriggers {
		return kedav1alpha1.ScaleTriggers{Type: typ, AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: auth, Kind: kind}}
	}
	so := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "so"}, Spec: kedav1alpha1.ScaledObjectSpec{Triggers: []kedav1alpha1.ScaleTriggers{
		trigger("mysql", "orders-innokeda", ""),
		trigger("mysql", "orders-innokeda", "TriggerAuthentication"), // the same cluster again
		trigger("mysql", "shop-innokeda", "TriggerAuthentication"),
		trigger("mysql", "-innokeda", ""),                                 // no cluster name
		trigger("mysql", "own-auth", ""),                                  // not innokeda's
		trigger("mysql", "cart-innokeda", "ClusterTriggerAuthentication"), // not the managed kind
		trigger("cpu", "cpu-innokeda", ""),                                // not a mysql trigger
		{Type: "mysql"},                                                   // no authentication
	}}}
	want := []reconcile.Request{
		{NamespacedName: types.NamespacedName{Namespace: "db", Name: "orders"}},
		{NamespacedName: types.NamespacedName{Namespace: "db", Name: "shop"}},
	}
	if diff := cmp.Diff(want, clustersPolledBy(context.Background(), so)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if got := clustersPolledBy(context.Background(), &corev1.Secret{}); got != nil {
		t.Errorf("a Secret mapped to %v", got)
	}
}

func TestLastStates(t *testing.T) {
	var l lastStates
	a, b := types.NamespacedName{Namespace: "db", Name: "a"}, types.NamespacedName{Namespace: "db", Name: "b"}
	for i, step := range []struct {
		cluster types.NamespacedName
		state   string
		want    bool
	}{
		{a, "PENDING", true}, {a, "PENDING", false}, {b, "PENDING", true}, {a, "", true}, {a, "", false}, {a, "PENDING", true},
	} {
		if got := l.changed(step.cluster, step.state); got != step.want {
			t.Errorf("step %d: changed(%s, %q) = %v, want %v", i, step.cluster, step.state, got, step.want)
		}
	}
	l.forget(a)
	if !l.changed(a, "PENDING") {
		t.Error("a forgotten cluster's state is not new")
	}
}
