package autofill_test

import (
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
)

func TestMembersRemovedAtOnce(t *testing.T) {
	pods := func(n int32) autoscalingv2.HPAScalingPolicy {
		return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: n, PeriodSeconds: 60}
	}
	percent := func(n int32) autoscalingv2.HPAScalingPolicy {
		return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: n, PeriodSeconds: 60}
	}
	rules := func(sel autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
		r := &autoscalingv2.HPAScalingRules{Policies: policies}
		if sel != "" {
			r.SelectPolicy = &sel
		}
		return r
	}
	for _, tc := range []struct {
		name                string
		rules               *autoscalingv2.HPAScalingRules
		minReplicas, maxRep int32
		want                int32
	}{
		{"no rules: the API's default, 100 percent, down to min", nil, 3, 9, 6},
		{"rules without policies get the default policies", rules(""), 1, 9, 8},
		{"one pod", rules("", pods(1)), 3, 9, 1},
		{"two pods", rules("", pods(2)), 3, 9, 2},
		{"10 percent of 9 leaves 8 (8.1 truncated)", rules("", percent(10)), 1, 9, 1},
		{"20 percent of 9 leaves 7 (7.2 truncated)", rules("", percent(20)), 1, 9, 2},
		{"50 percent of 9 leaves 4, but min is 5", rules("", percent(50)), 5, 9, 4},
		{"Max over policies: the most change", rules(autoscalingv2.MaxChangePolicySelect, pods(1), percent(50)), 1, 9, 5},
		{"Min over policies: the least change", rules(autoscalingv2.MinChangePolicySelect, pods(1), percent(50)), 1, 9, 1},
		{"Disabled", rules(autoscalingv2.DisabledPolicySelect, pods(4)), 1, 9, 0},
		{"never below min", rules("", pods(5)), 3, 4, 1},
		{"at min already", rules("", pods(5)), 4, 4, 0},
		{"KEDA's default maximum, 100", rules("", percent(10)), 1, 100, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := autofill.MembersRemovedAtOnce(tc.rules, tc.minReplicas, tc.maxRep); got != tc.want {
				t.Errorf("MembersRemovedAtOnce = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestPacing: the pacing is filled for what is missing, scaleDown and scaleUp each on its
// own; a scaleDown of the user's stands, with a warning when it can remove more than one
// member at once; the cluster's state and restoreToOriginalReplicaCount are warned about.
func TestPacing(t *testing.T) {
	online := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterStatus(innodbcluster.StatusOnline))
	facts := autofill.Facts{ClusterDomain: "cluster.local", StatefulSet: gen.StatefulSet(online), Cluster: online}
	filledBut := func(opts ...gen.ScaledObjectOption) autofill.Result {
		base := gen.ScaledObject(ns, "so", "mycluster", gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"),
			gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", instHost, "port", "3306", "dbName", "testdb", "username", "root"),
			gen.WithAuthenticationRef(0, "", "mycluster-innokeda"), gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)))
		so := gen.ScaledObjectFrom(base, opts...)
		r := autofill.Decide(so, facts)
		assertPatchMatches(t, so, r)
		if again := autofill.Decide(r.Object, facts); len(again.Fills) != 0 {
			t.Errorf("second pass filled %v", again.Fills)
		}
		return r
	}
	paths := func(r autofill.Result) string {
		var p []string
		for _, f := range r.Fills {
			p = append(p, f.Path)
		}
		return strings.Join(p, ",")
	}
	twoPods := &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 2, PeriodSeconds: 60}}}

	t.Run("a scaleDown of the user's stands, with the members it can remove; scaleUp is filled", func(t *testing.T) {
		r := filledBut(gen.WithScaleDown(twoPods))
		if got := paths(r); got != "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp" {
			t.Errorf("filled %s", got)
		}
		if r.Object.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.Policies[0].Value != 2 {
			t.Error("the user's scaleDown was changed")
		}
		want := "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown can remove 2 group members at once (from maxReplicaCount 9)"
		if len(r.Warnings) != 2 || !strings.HasPrefix(r.Warnings[0], want) || !strings.Contains(r.Warnings[0], "set policies: [{type: Pods, value: 1, periodSeconds: 300}]") {
			t.Errorf("warnings %q, want first %q...", r.Warnings, want)
		}
	})
	t.Run("a scaleDown of one pod at a time: no warning", func(t *testing.T) {
		r := filledBut(gen.WithScaleDown(&autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}))
		if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], "innokeda filled 1 field(s)") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
	t.Run("only scaleUp given: scaleDown is filled", func(t *testing.T) {
		r := filledBut(gen.WithScaleUp(twoPods))
		if got := paths(r); got != "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown" {
			t.Errorf("filled %s", got)
		}
		if d := r.Object.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown; *d.StabilizationWindowSeconds != 600 || d.Policies[0].Value != 1 || d.Policies[0].PeriodSeconds != 300 {
			t.Errorf("scaleDown %+v", d)
		}
	})
	t.Run("restoreToOriginalReplicaCount is warned about; the missing parents are created", func(t *testing.T) {
		r := filledBut(func(so *kedav1alpha1.ScaledObject) {
			so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{RestoreToOriginalReplicaCount: true}
		})
		if got := paths(r); got != "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown,spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp" {
			t.Errorf("filled %s", got)
		}
		if !strings.HasPrefix(strings.Join(r.Warnings, "\n"), "spec.advanced.restoreToOriginalReplicaCount: true resizes the group") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
	t.Run("a cluster that reports a state other than ONLINE", func(t *testing.T) {
		for state, want := range map[string]string{
			"NO_QUORUM":      `InnoDBCluster mycluster is "NO_QUORUM", not ONLINE`,
			"ONLINE_PARTIAL": `InnoDBCluster mycluster is "ONLINE_PARTIAL", not ONLINE`,
			"ONLINE":         "",
			"":               "", // not reported yet: every new cluster
		} {
			f := facts
			f.Cluster = online.DeepCopy()
			f.Cluster.Status.Cluster.Status = state
			r := autofill.Decide(gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger(query, "3")), f)
			warned := strings.Contains(strings.Join(r.Warnings, "\n"), "not ONLINE")
			if want != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), want) || want == "" && warned {
				t.Errorf("%q: warnings %q, want %q", state, r.Warnings, want)
			}
		}
	})
}
