// Package lint gives innokeda's admission verdict offline, from manifests: the fill the
// mutating webhook would make and what the validating webhook would deny or warn about,
// through the same engine (internal/check) the webhooks call, with the InnoDBClusters of
// the input standing in for what the API server would hold.
package lint

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsjson "sigs.k8s.io/json"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/check"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/manifests"
	"github.com/innokeda/innokeda/internal/validation"
)

// Severity is how a finding weighs: what admission would do with it.
type Severity int

const (
	// Info is what the mutating webhook would fill, or a check lint could not make.
	Info Severity = iota
	// Warning is what admission would admit with a warning.
	Warning
	// Error is what admission would deny.
	Error
)

var severityNames = []string{"info", "warning", "error"}

func (s Severity) String() string { return severityNames[s] }

// ParseSeverity reads a severity's name.
func ParseSeverity(name string) (Severity, error) {
	if i := slices.Index(severityNames, name); i >= 0 {
		return Severity(i), nil
	}
	return 0, fmt.Errorf("severity %q is not one of %v", name, severityNames)
}

// MarshalText writes the severity's name (for JSON).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding is one thing lint found about one object.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	// Object is kind namespace/name.
	Object string `json:"object"`
	// Field is the field path the finding is about, "" for the whole object.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Rules that are not a validation reason (whose reasons are rules too).
const (
	// RuleFill: the mutating webhook would fill a field (rule ID fill-<field>).
	RuleFill = "fill"
	// RuleWarning: admission would admit with this warning.
	RuleWarning = "warning"
	// RuleNotChecked: a check that needs what lint does not have (the cluster, MySQL).
	RuleNotChecked = "not-checked"
	// RuleUnreadable: an object of a kind lint reads that does not decode.
	RuleUnreadable = "unreadable"
)

// Options configure a run.
type Options struct {
	// Scheme knows the Kubernetes, KEDA and InnoDBCluster types.
	Scheme *runtime.Scheme
	// Namespace is the namespace of objects whose manifests name none (as for kubectl apply).
	Namespace string
	// ClusterDomain is the Kubernetes cluster's DNS domain (--cluster-domain).
	ClusterDomain string
	// ScalerAccounts: the controller keeps managed scaler accounts (--scaler-accounts).
	ScalerAccounts bool
	// Limits are the admission's cost bounds; the zero value means validation.DefaultLimits.
	Limits validation.Limits
}

// Report is what one run found.
type Report struct {
	Findings []Finding `json:"findings"`
	// ScaledObjects is how many were checked; Skipped counts the objects of other kinds
	// (InnoDBClusters, TriggerAuthentications and Secrets are read as facts, not counted).
	ScaledObjects int `json:"scaledObjects"`
	Skipped       int `json:"skipped"`
	// Ignored counts the findings an ignore-check.innokeda.io annotation with a reason
	// dropped.
	Ignored int `json:"ignored"`
	// Checked are the ScaledObjects checked, in input order (a JUnit test case each).
	Checked []Checked `json:"-"`
	// Fixes are what the mutating webhook would change, for --fix.
	Fixes []Fix `json:"-"`
	// Unreadable are the files and documents that could not be read.
	Unreadable []manifests.Error `json:"-"`
}

// Worst is the highest severity found, and whether anything was.
func (r Report) Worst() (Severity, bool) {
	if len(r.Findings) == 0 {
		return 0, false
	}
	return slices.MaxFunc(r.Findings, func(a, b Finding) int { return int(a.Severity) - int(b.Severity) }).Severity, true
}

// Checked is one ScaledObject that was checked.
type Checked struct {
	Object, File string
	Line         int
}

// errNotInInput is why a ScaledObject's cluster could not be looked up.
var errNotInInput = errors.New("its InnoDBCluster is not in the input: give the InnoDBCluster manifest too, for the checks against the cluster")

// placed is an object and where it came from.
type placed[T any] struct {
	obj T
	at  manifests.Object
}

