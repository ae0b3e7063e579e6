package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/innokeda/innokeda/test/harness"
)

// The chart rendered as release "rel" is named "rel-innokeda...": kustomize/base's names
// with the prefix "rel-", so the kustomize checks apply to it as they are.
const chartPrefix = "rel-"

// helmBytes renders the chart twice with args and returns the output, failing the test
// unless both renders are byte for byte the same (what Argo CD and Flux need).
func helmBytes(t *testing.T, ns string, args ...string) []byte {
	t.Helper()
	base := []string{"template", "rel", "charts/innokeda", "--namespace", ns, "--kube-version", "1.37.2"}
	first := tool(t, "helm", append(base, args...)...)
	if second := tool(t, "helm", append(base, args...)...); !bytes.Equal(first, second) {
		t.Errorf("two renders of the chart with %q differ", args)
	}
	return first
}

// ciValues are the chart's ci/*-values.yaml files.
func ciValues(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(harness.RepoRoot(), "charts", "innokeda", "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci values: %v", err)
	}
	return files
}

func TestHelmChart(t *testing.T) {
	tool(t, "helm", "lint", "--strict", "charts/innokeda")
	const ns = "innokeda-helm"
	for _, file := range ciValues(t) {
		t.Run(filepath.Base(file)+" renders the same twice, with no certificate material, and the API server takes it", func(t *testing.T) {
			out := helmBytes(t, ns, "-f", file)
			objs := built(decode(t, out))
			if !strings.Contains(file, "cert-manager") {
				checkNoCertificateMaterial(t, out, objs)
			}
			dryRunCreate(t, ns, objs)
		})
	}

	objs := built(decode(t, helmBytes(t, ns)))
	t.Run("rotation: args, Secret, volume, RBAC naming only its own objects", func(t *testing.T) {
		checkRotation(t, objs, chartPrefix)
	})
	t.Run("Deployment, Services and webhook scoping as the kustomize base's", func(t *testing.T) {
		d, o := objs.options(t, chartPrefix+"innokeda")
		checkDeployment(t, d, o)
		checkServices(t, objs, chartPrefix)
		checkWebhookScoping(t, objs, chartPrefix)
	})

	t.Run("audit: --audit-interval, --audit-rate and --audit-cluster-rate from audit.*, 0 turns it off (and frees the last dry-run slot)", func(t *testing.T) {
		d, _ := objs.options(t, chartPrefix+"innokeda")
		checkAuditArgs(t, d.Spec.Template.Spec.Containers[0].Args, "5m", "20", "0.5")
		for _, off := range []string{"0", "0s"} {
			d, _ := built(decode(t, helmBytes(t, ns, "--set", "audit.interval="+off, "--set", "dryRun.maxConcurrent=1"))).options(t, chartPrefix+"innokeda")
			checkAuditArgs(t, d.Spec.Template.Spec.Containers[0].Args, off, "20", "0.5")
		}
		// --set turns a decimal into a string: the schema takes it as one.
		d, _ = built(decode(t, helmBytes(t, ns, "--set", "audit.rate=2.5", "--set", "audit.clusterRate=0.25"))).options(t, chartPrefix+"innokeda")
		checkAuditArgs(t, d.Spec.Template.Spec.Containers[0].Args, "5m", "2.5", "0.25")
	})

	t.Run("RBAC is kustomize/base/rbac.yaml's with the scaler-accounts rule, for the release's names", func(t *testing.T) {
		cluster, reader, role := documentedRBAC(t)
		rename := func(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
			var out []rbacv1.PolicyRule
			for _, r := range rules {
				r = *r.DeepCopy()
				for i, n := range r.ResourceNames {
					r.ResourceNames[i] = chartPrefix + n
				}
				out = append(out, r)
			}
			return out
		}
		var cr, metricsReader rbacv1.ClusterRole
		var r rbacv1.Role
		objs.get(t, "ClusterRole", chartPrefix+"innokeda", &cr)
		objs.get(t, "ClusterRole", chartPrefix+"innokeda-metrics-reader", &metricsReader)
		objs.get(t, "Role", chartPrefix+"innokeda", &r)
		if diff := cmp.Diff(append(rename(cluster), secretWriteRule), cr.Rules); diff != "" {
			t.Errorf("ClusterRole rules (-kustomize +chart):\n%s", diff)
		}
		if diff := cmp.Diff(reader, metricsReader.Rules); diff != "" {
			t.Errorf("metrics reader rules (-kustomize +chart):\n%s", diff)
		}
		if diff := cmp.Diff(rename(role), r.Rules); diff != "" {
			t.Errorf("Role rules (-kustomize +chart):\n%s", diff)
		}
		without := built(decode(t, helmBytes(t, ns, "--set", "scalerAccounts.enabled=false")))
		without.get(t, "ClusterRole", chartPrefix+"innokeda", &cr)
		if diff := cmp.Diff(rename(cluster), cr.Rules); diff != "" {
			t.Errorf("with scalerAccounts.enabled=false, ClusterRole rules (-kustomize +chart):\n%s", diff)
		}
		if _, o := without.options(t, chartPrefix+"innokeda"); o.ScalerAccounts {
			t.Error("scalerAccounts.enabled=false still passes --scaler-accounts=true")
		}
	})

	t.Run("webhooks are kustomize/base/webhook.yaml's", func(t *testing.T) {
		base := built(decodeFile(t, "kustomize/base/webhook.yaml"))
		var wantM, gotM admissionregistrationv1.MutatingWebhookConfiguration
		var wantV, gotV admissionregistrationv1.ValidatingWebhookConfiguration
		base.get(t, "MutatingWebhookConfiguration", "innokeda-mutating", &wantM)
		base.get(t, "ValidatingWebhookConfiguration", "innokeda-validating", &wantV)
		objs.get(t, "MutatingWebhookConfiguration", chartPrefix+"innokeda-mutating", &gotM)
		objs.get(t, "ValidatingWebhookConfiguration", chartPrefix+"innokeda-validating", &gotV)
		for _, w := range []*admissionregistrationv1.MutatingWebhook{&wantM.Webhooks[0], &gotM.Webhooks[0]} {
			w.ClientConfig, w.ObjectSelector = admissionregistrationv1.WebhookClientConfig{}, nil
		}
		for _, w := range []*admissionregistrationv1.ValidatingWebhook{&wantV.Webhooks[0], &gotV.Webhooks[0]} {
			w.ClientConfig, w.ObjectSelector = admissionregistrationv1.WebhookClientConfig{}, nil
		}
		if diff := cmp.Diff(wantM.Webhooks, gotM.Webhooks); diff != "" {
			t.Errorf("mutating webhooks (-base +chart):\n%s", diff)
		}
		if diff := cmp.Diff(wantV.Webhooks, gotV.Webhooks); diff != "" {
			t.Errorf("validating webhooks (-base +chart):\n%s", diff)
		}
	})

	t.Run("with cert-manager: the kustomize component's Certificate and injection", func(t *testing.T) {
		checkCertManager(t, built(decode(t, helmBytes(t, ns, "--set", "certManager.enabled=true"))), ns, chartPrefix)
	})

	t.Run("opt-ins are there when enabled, and only then", func(t *testing.T) {
		everything := built(decode(t, helmBytes(t, ns, "-f", filepath.Join(harness.RepoRoot(), "charts", "innokeda", "ci", "everything-on-values.yaml"))))
		for _, kind := range []string{"NetworkPolicy", "ServiceMonitor", "PrometheusRule"} {
			if objs.lookup(kind, chartPrefix+"innokeda") != nil {
				t.Errorf("a %s by default", kind)
			}
			if everything.lookup(kind, chartPrefix+"innokeda") == nil {
				t.Errorf("no %s when enabled", kind)
			}
		}
		var np networkingv1.NetworkPolicy
		everything.get(t, "NetworkPolicy", chartPrefix+"innokeda", &np)
		checkNetworkPolicy(t, everything, np)
		checkServiceMonitor(t, everything, ns, chartPrefix)
		d, o := everything.options(t, chartPrefix+"innokeda")
		if *d.Spec.Replicas != 3 || o.ServingReplicas != 3 {
			t.Errorf("replicaCount 3: %d replicas, --serving-replicas=%d", *d.Spec.Replicas, o.ServingReplicas)
		}
		spec := d.Spec.Template.Spec
		if !spec.HostNetwork || spec.DNSPolicy != "ClusterFirstWithHostNet" || spec.PriorityClassName != "system-cluster-critical" || len(spec.TopologySpreadConstraints) != 1 {
			t.Errorf("hostNetwork %t, dnsPolicy %q, priorityClassName %q, %d spread constraints", spec.HostNetwork, spec.DNSPolicy, spec.PriorityClassName, len(spec.TopologySpreadConstraints))
		}
		c := spec.Containers[0]
		if !strings.HasPrefix(c.Image, "innokeda/innokeda@sha256:") {
			t.Errorf("image %q, want innokeda/innokeda@<digest>", c.Image)
		}
		if c.Args[len(c.Args)-1] != "--secret-cache-ttl=10s" || o.SecretCacheTTL.String() != "10s" {
			t.Errorf("extraArgs are not last: %q", c.Args)
		}
		checkAuditArgs(t, c.Args, "1m", "10", "2")
		if d.Spec.Template.Labels["team"] != "platform" || d.Spec.Template.Labels["app.kubernetes.io/name"] != "innokeda" {
			t.Errorf("pod labels %v", d.Spec.Template.Labels)
		}
		var m admissionregistrationv1.MutatingWebhookConfiguration
		everything.get(t, "MutatingWebhookConfiguration", chartPrefix+"innokeda-mutating", &m)
		if got := m.Webhooks[0].NamespaceSelector.MatchExpressions[0].Values; !slices.Equal(got, []string{"kube-system", "tenant-sandbox"}) {
			t.Errorf("namespaces left out %q", got)
		}
		if m.Webhooks[0].ObjectSelector == nil || len(m.Webhooks[0].ObjectSelector.MatchExpressions) != 1 {
			t.Errorf("objectSelector %+v", m.Webhooks[0].ObjectSelector)
		}
		noDefaults := built(decode(t, helmBytes(t, ns, "--set", "priorityClassName=", "--set", "topologySpreadConstraints=null")))
		d, _ = noDefaults.options(t, chartPrefix+"innokeda")
		if d.Spec.Template.Spec.PriorityClassName != "" || d.Spec.Template.Spec.TopologySpreadConstraints != nil {
			t.Errorf("priorityClassName %q and spread %v, want none", d.Spec.Template.Spec.PriorityClassName, d.Spec.Template.Spec.TopologySpreadConstraints)
		}
	})
}

