// Package check is innokeda's checking engine: given a ScaledObject, it finds what its
// cluster is (through a cache), resolves each mysql trigger's credentials as KEDA does and
// dry-runs the queries, and returns the verdict: the violations, the warnings and what
// could not be checked. The validating webhook and the audit both call it, so that they
// cannot disagree; the decisions that need no I/O live in the packages it calls
// (validation, autofill, managed, sqltables, dryrun's guard).
package check

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/sqltables"
	"github.com/innokeda/innokeda/internal/validation"
)

// Options configure the engine.
type Options struct {
	// DryRunTimeout bounds the whole check of one object, dry-runs included.
	DryRunTimeout time.Duration
	// DenyUnvalidated: the caller denies what could not be validated
	// (--on-unreachable=deny), so once a trigger is unchecked no further dry-run is run.
	DenyUnvalidated bool
	// MaxConcurrentDryRuns bounds the connections innokeda opens to MySQL at once.
	MaxConcurrentDryRuns int
	// KEDANamespace holds the Secrets of ClusterTriggerAuthentications.
	KEDANamespace string
	// Hosts decides which hosts a dry-run may dial.
	Hosts dryrun.HostPolicy
	// ScalerAccounts: the controller keeps managed scaler accounts (--scaler-accounts),
	// so the tables of their triggers' queries must be ones it may grant.
	ScalerAccounts bool
	// Limits bound what one ScaledObject may cost to check (--max-mysql-triggers,
	// --max-query-bytes); the zero value means validation.DefaultLimits.
	Limits validation.Limits
}

// Engine checks ScaledObjects; it is safe for concurrent use.
type Engine struct {
	cache  client.Reader
	creds  credentials
	runner *dryrun.Runner
	opts   Options
}

// New returns an engine that reads the cluster's objects from cache and Secrets (and
// authentications the cache does not have yet) from secrets, which must be uncached.
func New(cache, secrets client.Reader, o Options) (*Engine, error) {
	if o.DryRunTimeout <= 0 {
		return nil, fmt.Errorf("dry-run timeout must be positive, not %v", o.DryRunTimeout)
	}
	o.Limits = o.Limits.OrDefault()
	if o.Limits.MaxMySQLTriggers < 1 || o.Limits.MaxQueryBytes < 1 {
		return nil, fmt.Errorf("limits must be positive, not %+v", o.Limits)
	}
	return &Engine{
		cache:  cache,
		creds:  credentials{cache: cache, secrets: secrets, kedaNamespace: o.KEDANamespace},
		runner: dryrun.NewRunner(o.MaxConcurrentDryRuns),
		opts:   o,
	}, nil
}

// Check checks so within Options.DryRunTimeout: the static checks, the credentials
// resolved as KEDA resolves them, and each mysql trigger's query dry-run. It writes
// nothing and counts only dry-runs. mode says what the caller knows of so.
func (e *Engine) Check(ctx context.Context, so *kedav1alpha1.ScaledObject, mode Mode) validation.Verdict {
	return e.check(ctx, so, mode)
}

// CheckStored checks a ScaledObject that is already stored, as the audit does (Mode.Stored).
func (e *Engine) CheckStored(ctx context.Context, so *kedav1alpha1.ScaledObject) validation.Verdict {
	return e.check(ctx, so, Mode{Stored: true})
}

// Mode is what the caller knows of the object being checked.
type Mode struct {
	// Stored: the object is already stored, and the controller has had its chance to
	// grant the scaler account, so a missing grant is what KEDA meets, not something to
	// dry-run as root in the account's stead.
	Stored bool
	// DryRunRequest: the request will never be stored (kubectl --dry-run=server), so the
	// controller will never grant for it: no read as root in the scaler account's stead.
	DryRunRequest bool
}

// rootFallback tells whether a managed scaler account that has no grant yet may be
// stood in for by root: only at admission of an object that will be stored.
func (m Mode) rootFallback() bool { return !m.Stored && !m.DryRunRequest }

