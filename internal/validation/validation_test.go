package validation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/validation"
	"github.com/innokeda/innokeda/test/gen"
)

const query = "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'"

func TestScaledObject(t *testing.T) {
	containers := []string{"sidecar", "mysql"}
	valid := gen.ScaledObject("db", "so", "mycluster",
		gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"),
		gen.WithMySQLTrigger(query, "3"), gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)))
	tests := []struct {
		name     string
		so       *kedav1alpha1.ScaledObject
		workload validation.Workload
		want     []string // "reason: error", in order
	}{
		{name: "valid", so: valid},
		{name: "valid with spaces and an activation value", so: gen.ScaledObjectFrom(valid, gen.WithTriggerMetadata(0, "queryValue", " 2.5 ", "activationQueryValue", "0"))},
		{name: "other trigger types are not checked", so: gen.ScaledObjectFrom(valid, gen.WithTrigger("cron", map[string]string{"queryValue": "x"}))},
		{
			name: "KEDA's default minReplicaCount 0 and maxReplicaCount 100",
			so:   gen.ScaledObjectFrom(valid, gen.WithReplicas(nil, nil)),
			want: []string{
				"replica-bounds: spec.minReplicaCount: Invalid value: 0: must be at least 1: scaling an InnoDBCluster's StatefulSet to 0 stops every group member and the cluster needs a manual reboot",
				"replica-bounds: spec.maxReplicaCount: Invalid value: 100: must be at most 9, the MySQL Group Replication member limit",
			},
		},
		{
			name: "read replicas: no 9-member limit, but still at least 1",
			so:   gen.ScaledObjectFrom(valid, gen.WithReplicas(ptr.To[int32](0), ptr.To[int32](20))), workload: validation.ReadReplicas,
			want: []string{"replica-bounds: spec.minReplicaCount: Invalid value: 0: must be at least 1: at 0 the read replicas are all stopped, and each comes back by cloning the whole data set"},
		},
		{name: "read replicas: 20 is fine", so: gen.ScaledObjectFrom(valid, gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](20))), workload: validation.ReadReplicas},
		{
			name: "the router: no 9-member limit, at least 1",
			so:   gen.ScaledObjectFrom(valid, gen.WithReplicas(ptr.To[int32](0), ptr.To[int32](20)), gen.WithEnvSourceContainer("mysql")), workload: validation.Router,
			want: []string{
				"replica-bounds: spec.minReplicaCount: Invalid value: 0: must be at least 1: at 0 no router runs, and every application that connects through it loses its database",
				`env-source-container: spec.scaleTargetRef.envSourceContainerName: Invalid value: "mysql": is not a container of StatefulSet mycluster, so KEDA would fail every trigger: use one of router (the router container is "router")`,
			},
		},
		{
			name: "min above max",
			so:   gen.ScaledObjectFrom(valid, gen.WithReplicas(ptr.To[int32](5), ptr.To[int32](4))),
			want: []string{"replica-bounds: spec.minReplicaCount: Invalid value: 5: must not be above maxReplicaCount (4)"},
		},
		{
			name: "envSourceContainerName that is no container",
			so:   gen.ScaledObjectFrom(valid, gen.WithEnvSourceContainer(".spec.template.spec.containers[0]")),
			want: []string{`env-source-container: spec.scaleTargetRef.envSourceContainerName: Invalid value: ".spec.template.spec.containers[0]": is not a container of StatefulSet mycluster, so KEDA would fail every trigger: use one of sidecar, mysql (the database container is "mysql")`},
		},
		{
			name: "no query, no queryValue",
			so:   gen.ScaledObjectFrom(valid, gen.WithTrigger("mysql", map[string]string{"query": "  "})),
			want: []string{
				"missing-query: spec.triggers[1].metadata.query: Required value: set a SELECT that returns one number, e.g. SELECT COUNT(*) FROM db.jobs WHERE state = 'queued'",
				`query-value: spec.triggers[1].metadata.queryValue: Required value: set the value of the query's result per replica, e.g. "5"`,
			},
		},
		{
			name: "values KEDA would not parse, or that make no sense",
			so:   gen.ScaledObjectFrom(valid, gen.WithTriggerMetadata(0, "queryValue", "three", "activationQueryValue", "-1")),
			want: []string{
				`query-value: spec.triggers[0].metadata.queryValue: Invalid value: "three": must be a number, e.g. "5" or "2.5"`,
				`activation-query-value: spec.triggers[0].metadata.activationQueryValue: Invalid value: "-1": must not be below 0`,
			},
		},
		{
			name: "queryValue 0, activationQueryValue NaN",
			so:   gen.ScaledObjectFrom(valid, gen.WithTriggerMetadata(0, "queryValue", "0", "activationQueryValue", "NaN")),
			want: []string{
				`query-value: spec.triggers[0].metadata.queryValue: Invalid value: "0": must be above 0: it is the query's result per replica`,
				`activation-query-value: spec.triggers[0].metadata.activationQueryValue: Invalid value: "NaN": must be a number, e.g. "0"`,
			},
		},
		{
			name: "a password in plain metadata is refused and not echoed",
			so:   gen.ScaledObjectFrom(valid, gen.WithTriggerMetadata(0, "password", "hunter2")),
			want: []string{"password-in-metadata: spec.triggers[0].metadata.password: Forbidden: KEDA ignores a password in trigger metadata, and it is a secret in plain text: remove it and put the password in a Secret referenced by the trigger's TriggerAuthentication"},
		},
		{
			name: "a write is refused before any connection",
			so:   gen.ScaledObjectFrom(valid, gen.WithTriggerMetadata(0, "query", "SELECT 1; DROP TABLE testdb.testtable")),
			want: []string{"query-not-read-only: spec.triggers[0].metadata.query: Invalid value: the query holds 2 statements: give exactly one SELECT statement, without a semicolon between statements"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range validation.ScaledObject(tc.so, map[bool][]string{true: {"router"}, false: containers}[tc.workload == validation.Router], tc.workload, validation.Queries(tc.so)) {
				got = append(got, v.Reason+": "+v.Err.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