// Lint checks the ScaledObjects of input against the facts the rest of it holds.
func Lint(input []manifests.Object, o Options) Report {
	facts := newObjects(o.Scheme)
	var report Report
	var scaledObjects []placed[*kedav1alpha1.ScaledObject]
	for _, m := range input {
		var obj client.Object
		switch m.GVK {
		case kedav1alpha1.SchemeGroupVersion.WithKind("ScaledObject"):
			so := &kedav1alpha1.ScaledObject{}
			obj = so
			if report.decode(m, so, o.Namespace) {
				scaledObjects = append(scaledObjects, placed[*kedav1alpha1.ScaledObject]{so, m})
			}
			continue
		case kedav1alpha1.SchemeGroupVersion.WithKind("TriggerAuthentication"):
			obj = &kedav1alpha1.TriggerAuthentication{}
		case kedav1alpha1.SchemeGroupVersion.WithKind("ClusterTriggerAuthentication"):
			obj = &kedav1alpha1.ClusterTriggerAuthentication{}
		case innodbcluster.GroupVersion.WithKind(innodbcluster.Kind):
			obj = &innodbcluster.InnoDBCluster{}
		case corev1.SchemeGroupVersion.WithKind("Secret"):
			obj = &corev1.Secret{}
		default:
			report.Skipped++
			continue
		}
		namespace := o.Namespace
		if _, clusterScoped := obj.(*kedav1alpha1.ClusterTriggerAuthentication); clusterScoped {
			namespace = ""
		}
		if report.decode(m, obj, namespace) {
			if namespace == "" {
				obj.SetNamespace("") // cluster-scoped: the API server drops a namespace given
			}
			report.add(m, facts.add(obj))
			if cluster, ok := obj.(*innodbcluster.InnoDBCluster); ok {
				report.add(m, addDerived(facts, cluster))
			}
		}
	}
	for _, so := range scaledObjects {
		report.ScaledObjects++
		report.Checked = append(report.Checked, Checked{Object: objectName("ScaledObject", so.obj.Namespace, so.obj.Name), File: so.at.Source, Line: so.at.Line})
		first := len(report.Findings)
		report.lint(so.obj, so.at, facts, o)
		report.Findings = append(report.Findings[:first], report.ignore(so.obj, so.at, report.Findings[first:])...)
	}
	return report
}

// addDerived stores what the MySQL Operator makes for cluster.
func addDerived(facts *objects, cluster *innodbcluster.InnoDBCluster) error {
	derived := []client.Object{innodbcluster.DerivedStatefulSet(cluster), innodbcluster.DerivedRouterDeployment(cluster)}
	for _, rr := range cluster.Spec.ReadReplicas {
		derived = append(derived, innodbcluster.DerivedReadReplicaStatefulSet(cluster, rr.Name))
	}
	for _, obj := range derived {
		if err := facts.add(obj); err != nil {
			return err
		}
	}
	return nil
}

// decode reads m into obj, in namespace when the manifest names none (and obj is
// namespaced); a failure is a finding.
func (r *Report) decode(m manifests.Object, obj client.Object, namespace string) bool {
	// As the API server decodes: case-sensitively (encoding/json would take "triggerſ" for
	// "triggers", and lint would judge another object than admission does).
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(m.JSON, obj); err != nil {
		r.Findings = append(r.Findings, Finding{Rule: RuleUnreadable, Severity: Error, File: m.Source, Line: m.Line,
			Object: objectName(m.GVK.Kind, m.Namespace, m.Name), Message: fmt.Sprintf("the %s does not decode, and the API server would refuse it too: %v", m.GVK.Kind, err)})
		return false
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace)
	}
	if secret, ok := obj.(*corev1.Secret); ok {
		// The API server merges stringData into data; the engine reads data.
		for k, v := range secret.StringData {
			if secret.Data == nil {
				secret.Data = map[string][]byte{}
			}
			secret.Data[k] = []byte(v)
		}
		secret.StringData = nil
	}
	return true
}

// add records an error storing a fact, which only a broken scheme gives.
func (r *Report) add(m manifests.Object, err error) {
	if err != nil {
		r.Unreadable = append(r.Unreadable, manifests.Error{Source: m.Source, Line: m.Line, Err: err})
	}
}