// TestHelmChartRejectsBadValues: values the binary would refuse, or that do not fit
// together, fail at render time with a message naming the value, not as a crash-looping pod.
func TestHelmChartRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"dryRun.onUnreachable=bogus", "at '/dryRun/onUnreachable': value must be one of 'warn', 'deny'"},
		{"dryRun.timeout=abc", "at '/dryRun/timeout': 'abc' does not match pattern"},
		{"dryRun.timeout=0s", "at '/dryRun/timeout'"},
		{"metrics.serviceMonitor.interval=1.5s", "at '/metrics/serviceMonitor/interval'"},
		{"logLevel=200", "at '/logLevel'"},
		{"logLevel=loud", "at '/logLevel'"},
		{"audit.rate=0", "at '/audit/rate': exclusiveMinimum: got 0, want 0"},
		{"audit.rate=-1", "at '/audit/rate': exclusiveMinimum: got -1, want 0"},
		{"audit.rate=fast", "at '/audit/rate'"},
		{"audit.rate=0.0", "at '/audit/rate'"},
		{"audit.clusterRate=0", "at '/audit/clusterRate': exclusiveMinimum: got 0, want 0"},
		{"audit.clusterRate=slow", "at '/audit/clusterRate'"},
		{"audit.interval=five", "at '/audit/interval': 'five' does not match pattern"},
		{"dryRun.maxConcurent=3", "at '/dryRun': additional properties 'maxConcurent' not allowed"},
		{"imageTag=1.0", "additional properties 'imageTag' not allowed"},
		{"image.digest=sha256:xyz", "at '/image/digest'"},
		{"webhook.port=70000", "at '/webhook/port': maximum"},
		{"webhook.timeoutSeconds=60", "at '/webhook/timeoutSeconds': maximum"},
		{"webhook.failurePolicy=fail", "at '/webhook/failurePolicy'"},
		{"replicaCount=0", "at '/replicaCount': minimum"},
		{"podDisruptionBudget.minAvailable=5", "podDisruptionBudget.minAvailable (5) must be less than replicaCount (2)"},
		{"podDisruptionBudget.minAvailable=100%", "podDisruptionBudget.minAvailable 100% of replicaCount 2 keeps every replica up"},
		{"dryRun.maxConcurrent=1", "dryRun.maxConcurrent (1) must be at least 2 while the audit runs"},
		{"certificate.renewBefore=9000h", "certificate.renewBefore (9000h) must be shorter than certificate.validity (8760h)"},
		{"extraArgs[0]=rm", "at '/extraArgs/0'"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			root := harness.RepoRoot()
			cmd := toolCommand(root, "helm", "template", "rel", "charts/innokeda", "--namespace", "x", "--kube-version", "1.37.2", "--set", tc.set)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("rendered with %s", tc.set)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the error does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestHelmInstallChecksCRDs renders the chart as helm install does, against real API
// servers: one with KEDA's and the InnoDBCluster CRDs (it installs, NOTES included), one
// with none (it stops, naming each CRD and how to install it).
func TestHelmInstallChecksCRDs(t *testing.T) {
	kubeconfig := func(t *testing.T, cp *harness.ControlPlane) string {
		t.Helper()
		path, err := cp.KubeconfigFile(harness.Admin, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	// The test's kube-apiserver, built from Go modules, calls itself v0.0.0, which the
	// chart's kubeVersion refuses: a copy of the chart without it is installed.
	chart := filepath.Join(t.TempDir(), "innokeda")
	if err := os.CopyFS(chart, os.DirFS(filepath.Join(harness.RepoRoot(), "charts", "innokeda"))); err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(meta), "\n") {
		if !strings.HasPrefix(line, "kubeVersion:") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	install := func(cp *harness.ControlPlane) ([]byte, error) {
		cmd := toolCommand(harness.RepoRoot(), "helm", "install", "rel", chart, "--namespace", "default", "--dry-run=server", "--kubeconfig", kubeconfig(t, cp))
		return cmd.CombinedOutput()
	}
	out, err := install(controlPlane)
	if err != nil {
		t.Fatalf("helm install --dry-run=server with the CRDs installed: %v\n%s", err, out)
	}
	for _, want := range []string{"NOTES:", "innokeda.io/autofill=true", "rel-innokeda-metrics-reader"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the install's output does not say %q", want)
		}
	}

	bare, err := harness.StartBareControlPlane()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	out, err = install(bare)
	if err == nil {
		t.Fatalf("installed into a cluster without KEDA:\n%s", out)
	}
	for _, want := range []string{"scaledobjects.keda.sh", "clustertriggerauthentications.keda.sh", "innodbclusters.mysql.oracle.com", "helm install keda kedacore/keda", "helm install mysql-operator"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the failure does not say %q:\n%s", want, out)
		}
	}
}