// check makes the checks in three passes, so that no I/O can hide what needs none. First,
// with no I/O and in time that does not depend on the budget: the object's cost against
// the limits, then every trigger's static checks. A violation found there denies, whatever
// follows. Then every trigger's credentials, and what they tell (connectionOf). Last, only
// for an object nothing is wrong with, the dry-runs. A failure of I/O is recorded against
// that trigger's checks only, never in place of a violation; where it leaves the
// owner's bound unchecked, the trigger is refused. The deadline is checked before each
// trigger of each pass.
func (e *Engine) check(ctx context.Context, so *kedav1alpha1.ScaledObject, mode Mode) validation.Verdict {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DryRunTimeout)
	defer cancel()
	facts, inScope, lookupErr := e.target(ctx, so)
	if !inScope {
		return validation.Verdict{}
	}
	if lookupErr != nil {
		logf.FromContext(ctx).Error(lookupErr, "Could not look up the target of a ScaledObject")
	}
	verdict, queries := Static(so, facts, lookupErr, StaticOptions{Limits: e.opts.Limits, Hosts: e.opts.Hosts})
	if lookupErr != nil || len(queries) == 0 {
		return verdict // too costly to check further, or no cluster to check against
	}

	// Every trigger's credentials are read, and what they tell checked, before any trigger
	// is dry-run: a slow dry-run cannot spend the budget a later trigger's checks need.
	var connections []*triggerConnection
	for i, t := range so.Spec.Triggers {
		if t.Type != autofill.MySQLTriggerType {
			continue
		}
		var conn *triggerConnection
		var violations validation.Violations
		err := ctx.Err()
		if err == nil {
			conn, violations, err = e.connectionOf(ctx, so, facts, i, t, queries[i])
		}
		switch {
		case ctx.Err() != nil && conn == nil:
			metrics.DryRuns.WithLabelValues(OutcomeTimedOut).Inc()
			notDryRun(&verdict, i, OutcomeTimedOut, fmt.Sprintf("innokeda's budget (--dry-run-timeout=%v) ran out before this trigger's credentials were read; only its static checks were made", e.opts.DryRunTimeout))
		case err != nil:
			logf.FromContext(ctx).Error(err, "Could not read a trigger's credentials", "trigger", i)
			notDryRun(&verdict, i, UncheckedCredentials,
				fmt.Sprintf("innokeda could not read the credentials of spec.triggers[%d], so it checked only what needs none: %v", i, err))
		}
		if conn == nil && !mode.Stored {
			// The database the connection opens is not known: a bound the owner set
			// cannot be checked, so admission refuses (fail closed). A stored object
			// stays as it is: the audit records the check as not made, as for any I/O.
			violations = append(violations, unknownDatabaseViolation(i, t, queries[i], facts, "innokeda could not read the trigger's credentials")...)
		}
		verdict.Violations = append(verdict.Violations, violations...)
		if conn != nil && conn.cfg != nil && len(violations) == 0 {
			connections = append(connections, conn)
		}
	}
	// Once something is wrong, the answer is a denial: nothing is dry-run.
	if len(verdict.Violations) > 0 {
		return verdict
	}
	for _, conn := range connections {
		if e.opts.DenyUnvalidated && len(verdict.Unchecked) > 0 {
			break // the answer is a denial already
		}
		if ctx.Err() != nil {
			metrics.DryRuns.WithLabelValues(OutcomeTimedOut).Inc()
			notDryRun(&verdict, conn.i, OutcomeTimedOut, fmt.Sprintf("innokeda's budget (--dry-run-timeout=%v) ran out before this trigger was dry-run; all its other checks were made", e.opts.DryRunTimeout))
			continue
		}
		e.dryRunTrigger(ctx, so, facts, conn, mode, &verdict)
	}
	return verdict
}

// StaticOptions are what the checks that need no I/O depend on.
type StaticOptions struct {
	Limits validation.Limits // the zero value means validation.DefaultLimits
	Hosts  dryrun.HostPolicy
}

// Static is the verdict of the checks that need no I/O, in CPU time that does not depend
// on any budget: so's cost against the limits, then every trigger's checks against facts,
// whether a cache gave them (Engine.Check) or manifests did (innokeda lint). lookupErr is
// why facts could not be gathered, if they could not: then only the checks that need no
// cluster are made, and the verdict says so. queries are each trigger's query, parsed
// once, for the checks that follow; nil when the object is too costly to parse.
func Static(so *kedav1alpha1.ScaledObject, facts autofill.Facts, lookupErr error, o StaticOptions) (verdict validation.Verdict, queries []*sqltables.Analysis) {
	verdict.InScope = true
	if verdict.Violations = validation.Cost(so, o.Limits.OrDefault()); len(verdict.Violations) > 0 {
		return verdict, nil // nothing more is read: an object's cost is bounded before any work
	}
	workload, containers := validation.UnknownWorkload, []string(nil)
	if lookupErr == nil {
		workload, containers = workloadOf(facts), facts.Containers()
	}
	// Each query is parsed here, once, and every check reads that analysis.
	queries = validation.Queries(so)
	verdict.Violations = validation.ScaledObject(so, containers, workload, queries)
	verdict.Advice = validation.TriggerAdvice(so, queries)
	if lookupErr != nil {
		verdict.Unchecked = append(verdict.Unchecked, validation.Unchecked{Trigger: -1, Reason: UncheckedLookupFailed,
			Message: fmt.Sprintf("innokeda could not look up %s %s, so it made only the checks that need no cluster: %v", so.Spec.ScaleTargetRef.Kind, so.Spec.ScaleTargetRef.Name, lookupErr)})
		return verdict, queries
	}
	verdict.Violations = append(verdict.Violations, managedHostViolations(so, facts, o.Hosts)...)
	verdict.Violations = append(verdict.Violations, readBoundViolations(so, facts, queries)...)
	if !managed.ReadBoundOf(facts.Cluster).Set && hasMySQLTrigger(so) {
		verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("InnoDBCluster %s has no %s annotation, so a trigger may read any table its account can: "+
			"ask the cluster's owner to list the tables ScaledObjects may read (schema.table or schema.*, comma-separated)", facts.Cluster.Name, annotations.AllowedTables))
	}
	return verdict, queries
}