// lint checks one ScaledObject: the fill first, then the checks on the filled object, as
// the API server calls the mutating webhook and then the validating one.
func (r *Report) lint(so *kedav1alpha1.ScaledObject, at manifests.Object, facts *objects, o Options) {
	finding := func(rule string, severity Severity, field, message string) {
		r.Findings = append(r.Findings, Finding{Rule: rule, Severity: severity, File: at.Source, Line: at.Line,
			Object: objectName("ScaledObject", so.Namespace, so.Name), Field: field, Message: message})
	}
	result, fillFacts, fillErr := check.Fill(context.Background(), facts, facts, so, check.FillOptions{ClusterDomain: o.ClusterDomain, ScalerAccounts: o.ScalerAccounts, Limits: o.Limits})
	if fillErr != nil { // only a broken fact gives one: the reads are of memory
		r.Unreadable = append(r.Unreadable, manifests.Error{Source: at.Source, Line: at.Line, Err: fillErr})
		return
	}
	var lookupErr error
	switch result.Skip {
	case "":
	case check.SkipTooCostly:
		// Nothing is filled; the validating webhook denies it when it is in scope, which
		// lint, whose reads are free, looks up as the webhook does.
		kind, name, _ := autofill.TargetOf(so)
		target, err := check.LookupTarget(context.Background(), facts, facts, so.Namespace, kind, name)
		if skip, _ := autofill.Scope(so, target); err != nil || skip != "" {
			return
		}
	case autofill.SkipClusterNotFound, autofill.SkipStatefulSetNotFound:
		// With a mysql trigger, maybe a cluster of another input: the checks that need none
		// are still made. Without, another workload's (a Kafka consumer's StatefulSet), which
		// admission leaves alone.
		if !slices.ContainsFunc(so.Spec.Triggers, func(t kedav1alpha1.ScaleTriggers) bool { return t.Type == autofill.MySQLTriggerType }) {
			return
		}
		lookupErr = errNotInInput
	case autofill.SkipNotAnnotated:
		// Admission leaves it alone; KEDA does not, and the operator's pods run sidecar first.
		if so.Spec.ScaleTargetRef.EnvSourceContainerName == "" && fillFacts.StatefulSet != nil {
			finding(RuleEnvSourceContainerMissing, Warning, "spec.scaleTargetRef.envSourceContainerName", fmt.Sprintf(
				"not set, so KEDA resolves the triggers' env from the first container of the MySQL Operator's pods, %s, not %s: set it to %s, or annotate InnoDBCluster %s %s: \"true\" for innokeda to fill and check it",
				fillFacts.Containers()[0], innodbcluster.MySQLContainer, innodbcluster.MySQLContainer, fillFacts.Cluster.Name, annotations.Autofill))
		}
		for _, w := range result.Warnings {
			finding(RuleWarning, Warning, "", w)
		}
		return
	default:
		// Out of scope at admission too; what it warns about, lint does.
		for _, w := range result.Warnings {
			finding(RuleWarning, Warning, "", w)
		}
		return
	}
	if ops := fixesOf(result.Patch); result.Skip == "" && len(ops) > 0 {
		r.Fixes = append(r.Fixes, Fix{File: at.Source, Line: at.Line, Ops: ops})
	}
	for _, f := range result.Fills {
		message := fmt.Sprintf("the mutating webhook would set it to %s", f.Value)
		if f.Replaced != "" {
			message += ", replacing what is there: " + f.Replaced
		}
		finding(RuleFill+"-"+f.Field, Info, f.Path, message+"; write it into the manifest, so that what is stored is what Git holds")
	}
	for i, w := range result.Warnings {
		if len(result.Fills) > 0 && i == len(result.Warnings)-1 {
			continue // the summary of the fills, each a finding above
		}
		finding(RuleWarning, Warning, "", w)
	}
	verdict, _ := check.Static(result.Object, fillFacts, lookupErr, check.StaticOptions{Limits: o.Limits, Hosts: dryrun.HostPolicy{ClusterDomain: o.ClusterDomain}})
	for _, v := range verdict.Violations {
		finding(v.Reason, Error, v.Err.Field, v.Err.ErrorBody())
	}
	for _, a := range verdict.Advice {
		finding(a.Rule, Warning, a.Field, a.Message)
	}
	for _, w := range verdict.Warnings {
		finding(RuleWarning, Warning, "", w)
	}
	for _, u := range verdict.Unchecked {
		field := ""
		if u.Trigger >= 0 {
			field = validation.TriggerPath(u.Trigger).String()
		}
		message := u.Message
		if errors.Is(lookupErr, errNotInInput) && u.Reason == check.UncheckedLookupFailed {
			message = fmt.Sprintf("made only the checks that need no cluster: %v", lookupErr)
		}
		finding(RuleNotChecked, Info, field, message)
	}
}

// ignore drops the findings of so that its ignore-check.innokeda.io annotations opt out
// of, and adds a finding for each such annotation that gives no reason (not honoured) or
// names no rule.
func (r *Report) ignore(so *kedav1alpha1.ScaledObject, at manifests.Object, findings []Finding) []Finding {
	ignored := map[string]bool{}
	var problems []Finding
	for _, key := range slices.Sorted(maps.Keys(so.Annotations)) {
		id, ok := strings.CutPrefix(key, annotations.IgnoreCheckPrefix)
		if !ok {
			continue
		}
		problem := Finding{Severity: Error, File: at.Source, Line: at.Line, Object: objectName("ScaledObject", so.Namespace, so.Name),
			Field: fmt.Sprintf("metadata.annotations[%s]", key)}
		_, known := ruleOf(id)
		switch {
		case !known:
			problem.Rule, problem.Message = RuleIgnoreUnknown, fmt.Sprintf("%s names no rule: see innokeda lint --rules for their IDs", id)
		case strings.TrimSpace(so.Annotations[key]) == "":
			problem.Rule, problem.Message = RuleIgnoreWithoutReason, fmt.Sprintf("the opt-out of rule %s gives no reason, so it is not honoured: say in its value why the rule does not apply", id)
		default:
			ignored[id] = true
			continue
		}
		problems = append(problems, problem)
	}
	kept := slices.DeleteFunc(findings, func(f Finding) bool { return ignored[f.Rule] })
	r.Ignored += len(findings) - len(kept)
	return append(kept, problems...)
}

// objectName names an object in a finding: kind namespace/name.
func objectName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}
