package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

const query = "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'"

// createCluster creates an InnoDBCluster, its root Secret (with the test MariaDB's root
// password) and the StatefulSet, Services and member pods the operator (and Kubernetes)
// would create, then waits until innokeda's controller has made the cluster's
// TriggerAuthentication and innokeda's cache has them all.
func createCluster(t *testing.T, c client.Client, ns, name, rootUser string, opts ...gen.ClusterOption) (*innodbcluster.InnoDBCluster, *appsv1.StatefulSet) {
	t.Helper()
	ctx := context.Background()
	cluster := gen.InnoDBCluster(ns, name, opts...)
	mustCreate(t, c, gen.Secret(cluster, rootUser, mariadb.RootPassword))
	mustCreate(t, c, cluster)
	if err := harness.SetClusterState(ctx, c, cluster, innodbcluster.StatusOnline); err != nil {
		t.Fatal(err)
	}
	sts := gen.StatefulSet(cluster)
	mustCreate(t, c, sts)
	objs := []client.Object{sts, cluster, gen.InstancesService(cluster), gen.RouterService(cluster)}
	for _, obj := range objs[2:] {
		mustCreate(t, c, obj)
	}
	for _, obj := range objs {
		waitForCache(t, ctx, obj)
	}
	for i := range cluster.DesiredInstances() {
		createPod(t, c, gen.MemberPod(sts, int(i), fmt.Sprintf("10.244.0.%d", 10+i)))
	}
	if cluster.AutofillEnabled() {
		waitForCache(t, ctx, gen.TriggerAuthentication(cluster, rootUser != ""))
	}
	return cluster, sts
}

// createPod creates pod, sets its status (which a create drops) through the status
// subresource, as the kubelet would, and waits until innokeda's cache has that status.
func createPod(t *testing.T, c client.Client, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	status := pod.Status
	mustCreate(t, c, pod)
	pod.Status = status
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatalf("set the status of pod %s: %v", pod.Name, err)
	}
	cached := &corev1.Pod{}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return innokeda.GetCache().Get(ctx, client.ObjectKeyFromObject(pod), cached) == nil && cached.Status.PodIP == status.PodIP, nil
	})
	if err != nil {
		t.Fatalf("the manager's cache never saw pod %s with IP %s: %v", pod.Name, status.PodIP, err)
	}
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitForCache waits until the manager's cache has seen obj, so that the webhook call
// that follows sees it too.
func waitForCache(t *testing.T, ctx context.Context, obj client.Object) {
	t.Helper()
	cache := innokeda.GetCache()
	key := client.ObjectKeyFromObject(obj)
	into := obj.DeepCopyObject().(client.Object)
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return cache.Get(ctx, key, into) == nil, nil
	})
	if err != nil {
		t.Fatalf("the manager's cache never saw %T %s: %v", obj, key, err)
	}
}

func TestMutatingWebhookFillsScaledObjectThroughAPIServer(t *testing.T) {
	const ns = "fill"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	createCluster(t, c, ns, "mycluster", "")

	so := gen.ScaledObject(ns, "orders", "mycluster",
		gen.WithEnvSourceContainer(".spec.template.spec.containers[0]"), // the seed mistake
		gen.WithMySQLTrigger(query, "3"))
	mustCreate(t, c, so)

	stored := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
		t.Fatal(err)
	}
	host := "mycluster-instances." + ns + ".svc.cluster.local"
	wantSpec := gen.ScaledObject(ns, "orders", "mycluster",
		gen.WithTarget("apps/v1", "StatefulSet", "mycluster"),
		gen.WithEnvSourceContainer("mysql"),
		gen.WithMySQLTrigger(query, "3"),
		gen.WithTriggerMetadata(0, "host", host, "port", "3306", "dbName", "testdb", "username", "root"),
		gen.WithAuthenticationRef(0, "", "mycluster-innokeda"),
		gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)), gen.WithPacing()).Spec
	if diff := cmp.Diff(wantSpec, stored.Spec); diff != "" {
		t.Errorf("stored spec (-want +got):\n%s", diff)
	}
	wantAnnotation := "spec.scaleTargetRef.apiVersion,spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.triggers[0].metadata.username,spec.maxReplicaCount,spec.minReplicaCount,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp"
	if got := stored.Annotations[annotations.Autofilled]; got != wantAnnotation {
		t.Errorf("annotation %s = %q, want %q", annotations.Autofilled, got, wantAnnotation)
	}
	got := warnings.Take()
	want := `innokeda filled 11 field(s) from InnoDBCluster ` + ns + `/mycluster: spec.scaleTargetRef.apiVersion=apps/v1; spec.scaleTargetRef.envSourceContainerName=mysql (replaced: ".spec.template.spec.containers[0]" is not a container of StatefulSet mycluster (containers: sidecar, mysql)); spec.triggers[0].authenticationRef=mycluster-innokeda; spec.triggers[0].metadata.host=` + host + `; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.triggers[0].metadata.username=root; spec.maxReplicaCount=9; spec.minReplicaCount=3; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s`
	dryRun := "spec.triggers[0]: dry-run returned 2 in "
	if !slices.Contains(got, want) || !slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, dryRun) }) {
		t.Errorf("client warnings = %q, want one %q and one starting %q", got, want, dryRun)
	}

	// An update that touches no filled field (KEDA adds labels and finalizers) changes
	// nothing more and warns of nothing.
	stored.Labels = map[string]string{"team": "orders"}
	if err := c.Update(ctx, stored); err != nil {
		t.Fatal(err)
	}
	updated := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(so), updated); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored.Spec, updated.Spec); diff != "" {
		t.Errorf("update changed the spec (-before +after):\n%s", diff)
	}
	if got := updated.Annotations[annotations.Autofilled]; got != wantAnnotation {
		t.Errorf("after update, annotation = %q, want %q", got, wantAnnotation)
	}
	if got := warnings.Take(); len(got) != 0 {
		t.Errorf("update got warnings %q, want none", got)
	}
	if n := counter(t, "innokeda_autofill_fills_total", "field", "envSourceContainerName"); n < 1 {
		t.Errorf("innokeda_autofill_fills_total{field=envSourceContainerName} = %v, want >= 1", n)
	}
}