// managedHostViolations checks, before any Secret is read, the host each trigger that
// uses the TriggerAuthentication innokeda keeps names in its metadata: KEDA takes the
// metadata's host over the authentication's, and would send the cluster's credentials
// there. The host was written by the ScaledObject's author, so the message quotes it.
// connectionOf checks the host again once the authentication is read.
func managedHostViolations(so *kedav1alpha1.ScaledObject, facts autofill.Facts, hosts dryrun.HostPolicy) validation.Violations {
	var violations validation.Violations
	for i, t := range so.Spec.Triggers {
		host := strings.TrimSpace(t.Metadata["host"])
		if host == "" || !managed.UsesManagedAuthentication(t, facts.Cluster.Name) {
			continue
		}
		port := cmp.Or(strings.TrimSpace(t.Metadata["port"]), strconv.Itoa(innodbcluster.MySQLPort))
		cfg, _ := dryrun.Params{Host: host, Port: port}.Config()
		if err := hosts.NamesCluster(cfg, facts.Cluster.Name, facts.Cluster.Namespace, dryrun.Shown); err != nil {
			violations.Add(validation.ReasonAuthentication, validation.Invalid(validation.MetadataPath(i, "host"), fmt.Sprintf(
				"%s: KEDA would send the credentials of TriggerAuthentication %s there; point host and port at the cluster's instances service (%s:%d), or use an authentication of your own",
				err, managed.Name(facts.Cluster.Name),
				innodbcluster.ServiceHost(innodbcluster.InstancesService(facts.Cluster.Name), facts.Cluster.Namespace, hosts.ClusterDomain), innodbcluster.MySQLPort)))
		}
	}
	return violations
}

// readBoundViolations checks, before any Secret is read, each mysql trigger's query
// against the cluster owner's bound (managed.ReadBound), in every account mode, where the
// tables it reads are known without I/O: its dbName is in the metadata, or it names every
// table with its schema. connectionOf checks the others once their database is resolved.
func readBoundViolations(so *kedav1alpha1.ScaledObject, facts autofill.Facts, queries []*sqltables.Analysis) validation.Violations {
	bound := managed.ReadBoundOf(facts.Cluster)
	if !bound.Set {
		return nil
	}
	var violations validation.Violations
	for i, t := range so.Spec.Triggers {
		if t.Type != autofill.MySQLTriggerType || queries[i] == nil {
			continue
		}
		dbName := strings.TrimSpace(t.Metadata["dbName"])
		if dbName == "" && queries[i].HasUnqualified() {
			continue // connectionOf, once the database the connection opens is known
		}
		violations = append(violations, readBoundViolation(i, queries[i], dbName, origin{shown: true}, bound, facts.Cluster.Name)...)
	}
	return violations
}

// unknownDatabaseViolation is why trigger i is refused when what completes its query's
// unqualified names is not known (why says what stopped innokeda: credentials it could
// not read, or a source it does not read), and the cluster's owner set a bound: a bound
// that cannot be checked does not admit. Where the metadata names the database and nothing
// may hold a connection string (whose database KEDA opens instead), the database is known.
func unknownDatabaseViolation(i int, t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis, facts autofill.Facts, why string) validation.Violations {
	if query == nil || !query.HasUnqualified() || !managed.ReadBoundOf(facts.Cluster).Set {
		return nil
	}
	metadataDB := strings.TrimSpace(t.Metadata["dbName"]) != ""
	mayHaveConnectionString := t.AuthenticationRef != nil || strings.TrimSpace(t.Metadata["connectionStringFromEnv"]) != ""
	if metadataDB && !mayHaveConnectionString {
		return nil // readBoundViolations checked it
	}
	var violations validation.Violations
	violations.Add(validation.ReasonReadBoundUnknown, validation.Invalid(validation.MetadataPath(i, "query"), fmt.Sprintf(
		"the query names a table without a schema, and %s, so it cannot tell which database the connection opens, nor whether the query reads inside what InnoDBCluster %s allows (annotation %s): qualify every table with its schema",
		why, facts.Cluster.Name, annotations.AllowedTables)))
	return violations
}

