// Package validation holds the checks a ScaledObject for an annotated InnoDBCluster must
// pass before it is admitted, as pure functions: each problem is a field error under its
// full path, phrased as the fix, with a reason for metrics. Checks that need MySQL live in
// internal/dryrun; the webhook combines both.
package validation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/sqltables"
)

// Reasons a ScaledObject is denied; the metrics label of each violation.
const (
	ReasonReplicaBounds        = "replica-bounds"
	ReasonEnvSourceContainer   = "env-source-container"
	ReasonMissingQuery         = "missing-query"
	ReasonQueryValue           = "query-value"
	ReasonActivationQueryValue = "activation-query-value"
	ReasonPasswordInMetadata   = "password-in-metadata"
	ReasonQueryNotReadOnly     = "query-not-read-only"
	ReasonAuthentication       = "authentication"
	ReasonConnectionString     = "connection-string"
	ReasonQueryResult          = "query-result"
	ReasonServerRejected       = "server-rejected"
	ReasonNotValidated         = "not-validated"
	ReasonScalerGrant          = "scaler-grant"
	ReasonTooCostly            = "too-costly"
	ReasonSystemSchema         = "system-schema"
	ReasonReadBound            = "read-bound"
	ReasonReadBoundUnknown     = "read-bound-unknown"
)

// Reasons are every reason, for what must know them all (metrics, the rules page).
var Reasons = []string{
	ReasonReplicaBounds, ReasonEnvSourceContainer, ReasonMissingQuery, ReasonQueryValue, ReasonActivationQueryValue,
	ReasonPasswordInMetadata, ReasonQueryNotReadOnly, ReasonAuthentication, ReasonConnectionString, ReasonQueryResult,
	ReasonServerRejected, ReasonNotValidated, ReasonScalerGrant, ReasonTooCostly, ReasonSystemSchema, ReasonReadBound,
	ReasonReadBoundUnknown,
}

// Limits bound what checking one ScaledObject may cost. They are checked before any other
// work, so an object over them is denied at the price of counting, whatever it holds.
type Limits struct {
	// MaxMySQLTriggers bounds the mysql triggers of one ScaledObject (--max-mysql-triggers).
	MaxMySQLTriggers int
	// MaxQueryBytes bounds the query text of all its mysql triggers together
	// (--max-query-bytes); each query is bounded by dryrun.MaxQueryLength too.
	MaxQueryBytes int
}

// DefaultLimits are comfortably above real use (one to five triggers, a query of a few
// hundred bytes) and keep the worst object's checks to a few tens of milliseconds.
var DefaultLimits = Limits{MaxMySQLTriggers: 16, MaxQueryBytes: 32 << 10}

// OrDefault is l, or DefaultLimits for the zero value.
func (l Limits) OrDefault() Limits {
	if l == (Limits{}) {
		return DefaultLimits
	}
	return l
}

// Cost denies a ScaledObject whose mysql triggers are over limits; it reads only counts
// and lengths.
func Cost(so *kedav1alpha1.ScaledObject, limits Limits) Violations {
	var vs Violations
	triggers, bytes := 0, 0
	for _, t := range so.Spec.Triggers {
		if t.Type == "mysql" {
			triggers++
			bytes += len(t.Metadata["query"])
		}
	}
	if triggers > limits.MaxMySQLTriggers {
		vs.Add(ReasonTooCostly, Invalid(field.NewPath("spec", "triggers"), fmt.Sprintf(
			"has %d mysql triggers: innokeda checks at most %d per ScaledObject (--max-mysql-triggers); KEDA scales on the largest of them, so combine their queries into fewer", triggers, limits.MaxMySQLTriggers)))
	}
	if bytes > limits.MaxQueryBytes {
		vs.Add(ReasonTooCostly, Invalid(field.NewPath("spec", "triggers"), fmt.Sprintf(
			"has %d bytes of mysql queries: innokeda checks at most %d bytes per ScaledObject (--max-query-bytes); shorten the queries", bytes, limits.MaxQueryBytes)))
	}
	return vs
}

// Violation is one reason to deny.
type Violation struct {
	Reason string
	Err    *field.Error
}

