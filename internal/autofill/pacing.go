package autofill

import (
	"math"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// The pacing innokeda fills for the group members' StatefulSet, when the ScaledObject
// has none of its own. The operator's StatefulSet is podManagementPolicy: Parallel, so a
// scale-down deletes every surplus pod at once, while the operator removes members from
// the group one at a time, under a per-cluster lock (mysqloperator/controller/innodbcluster
// operator_cluster.py on_pod_delete); a new member joins one at a time too, cloning from a
// donor. Without a behavior, KEDA's HPA removes all the surplus per 15 s after a 300 s
// window, and the primary is not always the lowest ordinal. So:
var (
	// scaleDownPacing: one member per 5 minutes, after 10 minutes of lower demand: time
	// for the group to reconfigure and for a new primary to be elected, if the member
	// removed was the primary, before the next one goes.
	scaleDownPacing = autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](600),
		Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 300}},
	}
	// scaleUpPacing: one member per 2 minutes: each new member clones the data from a
	// donor before it serves, and queued joins would only add load on the donors.
	scaleUpPacing = autoscalingv2.HPAScalingRules{
		Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 120}},
	}
)

const behaviorPath = "spec.advanced.horizontalPodAutoscalerConfig.behavior"

// pacing fills the scale-down and the scale-up pacing of group members, each only when
// the ScaledObject has none, and warns about risky choices the user made.
func (d *decision) pacing() {
	spec := &d.obj.Spec
	if behavior := behaviorOf(spec.Advanced); behavior != nil && behavior.ScaleDown != nil {
		// The user's own: checked, never replaced.
		maxReplicas, minReplicas := ptrOr(spec.MaxReplicaCount, kedaDefaultMaxReplicas), ptrOr(spec.MinReplicaCount, 0)
		if n := MembersRemovedAtOnce(behavior.ScaleDown, minReplicas, maxReplicas); n > 1 {
			d.warnf("%s.scaleDown can remove %d group members at once (from maxReplicaCount %d): the StatefulSet deletes them all at the same moment while the MySQL Operator takes members out of the group one at a time, "+
				"and the primary may be among them; set policies: [{type: Pods, value: 1, periodSeconds: 300}] (what innokeda fills when there is no scaleDown)", behaviorPath, n, maxReplicas)
		}
	}
	if behavior := behaviorOf(spec.Advanced); behavior == nil || behavior.ScaleDown == nil {
		behavior = d.ensureBehavior()
		behavior.ScaleDown = scaleDownPacing.DeepCopy()
		d.fill(Fill{Path: behaviorPath + ".scaleDown", Field: "scaleDown", Value: "1 member per 300s, after a 600s window"},
			jsonpatch.NewOperation("add", "/spec/advanced/horizontalPodAutoscalerConfig/behavior/scaleDown", behavior.ScaleDown))
	}
	if behavior := behaviorOf(spec.Advanced); behavior == nil || behavior.ScaleUp == nil {
		behavior = d.ensureBehavior()
		behavior.ScaleUp = scaleUpPacing.DeepCopy()
		d.fill(Fill{Path: behaviorPath + ".scaleUp", Field: "scaleUp", Value: "1 member per 120s"},
			jsonpatch.NewOperation("add", "/spec/advanced/horizontalPodAutoscalerConfig/behavior/scaleUp", behavior.ScaleUp))
	}
	if spec.Advanced != nil && spec.Advanced.RestoreToOriginalReplicaCount {
		d.warnf("spec.advanced.restoreToOriginalReplicaCount: true resizes the group to the StatefulSet's original size in one step when the ScaledObject is deleted, with no pacing: leave it false")
	}
}

// clusterState warns when the group reports a state other than ONLINE: scaling a group
// that has lost members or quorum, or that has not finished forming, moves members it
// may need. A cluster the operator has not reported on yet (no status) is not warned
// about: that is every cluster in its first seconds.
//
// Routers and read replicas are another matter before the group is first ONLINE: the
// operator sizes them, and creates the router's account, only when the group first has
// spec.instances members and the router still has no replicas (mysqloperator
// cluster_controller.py, post_create_actions); a ScaledObject that sizes them first stops
// that. So for them no status is warned about too.
func (d *decision) clusterState() {
	state := d.facts.Cluster.Status.Cluster.Status
	_, readReplicas := d.facts.ReadReplica()
	switch {
	case state == innodbcluster.StatusOnline:
	case d.facts.Router() || readReplicas:
		shown := quoteShort(state)
		if state == "" {
			shown = "not reported ONLINE yet"
		}
		d.warnf("InnoDBCluster %s is %s: the MySQL Operator sets up routers and read replicas (the router's account included) only once the group is first ONLINE, "+
			"and a ScaledObject that sizes them before can stop that; create it once the cluster is ONLINE", d.facts.Cluster.Name, shown)
	case state != "":
		d.warnf("InnoDBCluster %s is %s, not ONLINE: scaling now adds or removes members of a group that is not whole", d.facts.Cluster.Name, quoteShort(state))
	}
}