// readBoundViolation checks one query against bound, its unqualified names completed with
// dbName (which came from db). A table is named as the query names it: one it did not
// qualify, with a database from a Secret, is named by where the database came from, so
// that the message is the same whatever that database is.
func readBoundViolation(i int, query *sqltables.Analysis, dbName string, db origin, bound managed.ReadBound, cluster string) validation.Violations {
	if query.Err != nil {
		return nil // the query guard says why
	}
	// Each table is named from the query's text alone, before its open name is completed:
	// keyed by the completed name, a table the query names both ways would be named
	// differently when the Secret's database is the one it qualifies the other with.
	// With a database from a Secret, the tables it completes are named all together when
	// any is outside: which of them is would tell what the database is.
	var outside, hidden []string
	hiddenOutside := false
	for _, t := range slices.Concat(query.OpenTables(), query.InformationSchemaTables()) {
		name := t.String()
		open := t.Schema == sqltables.Unqualified
		if open {
			t.Schema = dbName
			name = t.String()
		}
		// A system schema's table is denied to every query already (ReasonSystemSchema).
		isOutside := sqltables.SystemSchema(t.Schema) == "" && !bound.Allows(t)
		switch {
		case open && !db.shown:
			hidden = append(hidden, t.NameString())
			hiddenOutside = hiddenOutside || isOutside
		case isOutside:
			outside = append(outside, name)
		}
	}
	if hiddenOutside {
		outside = append([]string{fmt.Sprintf("%s (in the database from %s)", strings.Join(hidden, ", "), db.place)}, outside...)
	}
	why := bound.Violation(cluster, outside)
	if why == "" {
		return nil
	}
	var violations validation.Violations
	violations.Add(validation.ReasonReadBound, validation.Invalid(validation.MetadataPath(i, "query"), why))
	return violations
}

// hasMySQLTrigger tells whether so has a mysql trigger.
func hasMySQLTrigger(so *kedav1alpha1.ScaledObject) bool {
	return slices.ContainsFunc(so.Spec.Triggers, func(t kedav1alpha1.ScaleTriggers) bool { return t.Type == autofill.MySQLTriggerType })
}

// workloadOf tells what the target runs.
func workloadOf(facts autofill.Facts) validation.Workload {
	if _, ok := facts.ReadReplica(); ok {
		return validation.ReadReplicas
	}
	if facts.Router() {
		return validation.Router
	}
	return validation.GroupMembers
}

// InScope tells whether Check would check so: whether its target is a workload of an
// annotated InnoDBCluster, and which cluster's (the target's name when the lookup did not
// tell). It reads the cache (and a router Deployment), never MySQL; an error means the
// target could not be looked up.
func (e *Engine) InScope(ctx context.Context, so *kedav1alpha1.ScaledObject) (inScope bool, cluster string, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DryRunTimeout)
	defer cancel()
	facts, inScope, err := e.target(ctx, so)
	if facts.Cluster != nil {
		return inScope, facts.Cluster.Name, err
	}
	_, name, _ := autofill.TargetOf(so)
	return inScope, name, err
}

// target looks up what so scales. When the lookup fails, inScope is true: nothing says
// it is not.
func (e *Engine) target(ctx context.Context, so *kedav1alpha1.ScaledObject) (facts autofill.Facts, inScope bool, err error) {
	kind, name, skip := autofill.TargetOf(so)
	if skip != "" {
		return facts, false, nil
	}
	if facts, err = LookupTarget(ctx, e.cache, e.creds.secrets, so.Namespace, kind, name); err != nil {
		return facts, true, err
	}
	skip, _ = autofill.Scope(so, facts)
	return facts, skip == "", nil
}

// notDryRun records that trigger i's query could not be dry-run (reason, for metrics;
// why, for people).
func notDryRun(verdict *validation.Verdict, i int, reason, why string) {
	verdict.Unchecked = append(verdict.Unchecked, validation.Unchecked{Trigger: i, Reason: reason, Message: why})
}
