package validation

import (
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"

	"github.com/innokeda/innokeda/internal/sqltables"
)

// Advice is what admission admits with a warning: nothing KEDA fails on at once, but
// something that does not work as its author meant. Rule is its stable ID (as a Reason is
// a violation's), Field where it is.
type Advice struct {
	Rule, Field, Message string
}

// Warning is a as an admission warning.
func (a Advice) Warning() string { return a.Field + ": " + a.Message }

// Rules of advice.
const (
	// AdviceIgnoredMetadata: a metadata key KEDA's mysql scaler does not read.
	AdviceIgnoredMetadata = "ignored-metadata"
	// AdviceNullableAggregate: a query that returns NULL when it aggregates no row.
	AdviceNullableAggregate = "nullable-aggregate"
)

// AdviceRules are every advice rule.
var AdviceRules = []string{AdviceIgnoredMetadata, AdviceNullableAggregate}

// ignoredMetadata are the metadata keys people write that KEDA's mysql scaler ignores
// (shared/reference/keda-mysql-scaler.md), and what it uses instead. metadata.password
// is a violation of its own (ReasonPasswordInMetadata): a secret in plain sight.
var ignoredMetadata = map[string]string{
	"hostFromEnv":   "the host comes from metadata.host or the TriggerAuthentication only: give host, or map an env variable through the TriggerAuthentication's env",
	"portFromEnv":   "the port comes from metadata.port or the TriggerAuthentication only: give port, or map an env variable through the TriggerAuthentication's env",
	"dbNameFromEnv": "the database comes from metadata.dbName or the TriggerAuthentication only: give dbName, or map an env variable through the TriggerAuthentication's env",
	"metricName":    "KEDA names the metric itself (s<index>-mysql-<dbName>) and ignores it: remove it",
}

// TriggerAdvice is the advice on the mysql triggers of so, whose queries are read once
// (Queries).
func TriggerAdvice(so *kedav1alpha1.ScaledObject, queries []*sqltables.Analysis) []Advice {
	var advice []Advice
	for i, t := range so.Spec.Triggers {
		if t.Type != "mysql" {
			continue
		}
		for _, key := range slices.Sorted(func(yield func(string) bool) {
			for k := range t.Metadata {
				if _, ok := ignoredMetadata[k]; ok && !yield(k) {
					return
				}
			}
		}) {
			advice = append(advice, Advice{AdviceIgnoredMetadata, MetadataPath(i, key).String(),
				fmt.Sprintf("KEDA's mysql scaler does not read %s: %s", key, ignoredMetadata[key])})
		}
		if i < len(queries) && queries[i] != nil && queries[i].Err == nil {
			if agg := queries[i].NullableAggregate(); agg != "" {
				advice = append(advice, Advice{AdviceNullableAggregate, MetadataPath(i, "query").String(),
					fmt.Sprintf("%s of no rows is NULL, and KEDA fails every poll that returns NULL, so the trigger fails exactly when there is nothing to scale for: wrap it in COALESCE(%s(...), 0)", agg, strings.ToUpper(agg))})
			}
		}
	}
	return advice
}