// ensureBehavior makes spec.advanced.horizontalPodAutoscalerConfig.behavior exist,
// patching in each missing parent as an empty object, and returns it.
func (d *decision) ensureBehavior() *autoscalingv2.HorizontalPodAutoscalerBehavior {
	spec := &d.obj.Spec
	if spec.Advanced == nil {
		spec.Advanced = &kedav1alpha1.AdvancedConfig{}
		d.patch = append(d.patch, jsonpatch.NewOperation("add", "/spec/advanced", map[string]any{}))
	}
	if spec.Advanced.HorizontalPodAutoscalerConfig == nil {
		spec.Advanced.HorizontalPodAutoscalerConfig = &kedav1alpha1.HorizontalPodAutoscalerConfig{}
		d.patch = append(d.patch, jsonpatch.NewOperation("add", "/spec/advanced/horizontalPodAutoscalerConfig", map[string]any{}))
	}
	config := spec.Advanced.HorizontalPodAutoscalerConfig
	if config.Behavior == nil {
		config.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
		d.patch = append(d.patch, jsonpatch.NewOperation("add", "/spec/advanced/horizontalPodAutoscalerConfig/behavior", map[string]any{}))
	}
	return config.Behavior
}

// kedaDefaultMaxReplicas is KEDA's maxReplicaCount when none is given.
const kedaDefaultMaxReplicas = 100

// MembersRemovedAtOnce is how many replicas an HPA with scale-down rules may remove in
// one step, from maxReplicas, never below minReplicas: the HPA's own arithmetic
// (kubernetes pkg/controller/podautoscaler/horizontal.go,
// calculateScaleDownLimitWithBehaviors), with the API's defaults for what rules leave
// unset (SetDefaults_HorizontalPodAutoscalerBehavior: selectPolicy Max, policies 100
// percent per 15 seconds). Max takes the policy that allows the most change, Min the
// least, Disabled none; a Pods policy removes its value, a Percent policy removes
// maxReplicas minus the truncated remainder.
func MembersRemovedAtOnce(rules *autoscalingv2.HPAScalingRules, minReplicas, maxReplicas int32) int32 {
	policies := []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}
	selectPolicy := autoscalingv2.MaxChangePolicySelect
	if rules != nil {
		if len(rules.Policies) > 0 {
			policies = rules.Policies
		}
		if rules.SelectPolicy != nil {
			selectPolicy = *rules.SelectPolicy
		}
	}
	if selectPolicy == autoscalingv2.DisabledPolicySelect {
		return 0
	}
	lowest, highest := int32(math.MaxInt32), int32(math.MinInt32) // the replicas each policy allows to remain
	for _, p := range policies {
		var remain int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			remain = maxReplicas - p.Value
		case autoscalingv2.PercentScalingPolicy:
			remain = int32(float64(maxReplicas) * (1 - float64(p.Value)/100))
		default:
			continue
		}
		lowest, highest = min(lowest, remain), max(highest, remain)
	}
	if lowest == math.MaxInt32 {
		return 0
	}
	remain := lowest // Max: the most change
	if selectPolicy == autoscalingv2.MinChangePolicySelect {
		remain = highest
	}
	return max(0, maxReplicas-max(remain, minReplicas))
}

// behaviorOf returns the HPA behavior a holds, or nil.
func behaviorOf(a *kedav1alpha1.AdvancedConfig) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if a == nil || a.HorizontalPodAutoscalerConfig == nil {
		return nil
	}
	return a.HorizontalPodAutoscalerConfig.Behavior
}

func ptrOr(p *int32, fallback int32) int32 {
	if p == nil {
		return fallback
	}
	return *p
}
