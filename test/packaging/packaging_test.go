// Package packaging checks the Helm chart and the Kustomize overlays the way a cluster
// would: rendered by the pinned helm and kustomize (tools/packaging), then every object
// sent to a real API server as a server-side dry run, and the parts that must agree with
// the binary and with kustomize/base checked against them.
package packaging

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/test/harness"
)

var controlPlane *harness.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if controlPlane, err = harness.StartControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = controlPlane.Stop() }()
	return m.Run()
}

// tool runs helm or kustomize at the version tools/packaging pins.
func tool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	root := harness.RepoRoot()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + filepath.Join(root, "tools", "packaging", "go.mod"), name}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

func helmTemplate(t *testing.T, ns string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "rel", "charts/innokeda", "--namespace", ns, "--kube-version", "1.37.2"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decode(t, tool(t, "helm", args...))
}

func decode(t *testing.T, manifests []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.DecodeManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func decodeFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

// find returns the one object of kind, converted to into.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string, into any) {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(found), kind)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, into); err != nil {
		t.Fatal(err)
	}
}

func kinds(objs []*unstructured.Unstructured) []string {
	var list []string
	for _, o := range objs {
		list = append(list, o.GetKind())
	}
	return list
}

// dryRunCreate sends every object to the API server as a server-side dry run, in a
// namespace that exists. cert-manager's kinds are left out: the test cluster has no
// cert-manager CRDs.
func dryRunCreate(t *testing.T, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GroupVersionKind().Group == "cert-manager.io" {
			continue
		}
		if err := c.Create(ctx, o.DeepCopy(), client.DryRunAll); client.IgnoreAlreadyExists(err) != nil {
			t.Errorf("the API server refuses %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// parseArgs parses a container's args with the innokeda binary's own flags.
func parseArgs(t *testing.T, args []string) app.Options {
	t.Helper()
	o, _ := parseFlags(t, args)
	return o
}

func parseFlags(t *testing.T, args []string) (app.Options, *flag.FlagSet) {
	t.Helper()
	o := app.DefaultOptions()
	fs := flag.NewFlagSet("innokeda", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("innokeda does not accept the args %q: %v", args, err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	return o, fs
}

// scalerAccounts is the value of --scaler-accounts the binary gets from args: its default
// when they leave it out, the last one when they repeat it.
func scalerAccounts(t *testing.T, args []string) bool {
	t.Helper()
	_, fs := parseFlags(t, args)
	f := fs.Lookup("scaler-accounts")
	if f == nil {
		t.Fatal("the innokeda binary has no --scaler-accounts flag")
	}
	on, err := strconv.ParseBool(f.Value.String())
	if err != nil {
		t.Fatalf("--scaler-accounts=%q: %v", f.Value.String(), err)
	}
	return on
}

// secretWriteRule is what managed scaler accounts add to the ClusterRole, beside the
// base's get on secrets.
var secretWriteRule = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "update", "delete"}}

// secretVerbs lists, sorted and once each, the verbs rules grant on core Secrets
// (wildcards included).
func secretVerbs(rules []rbacv1.PolicyRule) []string {
	var verbs []string
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")) {
			verbs = append(verbs, r.Verbs...)
		}
	}
	slices.Sort(verbs)
	return slices.Compact(verbs)
}

// checkScalerAccounts checks that a render grants the Secret writes of managed scaler
// accounts, as one rule of their own, exactly when its Deployment turns them on, and
// that it never lets innokeda list or watch Secrets.
func checkScalerAccounts(t *testing.T, objs []*unstructured.Unstructured, want bool) {
	t.Helper()
	var d appsv1.Deployment
	find(t, objs, "Deployment", &d)
	if on := scalerAccounts(t, d.Spec.Template.Spec.Containers[0].Args); on != want {
		t.Errorf("the Deployment's args give --scaler-accounts=%t, want %t", on, want)
	}
	var cr rbacv1.ClusterRole
	find(t, objs, "ClusterRole", &cr)
	wantVerbs, wantRules := []string{"get"}, 0
	if want {
		wantVerbs, wantRules = []string{"create", "delete", "get", "update"}, 1
	}
	if got := secretVerbs(cr.Rules); !cmp.Equal(got, wantVerbs) {
		t.Errorf("the ClusterRole grants %q on secrets, want %q", got, wantVerbs)
	}
	n := 0
	for _, r := range cr.Rules {
		if cmp.Equal(r, secretWriteRule) {
			n++
		}
	}
	if n != wantRules {
		t.Errorf("%d ClusterRole rules of their own grant exactly create, update, delete on secrets, want %d", n, wantRules)
	}
}

// kustomizeBuild builds a kustomization written for the test, whose paths are relative
// to the repository's root.
func kustomizeBuild(t *testing.T, kustomization string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Rel(dir, harness.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	kustomization = strings.ReplaceAll(kustomization, "$ROOT", filepath.ToSlash(root))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	return decode(t, tool(t, "kustomize", "build", dir))
}

// baseWithScalerAccounts is kustomize/base with the scaler-accounts component, nothing else.
const baseWithScalerAccounts = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $ROOT/kustomize/base
components:
  - $ROOT/kustomize/components/scaler-accounts
`

// baseRBAC and baseWebhooks are what kustomize/base documents.
func baseRBAC(t *testing.T) (rbacv1.ClusterRole, rbacv1.Role) {
	t.Helper()
	objs := decodeFile(t, "kustomize/base/rbac.yaml")
	var cr rbacv1.ClusterRole
	var role rbacv1.Role
	find(t, objs, "ClusterRole", &cr)
	find(t, objs, "Role", &role)
	return cr, role
}

func baseWebhooks(t *testing.T) (admissionregistrationv1.MutatingWebhookConfiguration, admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	objs := decodeFile(t, "kustomize/base/webhook.yaml")
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	find(t, objs, "MutatingWebhookConfiguration", &m)
	find(t, objs, "ValidatingWebhookConfiguration", &v)
	return m, v
}

func TestHelmChart(t *testing.T) {
	tool(t, "helm", "lint", "--strict", "charts/innokeda")
	const ns = "innokeda-helm"
	objs := helmTemplate(t, ns)
	dryRunCreate(t, ns, objs)
	withoutScalerAccounts := helmTemplate(t, ns, "scalerAccounts.enabled=false")
	dryRunCreate(t, ns, withoutScalerAccounts)

	compareRBAC := func(t *testing.T, wantObjs, gotObjs []*unstructured.Unstructured) {
		t.Helper()
		var wantCR, cr rbacv1.ClusterRole
		var wantRole, role rbacv1.Role
		find(t, wantObjs, "ClusterRole", &wantCR)
		find(t, wantObjs, "Role", &wantRole)
		find(t, gotObjs, "ClusterRole", &cr)
		find(t, gotObjs, "Role", &role)
		if diff := cmp.Diff(wantCR.Rules, cr.Rules); diff != "" {
			t.Errorf("ClusterRole rules (-kustomize +chart):\n%s", diff)
		}
		if diff := cmp.Diff(wantRole.Rules, role.Rules); diff != "" {
			t.Errorf("Role rules (-kustomize +chart):\n%s", diff)
		}
	}
	t.Run("RBAC is kustomize/base/rbac.yaml's with the scaler-accounts component's rule", func(t *testing.T) {
		compareRBAC(t, kustomizeBuild(t, baseWithScalerAccounts), objs)
	})
	t.Run("with scalerAccounts.enabled=false, RBAC is kustomize/base/rbac.yaml's", func(t *testing.T) {
		compareRBAC(t, decodeFile(t, "kustomize/base/rbac.yaml"), withoutScalerAccounts)
	})
	t.Run("the Secret write rule is there exactly when --scaler-accounts=true", func(t *testing.T) {
		checkScalerAccounts(t, objs, true)
		checkScalerAccounts(t, helmTemplate(t, ns, "scalerAccounts.enabled=true"), true)
		checkScalerAccounts(t, withoutScalerAccounts, false)
	})

	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	find(t, objs, "MutatingWebhookConfiguration", &mutating)
	find(t, objs, "ValidatingWebhookConfiguration", &validating)

	t.Run("webhooks are kustomize/base/webhook.yaml's", func(t *testing.T) {
		wantM, wantV := baseWebhooks(t)
		clear := func(cc *admissionregistrationv1.WebhookClientConfig) {
			*cc = admissionregistrationv1.WebhookClientConfig{}
		}
		gotM, gotV := mutating.DeepCopy(), validating.DeepCopy()
		for _, w := range []*admissionregistrationv1.WebhookClientConfig{&wantM.Webhooks[0].ClientConfig, &gotM.Webhooks[0].ClientConfig, &wantV.Webhooks[0].ClientConfig, &gotV.Webhooks[0].ClientConfig} {
			clear(w)
		}
		if diff := cmp.Diff(wantM.Webhooks, gotM.Webhooks); diff != "" {
			t.Errorf("mutating webhooks (-base +chart):\n%s", diff)
		}
		if diff := cmp.Diff(wantV.Webhooks, gotV.Webhooks); diff != "" {
			t.Errorf("validating webhooks (-base +chart):\n%s", diff)
		}
	})

	t.Run("the generated certificate is valid for the webhook service and signed by the caBundle", func(t *testing.T) {
		var secret corev1.Secret
		find(t, objs, "Secret", &secret)
		pair, err := tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])
		if err != nil {
			t.Fatalf("tls.crt and tls.key do not match: %v", err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, bundle := range [][]byte{mutating.Webhooks[0].ClientConfig.CABundle, validating.Webhooks[0].ClientConfig.CABundle} {
			if block, _ := pem.Decode(bundle); block == nil {
				t.Fatal("caBundle is not PEM")
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(bundle)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "rel-innokeda-webhook." + ns + ".svc"}); err != nil {
				t.Errorf("the serving certificate does not verify against the caBundle: %v", err)
			}
		}
		if svc := mutating.Webhooks[0].ClientConfig.Service; svc == nil || svc.Name != "rel-innokeda-webhook" || svc.Namespace != ns {
			t.Errorf("webhook service %+v", svc)
		}
	})

	t.Run("the Deployment's args are flags the binary accepts", func(t *testing.T) {
		var d appsv1.Deployment
		find(t, objs, "Deployment", &d)
		o := parseArgs(t, d.Spec.Template.Spec.Containers[0].Args)
		if !o.LeaderElect || o.LeaderElectionNS != ns || o.OnUnreachable != "warn" || o.WebhookCertDir != "/certs" {
			t.Errorf("options from the chart's args: %+v", o)
		}
		custom := helmTemplate(t, ns, "dryRun.onUnreachable=deny", "dryRun.allowedHosts={mysql.example.com}", "clusterDomain=corp.local")
		find(t, custom, "Deployment", &d)
		o = parseArgs(t, d.Spec.Template.Spec.Containers[0].Args)
		if o.OnUnreachable != "deny" || !cmp.Equal(o.DryRunAllowedHosts, []string{"mysql.example.com"}) || o.ClusterDomain != "corp.local" {
			t.Errorf("options from custom values: %+v", o)
		}
	})

	t.Run("with cert-manager: a Certificate, and the CA injected by cert-manager", func(t *testing.T) {
		withCM := helmTemplate(t, ns, "certManager.enabled=true")
		want := []string{"PodDisruptionBudget", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment", "Certificate", "Issuer", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
		if diff := cmp.Diff(want, kinds(withCM)); diff != "" {
			t.Errorf("kinds (-want +got):\n%s", diff)
		}
		var m admissionregistrationv1.MutatingWebhookConfiguration
		find(t, withCM, "MutatingWebhookConfiguration", &m)
		if m.Annotations["cert-manager.io/inject-ca-from"] != ns+"/rel-innokeda-webhook" || len(m.Webhooks[0].ClientConfig.CABundle) != 0 {
			t.Errorf("annotations %v, caBundle %d bytes", m.Annotations, len(m.Webhooks[0].ClientConfig.CABundle))
		}
		dryRunCreate(t, ns, withCM)
	})
}

func TestKustomizeOverlays(t *testing.T) {
	wantCR, _ := baseRBAC(t)
	// The scaler-accounts component adds exactly its one rule to the base's.
	withComponentCR := *wantCR.DeepCopy()
	withComponentCR.Rules = append(withComponentCR.Rules, secretWriteRule)

	tests := []struct {
		dir           string
		replicas      int32
		onUnreachable string
		// scalerAccounts: the overlay includes kustomize/components/scaler-accounts.
		scalerAccounts bool
	}{
		{"kustomize/base", 2, "warn", false},
		{"kustomize/overlays/dev", 1, "warn", true},
		{"kustomize/overlays/prod", 3, "deny", true},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			objs := decode(t, tool(t, "kustomize", "build", tc.dir))
			dryRunCreate(t, "innokeda", objs)
			var d appsv1.Deployment
			find(t, objs, "Deployment", &d)
			o := parseArgs(t, d.Spec.Template.Spec.Containers[0].Args)
			if *d.Spec.Replicas != tc.replicas || o.OnUnreachable != tc.onUnreachable || !o.LeaderElect {
				t.Errorf("replicas %d, options %+v; want %d replicas, --on-unreachable=%s", *d.Spec.Replicas, o, tc.replicas, tc.onUnreachable)
			}
			var cr rbacv1.ClusterRole
			find(t, objs, "ClusterRole", &cr)
			want := wantCR
			if tc.scalerAccounts {
				want = withComponentCR
			}
			if diff := cmp.Diff(want.Rules, cr.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-documented +built):\n%s", diff)
			}
			checkScalerAccounts(t, objs, tc.scalerAccounts)
		})
	}

	// Components run before the overlay's own transformers, and their patches name no
	// namespace: an overlay that moves innokeda to another namespace and prefixes its
	// names still gets the flag and the rule.
	t.Run("an overlay with another namespace and the component", func(t *testing.T) {
		const ns = "innokeda-team"
		objs := kustomizeBuild(t, baseWithScalerAccounts+"namespace: "+ns+"\nnamePrefix: team-\n")
		dryRunCreate(t, ns, objs)
		var d appsv1.Deployment
		find(t, objs, "Deployment", &d)
		if d.Namespace != ns || d.Name != "team-innokeda" {
			t.Errorf("Deployment %s/%s, want %s/team-innokeda", d.Namespace, d.Name, ns)
		}
		var cr rbacv1.ClusterRole
		find(t, objs, "ClusterRole", &cr)
		if diff := cmp.Diff(withComponentCR.Rules, cr.Rules); diff != "" {
			t.Errorf("ClusterRole rules (-documented +built):\n%s", diff)
		}
		checkScalerAccounts(t, objs, true)
	})
}