func TestMutatingWebhookThroughAPIServer(t *testing.T) {
	const ns = "table"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	createCluster(t, c, ns, "annotated", "root",
		gen.WithClusterAnnotation(annotations.HostService, "router"),
		gen.WithClusterAnnotation(annotations.Database, "testdb"))
	createCluster(t, c, ns, "plain", "", gen.WithClusterAnnotation(annotations.Autofill, ""))
	// A StatefulSet of some other workload: no operator label, no InnoDBCluster owner.
	kafka := gen.StatefulSet(gen.InnoDBCluster(ns, "kafka"))
	kafka.OwnerReferences, kafka.Labels = nil, nil
	mustCreate(t, c, kafka)

	routerHost := "annotated." + ns + ".svc.cluster.local"
	cron := map[string]string{"timezone": "UTC", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "5"}
	tests := []struct {
		name         string
		in           *kedav1alpha1.ScaledObject
		wantSpec     kedav1alpha1.ScaledObjectSpec
		wantWarnings []string // substrings, one per warning, in order
	}{
		{
			name: "kind InnoDBCluster is retargeted; router host, dbName; rootUser comes from the TriggerAuthentication",
			in: gen.ScaledObject(ns, "retarget", "annotated", gen.WithTarget("mysql.oracle.com/v2", "InnoDBCluster", "annotated"),
				gen.WithMySQLTrigger(query, "3"), gen.WithTrigger("cron", cron)),
			wantSpec: gen.ScaledObject(ns, "retarget", "annotated",
				gen.WithTarget("apps/v1", "StatefulSet", "annotated"), gen.WithEnvSourceContainer("mysql"),
				gen.WithMySQLTrigger(query, "3"),
				gen.WithTriggerMetadata(0, "host", routerHost, "port", "3306", "dbName", "testdb"),
				gen.WithAuthenticationRef(0, "", "annotated-innokeda"),
				gen.WithTrigger("cron", cron),
				gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)), gen.WithPacing()).Spec,
			wantWarnings: []string{"KEDA cannot scale an InnoDBCluster", "innokeda filled 11 field(s)",
				"spec.triggers[0]: dry-run returned 2 in "},
		},
		{
			name:     "cluster not annotated: stored as written",
			in:       gen.ScaledObject(ns, "plain", "plain", gen.WithMySQLTrigger(query, "3")),
			wantSpec: gen.ScaledObject(ns, "plain", "plain", gen.WithMySQLTrigger(query, "3")).Spec,
		},
		{
			name:     "StatefulSet of no InnoDBCluster: stored as written",
			in:       gen.ScaledObject(ns, "kafka", "kafka", gen.WithMySQLTrigger(query, "3")),
			wantSpec: gen.ScaledObject(ns, "kafka", "kafka", gen.WithMySQLTrigger(query, "3")).Spec,
		},
		{
			name:     "Deployment target: stored as written",
			in:       gen.ScaledObject(ns, "web", "web", gen.WithTarget("apps/v1", "Deployment", "web"), gen.WithTrigger("cron", cron)),
			wantSpec: gen.ScaledObject(ns, "web", "web", gen.WithTarget("apps/v1", "Deployment", "web"), gen.WithTrigger("cron", cron)).Spec,
		},
		{
			name:         "StatefulSet of an annotated cluster missing: stored as written, with a warning",
			in:           gen.ScaledObject(ns, "missing", "annotated-typo", gen.WithTarget("", "InnoDBCluster", "annotated-typo"), gen.WithMySQLTrigger(query, "3")),
			wantSpec:     gen.ScaledObject(ns, "missing", "annotated-typo", gen.WithTarget("", "InnoDBCluster", "annotated-typo"), gen.WithMySQLTrigger(query, "3")).Spec,
			wantWarnings: []string{"InnoDBCluster annotated-typo not found in namespace " + ns},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			warnings.Take()
			mustCreate(t, c, tc.in)
			stored := &kedav1alpha1.ScaledObject{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: tc.in.Name}, stored); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantSpec, stored.Spec); diff != "" {
				t.Errorf("stored spec (-want +got):\n%s", diff)
			}
			got := innokedaWarnings(warnings.Take())
			if len(got) != len(tc.wantWarnings) {
				t.Fatalf("warnings = %q, want %d matching %q", got, len(tc.wantWarnings), tc.wantWarnings)
			}
			for i, w := range tc.wantWarnings {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// innokedaWarnings drops the warnings KEDA's CRD validation may add, keeping innokeda's.
func innokedaWarnings(all []string) []string {
	var mine []string
	for _, w := range all {
		if strings.Contains(w, "has no "+annotations.AllowedTables+" annotation") {
			continue // the validating webhook's advice to the cluster's owner, not a fill
		}
		if strings.Contains(w, "innokeda") || strings.Contains(w, "InnoDBCluster") || strings.HasPrefix(w, "spec.") {
			mine = append(mine, w)
		}
	}
	return mine
}

// counter reads a counter from the registry the manager's metrics endpoint serves.
func counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
