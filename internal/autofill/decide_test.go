package autofill_test

import (
	"encoding/json"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
)

const (
	ns       = "mysql-cluster"
	query    = "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'"
	instHost = "mycluster-instances.mysql-cluster.svc.cluster.local"
)

func TestDecide(t *testing.T) {
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterStatus(innodbcluster.StatusOnline))
	sts := gen.StatefulSet(cluster)
	facts := autofill.Facts{ClusterDomain: "cluster.local", StatefulSet: sts, Cluster: cluster}
	with := func(mods ...func(*autofill.Facts)) autofill.Facts {
		f := facts
		for _, m := range mods {
			m(&f)
		}
		return f
	}
	clusterWith := func(opts ...gen.ClusterOption) func(*autofill.Facts) {
		return func(f *autofill.Facts) {
			c := f.Cluster.DeepCopy()
			for _, o := range opts {
				o(c)
			}
			f.Cluster = c
		}
	}
	// The fields filled into a ScaledObject that names only its target and a query.
	fullyFilled := gen.ScaledObject(ns, "so", "mycluster",
		gen.WithTarget("apps/v1", "StatefulSet", "mycluster"),
		gen.WithEnvSourceContainer("mysql"),
		gen.WithMySQLTrigger(query, "3"),
		gen.WithTriggerMetadata(0, "host", instHost, "port", "3306", "dbName", "testdb", "username", "root"),
		gen.WithAuthenticationRef(0, "", "mycluster-innokeda"),
		gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)),
		gen.WithPacing(),
		gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.apiVersion,spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.triggers[0].metadata.username,spec.maxReplicaCount,spec.minReplicaCount,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp"),
	)
	bare := gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger(query, "3"))

	tests := []struct {
		name  string
		in    *kedav1alpha1.ScaledObject
		facts autofill.Facts
		// want is the whole object expected; nil means the input unchanged.
		want         *kedav1alpha1.ScaledObject
		wantSkip     autofill.Skip
		wantWarnings []string
	}{
		{
			name:  "bare ScaledObject gets every field",
			in:    bare,
			facts: facts,
			want:  fullyFilled,
			wantWarnings: []string{
				"innokeda filled 11 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.apiVersion=apps/v1; spec.scaleTargetRef.envSourceContainerName=mysql; spec.triggers[0].authenticationRef=mycluster-innokeda; spec.triggers[0].metadata.host=" + instHost + "; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.triggers[0].metadata.username=root; spec.maxReplicaCount=9; spec.minReplicaCount=3; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s",
			},
		},
		{
			name:  "seed mistake: envSourceContainerName is a JSON path, not a container",
			in:    gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer(".spec.template.spec.containers[0]"), gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](10))),
			facts: with(func(f *autofill.Facts) { f.RootUserInSecret = true }),
			want: gen.ScaledObjectFrom(bare,
				gen.WithTarget("apps/v1", "StatefulSet", "mycluster"),
				gen.WithEnvSourceContainer("mysql"),
				gen.WithTriggerMetadata(0, "host", instHost, "port", "3306", "dbName", "testdb"),
				gen.WithAuthenticationRef(0, "", "mycluster-innokeda"),
				gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](10)),
				gen.WithPacing(),
				gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp"),
			),
			wantWarnings: []string{
				`innokeda filled 7 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.envSourceContainerName=mysql (replaced: ".spec.template.spec.containers[0]" is not a container of StatefulSet mycluster (containers: sidecar, mysql)); spec.triggers[0].authenticationRef=mycluster-innokeda; spec.triggers[0].metadata.host=` + instHost + `; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s`,
			},
		},
		{
			name: "valid user values are left alone",
			in:   gen.ScaledObjectFrom(fullyFilled, gen.WithEnvSourceContainer("sidecar"), gen.WithTriggerMetadata(0, "host", "mycluster-0.mycluster-instances", "port", "6446", "username", "app"), gen.WithAuthenticationRef(0, "", "mine"), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: with(func(f *autofill.Facts) {
				f.TriggerAuthentications = map[autofill.AuthKey]sets.Set[string]{{Kind: "TriggerAuthentication", Name: "mine"}: sets.New("password")}
			}),
			wantSkip: "",
		},
		{
			name:  "host that is not a host name is replaced, and its value is not echoed",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithTriggerMetadata(0, "host", "root:s3cret@tcp(10.96.0.12:6446)/db", "port", "three"), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: facts,
			want:  gen.ScaledObjectFrom(fullyFilled, gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].metadata.host,spec.triggers[0].metadata.port")),
			wantWarnings: []string{
				"innokeda filled 2 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.triggers[0].metadata.host=" + instHost + " (replaced: the value was not a host name (use a bare host name; the port goes into port)); spec.triggers[0].metadata.port=3306 (replaced: the value was not a port number)",
			},
		},
		{
			name:  "router mode and database annotation",
			in:    bare,
			facts: with(clusterWith(gen.WithClusterAnnotation(annotations.HostService, "router"), gen.WithClusterAnnotation(annotations.Database, "testdb"))),
			want: gen.ScaledObjectFrom(fullyFilled,
				gen.WithTriggerMetadata(0, "host", "mycluster.mysql-cluster.svc.cluster.local", "dbName", "testdb"),
				gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.apiVersion,spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.triggers[0].metadata.username,spec.maxReplicaCount,spec.minReplicaCount,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp"),
			),
			wantWarnings: []string{
				"innokeda filled 11 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.apiVersion=apps/v1; spec.scaleTargetRef.envSourceContainerName=mysql; spec.triggers[0].authenticationRef=mycluster-innokeda; spec.triggers[0].metadata.host=mycluster.mysql-cluster.svc.cluster.local; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.triggers[0].metadata.username=root; spec.maxReplicaCount=9; spec.minReplicaCount=3; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s",
			},
		},
		{
			name:  "unknown host-service value falls back to instances with a warning",
			in:    fullyFilled,
			facts: with(clusterWith(gen.WithClusterAnnotation(annotations.HostService, "primary"))),
			wantWarnings: []string{
				`annotation innokeda.io/host-service="primary" on the InnoDBCluster is not "instances" or "router"; using "instances"`,
			},
		},
		{
			name:  "kind InnoDBCluster is rewritten to its StatefulSet",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithTarget("mysql.oracle.com/v2", "InnoDBCluster", "mycluster"), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: facts,
			want:  gen.ScaledObjectFrom(fullyFilled, gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.kind,spec.scaleTargetRef.apiVersion")),
			wantWarnings: []string{
				"spec.scaleTargetRef: KEDA cannot scale an InnoDBCluster (its CRD has no scale subresource); innokeda pointed the ScaledObject at StatefulSet mycluster, the group members the MySQL Operator runs for it",
				"innokeda filled 2 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.kind=StatefulSet (replaced: an InnoDBCluster cannot be scaled); spec.scaleTargetRef.apiVersion=apps/v1 (replaced: an InnoDBCluster cannot be scaled)",
			},
		},
		{
			name:  "a cron trigger next to the mysql one is untouched",
			in:    gen.ScaledObjectFrom(bare, gen.WithTrigger("cron", map[string]string{"timezone": "UTC", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "5"})),
			facts: facts,
			want: gen.ScaledObjectFrom(fullyFilled,
				gen.WithTrigger("cron", map[string]string{"timezone": "UTC", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "5"})),
			wantWarnings: []string{
				"innokeda filled 11 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.apiVersion=apps/v1; spec.scaleTargetRef.envSourceContainerName=mysql; spec.triggers[0].authenticationRef=mycluster-innokeda; spec.triggers[0].metadata.host=" + instHost + "; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.triggers[0].metadata.username=root; spec.maxReplicaCount=9; spec.minReplicaCount=3; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s",
			},
		},
		{
			name: "user's TriggerAuthentication from the annotation, providing username and a connection string",
			in:   gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"), gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](5))),
			facts: with(clusterWith(gen.WithClusterAnnotation(annotations.TriggerAuthentication, "app-auth")), func(f *autofill.Facts) {
				f.TriggerAuthentications = map[autofill.AuthKey]sets.Set[string]{{Kind: "TriggerAuthentication", Name: "app-auth"}: sets.New("connectionString")}
			}),
			want: gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"), gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](5)),
				gen.WithAuthenticationRef(0, "", "app-auth"), gen.WithPacing(),
				gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].authenticationRef,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp")),
			wantWarnings: []string{
				"innokeda filled 3 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.triggers[0].authenticationRef=app-auth; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s",
			},
		},
		{
			name: "host, port, dbName and username that the TriggerAuthentication provides are not put into metadata",
			in:   gen.ScaledObjectFrom(fullyFilled, gen.WithTrigger("mysql", map[string]string{"query": query, "queryValue": "3"}), gen.WithAuthenticationRef(1, "ClusterTriggerAuthentication", "shared"), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: with(func(f *autofill.Facts) {
				f.TriggerAuthentications = map[autofill.AuthKey]sets.Set[string]{{Kind: "ClusterTriggerAuthentication", Name: "shared"}: sets.New("host", "port", "dbName", "username", "password")}
			}),
		},
		{
			name:  "passwordFromEnv: no authenticationRef; a Secret with rootUser that nothing maps gets a warning",
			in:    gen.ScaledObjectFrom(bare, gen.WithTriggerMetadata(0, "passwordFromEnv", "MYSQL_ROOT_PASSWORD")),
			facts: with(func(f *autofill.Facts) { f.RootUserInSecret = true }),
			want: gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"),
				gen.WithTriggerMetadata(0, "passwordFromEnv", "MYSQL_ROOT_PASSWORD", "host", instHost, "port", "3306", "dbName", "testdb"),
				gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)), gen.WithPacing(),
				gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.apiVersion,spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.maxReplicaCount,spec.minReplicaCount,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp")),
			wantWarnings: []string{
				"spec.triggers[0]: the trigger has no username; set metadata.username",
				"innokeda filled 9 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.scaleTargetRef.apiVersion=apps/v1; spec.scaleTargetRef.envSourceContainerName=mysql; spec.triggers[0].metadata.host=" + instHost + "; spec.triggers[0].metadata.port=3306; spec.triggers[0].metadata.dbName=testdb; spec.maxReplicaCount=9; spec.minReplicaCount=3; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown=1 member per 300s, after a 600s window; spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp=1 member per 120s",
			},
		},
		{
			name: "dbName: the query's only schema, none when it reads several or names none",
			in: gen.ScaledObjectFrom(fullyFilled, gen.WithTriggerMetadata(0, "dbName", ""),
				gen.WithTrigger("mysql", map[string]string{"query": "SELECT COUNT(*) FROM a.t JOIN b.u", "queryValue": "1", "host": instHost, "port": "3306", "username": "root"}),
				gen.WithTrigger("mysql", map[string]string{"query": "SELECT COUNT(*) FROM t", "queryValue": "1", "host": instHost, "port": "3306", "username": "root"}),
				gen.WithAuthenticationRef(1, "", "mycluster-innokeda"), gen.WithAuthenticationRef(2, "", "mycluster-innokeda"),
				gen.WithAnnotation(annotations.Autofilled, "")),
			facts: facts,
			want: gen.ScaledObjectFrom(fullyFilled,
				gen.WithTrigger("mysql", map[string]string{"query": "SELECT COUNT(*) FROM a.t JOIN b.u", "queryValue": "1", "host": instHost, "port": "3306", "username": "root"}),
				gen.WithTrigger("mysql", map[string]string{"query": "SELECT COUNT(*) FROM t", "queryValue": "1", "host": instHost, "port": "3306", "username": "root"}),
				gen.WithAuthenticationRef(1, "", "mycluster-innokeda"), gen.WithAuthenticationRef(2, "", "mycluster-innokeda"),
				gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].metadata.dbName")),
			wantWarnings: []string{
				"innokeda filled 1 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.triggers[0].metadata.dbName=testdb",
			},
		},
		{
			name:  "a missing TriggerAuthentication is reported",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithAuthenticationRef(0, "", "typo"), gen.WithTriggerMetadata(0, "username", "app")),
			facts: facts,
			wantWarnings: []string{
				"spec.triggers[0].authenticationRef: TriggerAuthentication typo does not exist in namespace mysql-cluster; KEDA will not find the password",
			},
		},
		{
			name:  "trigger without metadata gets a metadata map",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithTrigger("mysql", nil), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: facts,
			want: gen.ScaledObjectFrom(fullyFilled, gen.WithTrigger("mysql", map[string]string{"host": instHost, "port": "3306", "username": "root"}), gen.WithAuthenticationRef(1, "", "mycluster-innokeda"),
				gen.WithAnnotation(annotations.Autofilled, "spec.triggers[1].authenticationRef,spec.triggers[1].metadata.host,spec.triggers[1].metadata.port,spec.triggers[1].metadata.username")),
			wantWarnings: []string{
				"innokeda filled 4 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.triggers[1].authenticationRef=mycluster-innokeda; spec.triggers[1].metadata.host=" + instHost + "; spec.triggers[1].metadata.port=3306; spec.triggers[1].metadata.username=root",
			},
		},
		{
			name:  "minReplicaCount follows spec.instances, capped by the user's maxReplicaCount",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithReplicas(nil, ptr.To[int32](2)), gen.WithAnnotation(annotations.Autofilled, "")),
			facts: with(clusterWith(gen.WithInstances(ptr.To[int32](5)))),
			want:  gen.ScaledObjectFrom(fullyFilled, gen.WithReplicas(ptr.To[int32](2), ptr.To[int32](2)), gen.WithAnnotation(annotations.Autofilled, "spec.minReplicaCount")),
			wantWarnings: []string{
				"innokeda filled 1 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.minReplicaCount=2",
			},
		},
		{
			name:  "spec.instances unset means one instance",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithReplicas(nil, nil), gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].metadata.host")),
			facts: with(clusterWith(gen.WithInstances(nil))),
			want:  gen.ScaledObjectFrom(fullyFilled, gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](9)), gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].metadata.host,spec.maxReplicaCount,spec.minReplicaCount")),
			wantWarnings: []string{
				"innokeda filled 2 field(s) from InnoDBCluster mysql-cluster/mycluster: spec.maxReplicaCount=9; spec.minReplicaCount=1",
			},
		},
		{
			name:  "a pod template without a mysql container is reported, not guessed",
			in:    gen.ScaledObjectFrom(fullyFilled, gen.WithEnvSourceContainer("")),
			facts: with(func(f *autofill.Facts) { f.StatefulSet = statefulSetWithContainers(sts, "sidecar", "db") }),
			wantWarnings: []string{
				`spec.scaleTargetRef.envSourceContainerName: the pod template of StatefulSet mycluster has no "mysql" container (containers: sidecar, db); set the name of the container yourself`,
			},
		},
		{
			name:     "cluster not annotated: untouched",
			in:       bare,
			facts:    with(clusterWith(gen.WithClusterAnnotation(annotations.Autofill, "false"))),
			wantSkip: autofill.SkipNotAnnotated,
		},
		{
			name:     "StatefulSet not controlled by an InnoDBCluster: untouched",
			in:       bare,
			facts:    with(func(f *autofill.Facts) { f.StatefulSet = notOwned(sts) }),
			wantSkip: autofill.SkipNotInnoDBCluster,
		},
		{
			name:     "a Deployment target: untouched",
			in:       gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "Deployment", "mycluster")),
			facts:    facts,
			wantSkip: autofill.SkipTargetKind,
		},
		{
			name: "being deleted: untouched",
			in: gen.ScaledObjectFrom(bare, func(so *kedav1alpha1.ScaledObject) {
				so.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
			}),
			facts:    facts,
			wantSkip: autofill.SkipBeingDeleted,
		},
		{
			name:         "InnoDBCluster of the StatefulSet not found: untouched, with a warning",
			in:           bare,
			facts:        with(func(f *autofill.Facts) { f.Cluster = nil }),
			wantSkip:     autofill.SkipClusterNotFound,
			wantWarnings: []string{"spec.scaleTargetRef: StatefulSet mycluster belongs to InnoDBCluster mycluster, which was not found in namespace mysql-cluster; innokeda filled nothing"},
		},
		{
			name:         "StatefulSet of an annotated cluster not found: untouched, with a warning",
			in:           bare,
			facts:        with(func(f *autofill.Facts) { f.StatefulSet = nil }),
			wantSkip:     autofill.SkipStatefulSetNotFound,
			wantWarnings: []string{"spec.scaleTargetRef: StatefulSet mycluster of InnoDBCluster mycluster not found in namespace mysql-cluster (has the MySQL Operator created it yet?); innokeda filled nothing"},
		},
		{
			name:     "unrelated StatefulSet not found: untouched, silently",
			in:       bare,
			facts:    with(func(f *autofill.Facts) { f.StatefulSet, f.Cluster = nil, nil }),
			wantSkip: autofill.SkipStatefulSetNotFound,
		},
		{
			name:         "kind InnoDBCluster of a cluster that is not annotated: untouched, with advice",
			in:           gen.ScaledObjectFrom(bare, gen.WithTarget("", "InnoDBCluster", "mycluster")),
			facts:        with(clusterWith(gen.WithClusterAnnotation(annotations.Autofill, ""))),
			wantSkip:     autofill.SkipNotAnnotated,
			wantWarnings: []string{`spec.scaleTargetRef: KEDA cannot scale an InnoDBCluster (it has no scale subresource): target StatefulSet mycluster instead, or annotate the InnoDBCluster innokeda.io/autofill="true" and innokeda will`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in.DeepCopy()
			got := autofill.Decide(tc.in, tc.facts)

			if diff := cmp.Diff(before, tc.in); diff != "" {
				t.Fatalf("Decide changed its input (-before +after):\n%s", diff)
			}
			if got.Skip != tc.wantSkip {
				t.Errorf("Skip = %q, want %q", got.Skip, tc.wantSkip)
			}
			want := tc.want
			if want == nil {
				want = tc.in
			}
			if diff := cmp.Diff(want, got.Object); diff != "" {
				t.Errorf("object (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, got.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if (len(got.Fills) == 0) != (len(got.Patch) == 0) {
				t.Errorf("%d fills but %d patch operations", len(got.Fills), len(got.Patch))
			}
			assertPatchMatches(t, tc.in, got)

			// Idempotency: innokeda on its own output changes nothing.
			again := autofill.Decide(got.Object, tc.facts)
			if len(again.Fills) != 0 || len(again.Patch) != 0 {
				t.Errorf("second pass filled %v", again.Fills)
			}
		})
	}
}

