package validation

import (
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
)

func TestTriggerAdvice(t *testing.T) {
	trigger := func(md map[string]string) *kedav1alpha1.ScaledObject {
		return &kedav1alpha1.ScaledObject{Spec: kedav1alpha1.ScaledObjectSpec{Triggers: []kedav1alpha1.ScaleTriggers{
			{Type: "cpu", Metadata: map[string]string{"metricName": "not ours"}},
			{Type: "mysql", Metadata: md},
		}}}
	}
	for _, tc := range []struct {
		name string
		md   map[string]string
		want []string // rule@field: message prefix
	}{
		{"clean", map[string]string{"query": "SELECT COALESCE(SUM(n), 0) FROM app.jobs"}, nil},
		{"keys KEDA does not read, sorted", map[string]string{"query": "SELECT COUNT(*) FROM app.jobs", "portFromEnv": "P", "hostFromEnv": "H", "metricName": "m"},
			[]string{"ignored-metadata@spec.triggers[1].metadata.hostFromEnv: KEDA's mysql scaler does not read hostFromEnv",
				"ignored-metadata@spec.triggers[1].metadata.metricName: KEDA's mysql scaler does not read metricName: KEDA names the metric itself",
				"ignored-metadata@spec.triggers[1].metadata.portFromEnv: KEDA's mysql scaler does not read portFromEnv"}},
		{"a SUM that can be NULL", map[string]string{"query": "SELECT CEIL(SUM(n) / 6) FROM app.jobs WHERE state = 'queued'"},
			[]string{"nullable-aggregate@spec.triggers[1].metadata.query: SUM of no rows is NULL, and KEDA fails every poll that returns NULL"}},
		{"a query the guard refuses gets no advice", map[string]string{"query": "DELETE FROM app.jobs"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so := trigger(tc.md)
			advice := TriggerAdvice(so, Queries(so))
			if len(advice) != len(tc.want) {
				t.Fatalf("advice %+v; want %d", advice, len(tc.want))
			}
			for i, a := range advice {
				if got := a.Rule + "@" + a.Warning(); !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("advice %d: %s\nwant %s...", i, got, tc.want[i])
				}
			}
		})
	}
}
