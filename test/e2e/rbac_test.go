package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestRBACIsEnough runs innokeda as a user bound to exactly kustomize/base/rbac.yaml, and
// checks that the webhooks and the controller do all their work, and nothing is forbidden.
func TestRBACIsEnough(t *testing.T) {
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const installNS, ns = "innokeda", "rbac"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	user := bindBaseRBAC(t, c)

	// No MySQL here: the dry-run is pointed at a closed loopback port and warns.
	closed := innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local") + "=127.0.0.1:1"
	p, err := harness.StartProcess(controlPlane, binary, envtest.User{Name: user}, controlPlane.Env.WebhookInstallOptions.LocalServingPort,
		"--leader-elect", "--namespace", installNS, "--dry-run-host-alias", closed, "--audit-interval=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	cluster := gen.InnoDBCluster(ns, "mycluster",
		gen.WithClusterAnnotation(annotations.Query, "SELECT COUNT(*) FROM testdb.testtable"),
		gen.WithClusterAnnotation(annotations.QueryValue, "3"))
	for _, obj := range []client.Object{gen.Secret(cluster, "root", "pw"), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// The dry-run reads these (Services and pods) before it dials.
	if _, err := harness.CreateOperatorObjects(ctx, c, cluster); err != nil {
		t.Fatal(err)
	}
	so := &kedav1alpha1.ScaledObject{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}, so)
		// Filled by the mutating webhook, which needed to read the StatefulSet, the
		// cluster, the TriggerAuthentication and the Secret.
		return err == nil && so.Spec.Triggers[0].Metadata["host"] != "", client.IgnoreNotFound(err)
	})
	if err != nil {
		t.Fatalf("no filled ScaledObject: %v\n%s", err, p.LogTail())
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}, &kedav1alpha1.TriggerAuthentication{}); err != nil {
		t.Errorf("TriggerAuthentication: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		events := &eventsv1.EventList{}
		if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "Created" && strings.Contains(e.Note, "ScaledObject") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no Created event: %v", err)
	}
	// The audit reads what the webhooks read and emits its Events on the ScaledObject: the
	// cluster's Secret deleted, it says so.
	if err := c.Delete(ctx, gen.Secret(cluster, "", "")); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		events := &eventsv1.EventList{}
		if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "AuditFailed" && e.Regarding.Name == so.Name && strings.Contains(e.Note, "which does not exist") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no AuditFailed event: %v\n%s", err, p.LogTail())
	}
	if logs, err := os.ReadFile(p.LogPath); err != nil || bytes.Contains(bytes.ToLower(logs), []byte("forbidden")) {
		t.Errorf("innokeda was forbidden something (%v):\n%s", err, p.LogTail())
	}
}

// bindBaseRBAC installs kustomize/base/rbac.yaml (namespace innokeda included), once, and
// returns a user bound to exactly its ClusterRole and its Role.
func bindBaseRBAC(t *testing.T, c client.Client) string {
	t.Helper()
	const user, installNS = "innokeda-rbac", "innokeda"
	ctx := context.Background()
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNS}}}
	objs = append(objs, manifests(t, filepath.Join(harness.RepoRoot(), "kustomize", "base", "rbac.yaml"))...)
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	objs = append(objs,
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "innokeda"}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "innokeda"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: installNS, Name: "innokeda"}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "innokeda"}})
	for _, obj := range objs {
		if err := c.Create(ctx, obj); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
	return user
}

// manifests decodes a multi-document YAML file.
func manifests(t *testing.T, path string) []client.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := harness.DecodeManifests(data)
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]client.Object, 0, len(decoded))
	for _, u := range decoded {
		objs = append(objs, u)
	}
	return objs
}