// assertPatchMatches applies the JSON patch to the object as sent and checks that it
// yields exactly the object Decide returned.
func assertPatchMatches(t *testing.T, in *kedav1alpha1.ScaledObject, got autofill.Result) {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := json.Marshal(got.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		t.Fatalf("decode patch %s: %v", ops, err)
	}
	patched := raw
	if len(got.Patch) > 0 {
		if patched, err = patch.Apply(raw); err != nil {
			t.Fatalf("apply patch %s: %v", ops, err)
		}
	}
	var fromPatch kedav1alpha1.ScaledObject
	if err := json.Unmarshal(patched, &fromPatch); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Object, &fromPatch); diff != "" {
		t.Errorf("patched object differs from Decide's object (-decide +patch):\n%s\npatch: %s", diff, ops)
	}
}

func statefulSetWithContainers(sts *appsv1.StatefulSet, names ...string) *appsv1.StatefulSet {
	sts = sts.DeepCopy()
	sts.Spec.Template.Spec.Containers = nil
	for _, n := range names {
		sts.Spec.Template.Spec.Containers = append(sts.Spec.Template.Spec.Containers, corev1Container(n))
	}
	return sts
}

func notOwned(sts *appsv1.StatefulSet) *appsv1.StatefulSet {
	sts = sts.DeepCopy()
	sts.OwnerReferences = nil
	return sts
}
