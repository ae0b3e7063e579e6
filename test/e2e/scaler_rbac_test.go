package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestScalerAccountRBACIsEnough runs innokeda --scaler-accounts as a user bound to exactly
// the ClusterRole of kustomize/base/rbac.yaml plus the rule the scaler-accounts component
// adds, against a real MariaDB: it creates the scaler Secret, rewrites it when its password
// is unusable, and deletes it when the annotation goes, and is forbidden nothing.
func TestScalerAccountRBACIsEnough(t *testing.T) {
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const user, ns, role = "innokeda-scaler-rbac", "scaler-rbac", "innokeda-scaler-rbac"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	clusterRole := baseClusterRole(t)
	clusterRole.Name = role
	clusterRole.Rules = append(clusterRole.Rules, componentSecretRule(t))
	if err := c.Create(ctx, clusterRole); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}); err != nil {
		t.Fatal(err)
	}

	db, err := harness.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	alias := innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local") + "=" + db.Addr
	p, err := harness.StartProcess(controlPlane, binary, envtest.User{Name: user}, controlPlane.Env.WebhookInstallOptions.LocalServingPort,
		"--scaler-accounts", "--dry-run-host-alias", alias)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterAnnotation(annotations.ScalerAccount, "managed"))
	for _, obj := range []client.Object{gen.Secret(cluster, "root", db.RootPassword), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := harness.CreateOperatorObjects(ctx, c, cluster); err != nil {
		t.Fatal(err)
	}
	secretKey := client.ObjectKey{Namespace: ns, Name: managed.ScalerSecretName(cluster.Name)}
	secret := &corev1.Secret{}
	until(t, p, "the TriggerAuthentication to map the scaler Secret", func(ctx context.Context) (bool, error) {
		ta := &kedav1alpha1.TriggerAuthentication{}
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: managed.Name(cluster.Name)}, ta)
		return err == nil && managed.MapsScalerAccount(ta, cluster), client.IgnoreNotFound(err)
	})
	if err := c.Get(ctx, secretKey, secret); err != nil {
		t.Fatal(err)
	}

	// An unusable password is rewritten (update), and the account's password follows.
	secret.Data[managed.ScalerSecretKeyPassword] = []byte("short")
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	latest.Annotations[annotations.ScalerPrivileges] = "PROCESS" // any change reconciles at once
	if err := c.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
	until(t, p, "the Secret to be rewritten with a new password", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, secretKey, secret)
		return err == nil && len(secret.Data[managed.ScalerSecretKeyPassword]) == 40, err
	})

	// The annotation goes: the Secret is deleted (delete).
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	delete(latest.Annotations, annotations.ScalerAccount)
	if err := c.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
	until(t, p, "the Secret to be deleted", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, secretKey, &corev1.Secret{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if logs, err := os.ReadFile(p.LogPath); err != nil || bytes.Contains(bytes.ToLower(logs), []byte("forbidden")) {
		t.Errorf("innokeda was forbidden something (%v):\n%s", err, p.LogTail())
	}
}

// until polls cond for at most 30 seconds, failing with innokeda's log.
func until(t *testing.T, p *harness.Process, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, p.LogTail())
	}
}

// baseClusterRole is the ClusterRole of kustomize/base/rbac.yaml.
func baseClusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	for _, obj := range manifests(t, filepath.Join(harness.RepoRoot(), "kustomize", "base", "rbac.yaml")) {
		if obj.GetObjectKind().GroupVersionKind().Kind != "ClusterRole" {
			continue
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		role := &rbacv1.ClusterRole{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, role); err != nil {
			t.Fatal(err)
		}
		role.ResourceVersion = ""
		return role
	}
	t.Fatal("kustomize/base/rbac.yaml has no ClusterRole")
	return nil
}

// componentSecretRule is the rule kustomize/components/scaler-accounts adds to the
// ClusterRole, read from its JSON patch.
func componentSecretRule(t *testing.T) rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "kustomize", "components", "scaler-accounts", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var component struct {
		Patches []struct {
			Target struct{ Kind string } `json:"target"`
			Patch  string                `json:"patch"`
		} `json:"patches"`
	}
	if err := yaml.Unmarshal(data, &component); err != nil {
		t.Fatal(err)
	}
	for _, patch := range component.Patches {
		if patch.Target.Kind != "ClusterRole" {
			continue
		}
		var ops []struct {
			Op    string            `json:"op"`
			Path  string            `json:"path"`
			Value rbacv1.PolicyRule `json:"value"`
		}
		if err := yaml.Unmarshal([]byte(patch.Patch), &ops); err != nil {
			t.Fatal(err)
		}
		if len(ops) != 1 || ops[0].Op != "add" || ops[0].Path != "/rules/-" {
			t.Fatalf("the component's ClusterRole patch is not one rule added: %+v", ops)
		}
		return ops[0].Value
	}
	t.Fatal("the scaler-accounts component adds no ClusterRole rule")
	return rbacv1.PolicyRule{}
}