// Violations are collected in a fixed order: the object's fields, then each trigger's.
type Violations []Violation

// ErrorList returns the field errors, for apierrors.NewInvalid.
func (vs Violations) ErrorList() field.ErrorList {
	list := make(field.ErrorList, 0, len(vs))
	for _, v := range vs {
		list = append(list, v.Err)
	}
	return list
}

// Add appends a violation.
func (vs *Violations) Add(reason string, err *field.Error) {
	*vs = append(*vs, Violation{Reason: reason, Err: err})
}

// Invalid is a field error that does not echo the field's value (it may be a secret).
func Invalid(path *field.Path, detail string) *field.Error {
	return field.Invalid(path, field.OmitValueType{}, detail)
}

// TriggerPath is the path of trigger i.
func TriggerPath(i int) *field.Path { return field.NewPath("spec", "triggers").Index(i) }

// MetadataPath is the path of a key of trigger i's metadata, written the way users know it.
func MetadataPath(i int, key string) *field.Path { return TriggerPath(i).Child("metadata", key) }

// Workload is what a ScaledObject's target runs.
type Workload int

const (
	GroupMembers Workload = iota // the group members' StatefulSet <cluster>
	ReadReplicas                 // a read replica's StatefulSet <cluster>-<name>
	Router                       // the MySQL Router Deployment <cluster>-router
	// UnknownWorkload is a target that could not be looked up: only the checks that hold
	// for every workload are made.
	UnknownWorkload
)

// mainContainer names the container whose env KEDA should read, for messages.
func (w Workload) mainContainer() string {
	if w == Router {
		return fmt.Sprintf("the router container is %q", innodbcluster.RouterContainer)
	}
	return fmt.Sprintf("the database container is %q", innodbcluster.MySQLContainer)
}

// ScaledObject checks what can be checked without MySQL: the replica bounds (for the
// workload the target runs), the env source container against the target's containers,
// and every mysql trigger's metadata.
func ScaledObject(so *kedav1alpha1.ScaledObject, containers []string, workload Workload, queries []*sqltables.Analysis) Violations {
	var vs Violations
	spec := so.Spec
	minReplicas, maxReplicas := int32(0), int32(100) // KEDA's defaults
	if spec.MinReplicaCount != nil {
		minReplicas = *spec.MinReplicaCount
	}
	if spec.MaxReplicaCount != nil {
		maxReplicas = *spec.MaxReplicaCount
	}
	switch {
	case minReplicas <= 0 && workload == ReadReplicas:
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "minReplicaCount"), minReplicas,
			"must be at least 1: at 0 the read replicas are all stopped, and each comes back by cloning the whole data set"))
	case minReplicas <= 0 && workload == UnknownWorkload:
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "minReplicaCount"), minReplicas,
			"must be at least 1: at 0 KEDA stops every pod of the target, and no workload of an InnoDBCluster may stop"))
	case minReplicas <= 0 && workload == Router:
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "minReplicaCount"), minReplicas,
			"must be at least 1: at 0 no router runs, and every application that connects through it loses its database"))
	case minReplicas <= 0:
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "minReplicaCount"), minReplicas,
			"must be at least 1: scaling an InnoDBCluster's StatefulSet to 0 stops every group member and the cluster needs a manual reboot"))
	}
	// Read replicas are not group members: the Group Replication limit does not bind them.
	if maxReplicas > innodbcluster.MaxGroupMembers && workload == GroupMembers {
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "maxReplicaCount"), maxReplicas,
			fmt.Sprintf("must be at most %d, the MySQL Group Replication member limit", innodbcluster.MaxGroupMembers)))
	}
	if minReplicas > maxReplicas {
		vs.Add(ReasonReplicaBounds, field.Invalid(field.NewPath("spec", "minReplicaCount"), minReplicas,
			fmt.Sprintf("must not be above maxReplicaCount (%d)", maxReplicas)))
	}
	if ref := spec.ScaleTargetRef; workload != UnknownWorkload && ref != nil && ref.EnvSourceContainerName != "" && !slices.Contains(containers, ref.EnvSourceContainerName) {
		vs.Add(ReasonEnvSourceContainer, field.Invalid(field.NewPath("spec", "scaleTargetRef", "envSourceContainerName"), ref.EnvSourceContainerName,
			fmt.Sprintf("is not a container of %s %s, so KEDA would fail every trigger: use one of %s (%s)",
				ref.Kind, ref.Name, strings.Join(containers, ", "), workload.mainContainer())))
	}
	for i, t := range spec.Triggers {
		if t.Type == "mysql" {
			vs = append(vs, MySQLTrigger(i, t.Metadata, queries[i])...)
		}
	}
	return vs
}

// Queries reads each mysql trigger's query once (sqltables.Analyze), for every check of
// one admission: indexed by trigger, nil for other triggers and blank queries.
func Queries(so *kedav1alpha1.ScaledObject) []*sqltables.Analysis {
	queries := make([]*sqltables.Analysis, len(so.Spec.Triggers))
	for i, t := range so.Spec.Triggers {
		if t.Type == "mysql" && strings.TrimSpace(t.Metadata["query"]) != "" {
			queries[i] = sqltables.Analyze(t.Metadata["query"])
		}
	}
	return queries
}

// MySQLTrigger checks a mysql trigger's metadata the way KEDA's scaler parses it, and
// that its query (read by Queries) is a single read-only SELECT.
func MySQLTrigger(i int, md map[string]string, query *sqltables.Analysis) Violations {
	var vs Violations
	if query == nil {
		vs.Add(ReasonMissingQuery, field.Required(MetadataPath(i, "query"), "set a SELECT that returns one number, e.g. SELECT COUNT(*) FROM db.jobs WHERE state = 'queued'"))
	} else if query.Err != nil {
		vs.Add(ReasonQueryNotReadOnly, Invalid(MetadataPath(i, "query"), "the query "+query.Err.Error()))
	} else if table, what := query.SystemRead(strings.TrimSpace(md["dbName"])); what != "" {
		// Whoever KEDA polls as, root included: these schemas hold the accounts, their
		// hashes and other sessions' statements, and the value is shown to the author.
		vs.Add(ReasonSystemSchema, Invalid(MetadataPath(i, "query"), fmt.Sprintf(
			"the query reads %s, in %s: no scaler's query may read it, whatever account KEDA polls as; compute the number from your application's own tables instead", table, what)))
	}
	if v := md["queryValue"]; strings.TrimSpace(v) == "" {
		vs.Add(ReasonQueryValue, field.Required(MetadataPath(i, "queryValue"), "set the value of the query's result per replica, e.g. \"5\""))
	} else if f, err := ParseNumber(v); err != nil {
		vs.Add(ReasonQueryValue, field.Invalid(MetadataPath(i, "queryValue"), v, "must be a number, e.g. \"5\" or \"2.5\""))
	} else if f <= 0 {
		vs.Add(ReasonQueryValue, field.Invalid(MetadataPath(i, "queryValue"), v, "must be above 0: it is the query's result per replica"))
	}
	if v := md["activationQueryValue"]; strings.TrimSpace(v) != "" {
		if f, err := ParseNumber(v); err != nil {
			vs.Add(ReasonActivationQueryValue, field.Invalid(MetadataPath(i, "activationQueryValue"), v, "must be a number, e.g. \"0\""))
		} else if f < 0 {
			vs.Add(ReasonActivationQueryValue, field.Invalid(MetadataPath(i, "activationQueryValue"), v, "must not be below 0"))
		}
	}
	if strings.TrimSpace(md["password"]) != "" {
		vs.Add(ReasonPasswordInMetadata, field.Forbidden(MetadataPath(i, "password"),
			"KEDA ignores a password in trigger metadata, and it is a secret in plain text: remove it and put the password in a Secret referenced by the trigger's TriggerAuthentication"))
	}
	return vs
}

// ParseNumber parses a trigger metadata value as KEDA does: trimmed, then as a JSON number
// (so "Inf", "NaN" and hexadecimal are refused).
func ParseNumber(s string) (float64, error) {
	var f float64
	err := json.Unmarshal([]byte(strings.TrimSpace(s)), &f)
	return f, err
}
