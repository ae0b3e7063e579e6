package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/clusterservers"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/sqltables"
	"github.com/innokeda/innokeda/internal/validation"
)

// ValidatePath is where the API server sends ScaledObjects for validation.
const ValidatePath = "/validate-keda-sh-v1alpha1-scaledobject"

// What to do when a dry-run cannot happen (server unreachable, too slow, too busy).
const (
	OnUnreachableWarn = "warn"
	OnUnreachableDeny = "deny"
)

// ValidatorOptions configure the validating webhook.
type ValidatorOptions struct {
	// DryRunTimeout bounds the whole validation of one object, dry-runs included.
	DryRunTimeout time.Duration
	// OnUnreachable is OnUnreachableWarn or OnUnreachableDeny.
	OnUnreachable string
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

// SetupScaledObjectValidator registers the validating webhook with the manager's webhook
// server and returns it, for the audit to share its checks and dry-run slots; secrets
// reads Secrets, and authentications the cache does not have yet.
func SetupScaledObjectValidator(mgr manager.Manager, secrets client.Reader, o ValidatorOptions) (*ScaledObjectValidator, error) {
	v, err := NewScaledObjectValidator(mgr.GetScheme(), mgr.GetClient(), secrets, o)
	if err != nil {
		return nil, err
	}
	// The Services and pods a dry-run's host is checked against: informers made now start
	// with the cache, so the first dry-run does not wait for them to sync.
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.Pod{}} {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	mgr.GetWebhookServer().Register(ValidatePath, &admission.Webhook{Handler: v})
	return v, nil
}

// ScaledObjectValidator denies ScaledObjects for annotated InnoDBClusters that KEDA would
// fail on, dry-running each mysql trigger's query first.
type ScaledObjectValidator struct {
	cache   client.Reader
	decoder admission.Decoder
	creds   credentials
	runner  *dryrun.Runner
	opts    ValidatorOptions
}

var _ admission.Handler = &ScaledObjectValidator{}

// NewScaledObjectValidator returns a validator; secrets must be an uncached reader.
func NewScaledObjectValidator(scheme *runtime.Scheme, cache, secrets client.Reader, o ValidatorOptions) (*ScaledObjectValidator, error) {
	if o.OnUnreachable != OnUnreachableWarn && o.OnUnreachable != OnUnreachableDeny {
		return nil, fmt.Errorf("on-unreachable must be %q or %q, not %q", OnUnreachableWarn, OnUnreachableDeny, o.OnUnreachable)
	}
	if o.DryRunTimeout <= 0 {
		return nil, fmt.Errorf("dry-run timeout must be positive, not %v", o.DryRunTimeout)
	}
	o.Limits = o.Limits.OrDefault()
	if o.Limits.MaxMySQLTriggers < 1 || o.Limits.MaxQueryBytes < 1 {
		return nil, fmt.Errorf("limits must be positive, not %+v", o.Limits)
	}
	return &ScaledObjectValidator{
		cache:   cache,
		decoder: admission.NewDecoder(scheme),
		creds:   credentials{cache: cache, secrets: secrets, kedaNamespace: o.KEDANamespace},
		runner:  dryrun.NewRunner(o.MaxConcurrentDryRuns),
		opts:    o,
	}, nil
}

// Handle implements admission.Handler.
func (v *ScaledObjectValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	so := &kedav1alpha1.ScaledObject{}
	if err := v.decoder.Decode(req, so); err != nil {
		return admission.Allowed("") // the API server's schema validation answers this one
	}
	if so.Namespace == "" {
		so.Namespace = req.Namespace
	}
	if req.Operation == admissionv1.Update && v.specUnchanged(req, so) {
		// KEDA's finalizers, labels, annotations: nothing a trigger depends on changed.
		return admission.Allowed("")
	}
	return v.respond(so, v.check(ctx, so, checkMode{dryRunRequest: ptr.Deref(req.DryRun, false)}))
}

// Check checks so as admission does, within --dry-run-timeout: static checks, the
// credentials resolved as KEDA resolves them, and each mysql trigger's query dry-run.
// It writes nothing and counts only dry-runs.
func (v *ScaledObjectValidator) Check(ctx context.Context, so *kedav1alpha1.ScaledObject) validation.Verdict {
	return v.check(ctx, so, checkMode{})
}

// CheckStored checks a ScaledObject that is already stored, as the audit does: as Check,
// except that the controller has had its chance to grant the scaler account, so a missing
// grant is what KEDA meets, not something to dry-run as root in the account's stead.
func (v *ScaledObjectValidator) CheckStored(ctx context.Context, so *kedav1alpha1.ScaledObject) validation.Verdict {
	return v.check(ctx, so, checkMode{stored: true})
}

// checkMode is what the caller knows of the object being checked.
type checkMode struct {
	// stored: see CheckStored.
	stored bool
	// dryRunRequest: the request will never be stored (kubectl --dry-run=server), so the
	// controller will never grant for it: no read as root in the scaler account's stead.
	dryRunRequest bool
}

// rootFallback tells whether a managed scaler account that has no grant yet may be
// stood in for by root: only at admission of an object that will be stored.
func (m checkMode) rootFallback() bool { return !m.stored && !m.dryRunRequest }

// check makes the checks in three passes, so that no I/O can hide what needs none. First,
// with no I/O and in time that does not depend on the budget: the object's cost against
// the limits, then every trigger's static checks. A violation found there denies, whatever
// follows. Then every trigger's credentials, and what they tell (connectionOf). Last, only
// for an object nothing is wrong with, the dry-runs. A failure of I/O is recorded against
// that trigger's checks only, never in place of a violation; where it leaves the
// owner's bound unchecked, the trigger is refused. The deadline is checked before each
// trigger of each pass.
func (v *ScaledObjectValidator) check(ctx context.Context, so *kedav1alpha1.ScaledObject, mode checkMode) validation.Verdict {
	ctx, cancel := context.WithTimeout(ctx, v.opts.DryRunTimeout)
	defer cancel()
	facts, inScope, lookupErr := v.target(ctx, so)
	if !inScope {
		return validation.Verdict{}
	}
	verdict := validation.Verdict{InScope: true}
	if verdict.Violations = validation.Cost(so, v.opts.Limits); len(verdict.Violations) > 0 {
		return verdict // nothing more is read: an object's cost is bounded before any work
	}

	workload, containers := validation.UnknownWorkload, []string(nil)
	if lookupErr == nil {
		workload, containers = workloadOf(facts), facts.Containers()
	}
	// Each query is parsed here, once, and every check below reads that analysis.
	queries := validation.Queries(so)
	verdict.Violations = validation.ScaledObject(so, containers, workload, queries)
	if lookupErr == nil {
		verdict.Violations = append(verdict.Violations, v.managedHostViolations(so, facts)...)
		verdict.Violations = append(verdict.Violations, readBoundViolations(so, facts, queries)...)
		if !managed.ReadBoundOf(facts.Cluster).Set && hasMySQLTrigger(so) {
			verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("InnoDBCluster %s has no %s annotation, so a trigger may read any table its account can: "+
				"ask the cluster's owner to list the tables ScaledObjects may read (schema.table or schema.*, comma-separated)", facts.Cluster.Name, innodbcluster.AnnotationAllowedTables))
		}
	} else {
		logf.FromContext(ctx).Error(lookupErr, "Could not look up the target of a ScaledObject")
		verdict.Unchecked = append(verdict.Unchecked, validation.Unchecked{Trigger: -1, Reason: degradedLookupFailed,
			Message: fmt.Sprintf("innokeda could not look up %s %s, so it made only the checks that need no cluster: %v", so.Spec.ScaleTargetRef.Kind, so.Spec.ScaleTargetRef.Name, lookupErr)})
		return verdict
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
			conn, violations, err = v.connectionOf(ctx, so, facts, i, t, queries[i])
		}
		switch {
		case ctx.Err() != nil && conn == nil:
			dryRunsTotal.WithLabelValues(outcomeTimedOut).Inc()
			notDryRun(&verdict, i, outcomeTimedOut, fmt.Sprintf("innokeda's budget (--dry-run-timeout=%v) ran out before this trigger's credentials were read; only its static checks were made", v.opts.DryRunTimeout))
		case err != nil:
			logf.FromContext(ctx).Error(err, "Could not read a trigger's credentials", "trigger", i)
			notDryRun(&verdict, i, degradedCredentials,
				fmt.Sprintf("innokeda could not read the credentials of spec.triggers[%d], so it checked only what needs none: %v", i, err))
		}
		if conn == nil {
			// The database the connection opens is not known: a bound the owner set
			// cannot be checked, so it refuses (fail closed).
			violations = append(violations, unknownDatabaseViolation(i, t, queries[i], facts)...)
		}
		verdict.Violations = append(verdict.Violations, violations...)
		if conn != nil && len(violations) == 0 {
			connections = append(connections, conn)
		}
	}
	// Once something is wrong, the answer is a denial: nothing is dry-run.
	if len(verdict.Violations) > 0 {
		return verdict
	}
	for _, conn := range connections {
		if v.opts.OnUnreachable == OnUnreachableDeny && len(verdict.Unchecked) > 0 {
			break // the answer is a denial already
		}
		if ctx.Err() != nil {
			dryRunsTotal.WithLabelValues(outcomeTimedOut).Inc()
			notDryRun(&verdict, conn.i, outcomeTimedOut, fmt.Sprintf("innokeda's budget (--dry-run-timeout=%v) ran out before this trigger was dry-run; all its other checks were made", v.opts.DryRunTimeout))
			continue
		}
		v.dryRunTrigger(ctx, so, facts, conn, mode, &verdict)
	}
	return verdict
}

// managedHostViolations checks, before any Secret is read, the host each trigger that
// uses the TriggerAuthentication innokeda keeps names in its metadata: KEDA takes the
// metadata's host over the authentication's, and would send the cluster's credentials
// there. The host was written by the ScaledObject's author, so the message quotes it.
// connectionOf checks the host again once the authentication is read.
func (v *ScaledObjectValidator) managedHostViolations(so *kedav1alpha1.ScaledObject, facts autofill.Facts) validation.Violations {
	var violations validation.Violations
	for i, t := range so.Spec.Triggers {
		host := strings.TrimSpace(t.Metadata["host"])
		if host == "" || !managed.UsesManagedAuthentication(t, facts.Cluster.Name) {
			continue
		}
		port := cmp.Or(strings.TrimSpace(t.Metadata["port"]), strconv.Itoa(innodbcluster.MySQLPort))
		cfg, _ := dryrun.Params{Host: host, Port: port}.Config()
		if err := v.opts.Hosts.NamesCluster(cfg, facts.Cluster.Name, facts.Cluster.Namespace, dryrun.Shown); err != nil {
			violations.Add(validation.ReasonAuthentication, validation.Invalid(validation.MetadataPath(i, "host"), fmt.Sprintf(
				"%s: KEDA would send the credentials of TriggerAuthentication %s there; point host and port at the cluster's instances service (%s:%d), or use an authentication of your own",
				err, managed.Name(facts.Cluster.Name),
				innodbcluster.ServiceHost(innodbcluster.InstancesService(facts.Cluster.Name), facts.Cluster.Namespace, v.opts.Hosts.ClusterDomain), innodbcluster.MySQLPort)))
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

// unknownDatabaseViolation is why trigger i is refused when its credentials could not be
// read: its query names a table without a schema, the cluster's owner set a bound, and
// what completes those names is not known without the credentials (the metadata names no
// dbName, or an authentication or env may hold a connection string, whose database KEDA
// opens instead). A bound that cannot be checked does not admit.
func unknownDatabaseViolation(i int, t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis, facts autofill.Facts) validation.Violations {
	if query == nil || !query.HasUnqualified() || !managed.ReadBoundOf(facts.Cluster).Set {
		return nil
	}
	metadataDB := strings.TrimSpace(t.Metadata["dbName"]) != ""
	mayHaveConnectionString := t.AuthenticationRef != nil || strings.TrimSpace(t.Metadata["connectionStringFromEnv"]) != ""
	if metadataDB && !mayHaveConnectionString {
		return nil // readBoundViolations checked it
	}
	var violations validation.Violations
	violations.Add(validation.ReasonReadBound, validation.Invalid(validation.MetadataPath(i, "query"), fmt.Sprintf(
		"the query names a table without a schema, and innokeda could not read the trigger's credentials to learn which database the connection opens, "+
			"so it cannot tell whether the query reads inside what InnoDBCluster %s allows (annotation %s): qualify every table with its schema",
		facts.Cluster.Name, innodbcluster.AnnotationAllowedTables)))
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
// annotated InnoDBCluster. It reads the cache (and a router Deployment), never MySQL; an
// error means the target could not be looked up.
func (v *ScaledObjectValidator) InScope(ctx context.Context, so *kedav1alpha1.ScaledObject) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, v.opts.DryRunTimeout)
	defer cancel()
	_, inScope, err := v.target(ctx, so)
	return inScope, err
}

// target looks up what so scales. When the lookup fails, inScope is true: nothing says
// it is not.
func (v *ScaledObjectValidator) target(ctx context.Context, so *kedav1alpha1.ScaledObject) (facts autofill.Facts, inScope bool, err error) {
	kind, name, skip := autofill.TargetOf(so)
	if skip != "" {
		return facts, false, nil
	}
	if facts, err = lookupTarget(ctx, v.cache, v.creds.secrets, so.Namespace, kind, name); err != nil {
		return facts, true, err
	}
	skip, _ = autofill.Scope(so, facts)
	return facts, skip == "", nil
}

// respond turns a verdict into the admission response: what could not be checked is a
// warning or, with --on-unreachable=deny, a denial.
func (v *ScaledObjectValidator) respond(so *kedav1alpha1.ScaledObject, verdict validation.Verdict) admission.Response {
	if !verdict.InScope {
		return admission.Allowed("")
	}
	if whole, ok := verdict.Whole(); ok && len(verdict.Violations) == 0 {
		return v.notValidated(whole.Reason, whole.Message)
	}
	violations, warnings := verdict.Violations, verdict.Warnings
	for _, u := range verdict.Unchecked {
		degradedTotal.WithLabelValues(webhookValidating, u.Reason).Inc()
		if u.Trigger < 0 { // what violations were found were found without it: they deny
			warnings = append(warnings, u.Message)
			continue
		}
		msg := "the query was not validated: " + u.Message
		if v.opts.OnUnreachable == OnUnreachableDeny {
			violations.Add(validation.ReasonNotValidated, validation.Invalid(validation.TriggerPath(u.Trigger), msg+"; innokeda is set to deny what it cannot validate (--on-unreachable=deny)"))
			continue
		}
		warnings = append(warnings, fmt.Sprintf("spec.triggers[%d]: %s", u.Trigger, msg))
	}
	if len(violations) == 0 {
		return admission.Allowed("").WithWarnings(warnings...)
	}
	for _, vl := range violations {
		denialsTotal.WithLabelValues(vl.Reason).Inc()
	}
	status := apierrors.NewInvalid(schema.GroupKind{Group: "keda.sh", Kind: "ScaledObject"}, so.Name, violations.ErrorList()).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}.WithWarnings(warnings...)
}

// specUnchanged tells whether an UPDATE leaves the spec as it was.
func (v *ScaledObjectValidator) specUnchanged(req admission.Request, so *kedav1alpha1.ScaledObject) bool {
	old := &kedav1alpha1.ScaledObject{}
	if err := v.decoder.DecodeRaw(req.OldObject, old); err != nil {
		return false
	}
	return equality.Semantic.DeepEqual(old.Spec, so.Spec)
}

// notDryRun records that trigger i's query could not be dry-run (reason, for metrics;
// why, for people).
func notDryRun(verdict *validation.Verdict, i int, reason, why string) {
	verdict.Unchecked = append(verdict.Unchecked, validation.Unchecked{Trigger: i, Reason: reason, Message: why})
}

// notValidated answers when validation could not happen at all, per --on-unreachable.
func (v *ScaledObjectValidator) notValidated(reason, msg string) admission.Response {
	degradedTotal.WithLabelValues(webhookValidating, reason).Inc()
	if v.opts.OnUnreachable == OnUnreachableDeny {
		denialsTotal.WithLabelValues(validation.ReasonNotValidated).Inc()
		return admission.Denied(msg + " (--on-unreachable=deny)")
	}
	return admission.Allowed("").WithWarnings(msg)
}

// triggerConnection is what connectionOf read of one trigger's connection, for its
// dry-run.
type triggerConnection struct {
	i      int
	t      kedav1alpha1.ScaleTriggers
	res    resolution
	cfg    *mysql.Config
	scaler bool            // KEDA polls as the managed scaler account
	reads  sqltables.Reads // what the query reads, when scaler
}

// connectionOf resolves trigger i's credentials and checks what only they tell: the
// connection string, where the managed authentication's credentials would go, and the
// database that completes the query's unqualified names. An error is a Secret or
// authentication it could not read.
//
// The values the credentials resolve to may have come from Secrets or env, and a
// TriggerAuthentication may map any of them to any parameter: every message is built from
// where each value came from (resolution.originOf), never by taking values out of a text
// afterwards. The host policy names a host from a Secret by its Secret, the dry-run's
// errors are innokeda's own words, and MySQL's text is quoted only where the author wrote
// every value it can hold (judge).
func (v *ScaledObjectValidator) connectionOf(ctx context.Context, so *kedav1alpha1.ScaledObject, facts autofill.Facts, i int, t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis) (*triggerConnection, validation.Violations, error) {
	res, err := v.creds.resolve(ctx, so.Namespace, i, t, envSourceContainer(so, facts))
	if err != nil {
		return nil, nil, err
	}
	violations := res.violations
	cfg, err := res.params.Config()
	if err != nil {
		violations.Add(validation.ReasonConnectionString, validation.Invalid(validation.TriggerPath(i).Child("authenticationRef"),
			"the connection string the trigger resolves to "+err.Error()))
		return &triggerConnection{i: i, t: t, res: res}, violations, nil
	}
	if res.params.ConnectionString == "" && managed.UsesManagedAuthentication(t, facts.Cluster.Name) {
		// The TriggerAuthentication innokeda keeps holds the cluster's credentials: KEDA
		// sends them to whatever host the trigger names, so that must be the cluster's.
		if hostErr := v.opts.Hosts.NamesCluster(cfg, facts.Cluster.Name, facts.Cluster.Namespace, res.subject()); hostErr != nil {
			violations.Add(validation.ReasonAuthentication, validation.Invalid(validation.MetadataPath(i, "host"), fmt.Sprintf(
				"%s: KEDA would send the credentials of TriggerAuthentication %s there; point host and port at the cluster's instances service (%s:%d), or use an authentication of your own",
				hostErr, managed.Name(facts.Cluster.Name),
				innodbcluster.ServiceHost(innodbcluster.InstancesService(facts.Cluster.Name), facts.Cluster.Namespace, v.opts.Hosts.ClusterDomain), innodbcluster.MySQLPort)))
		}
	}
	// The database the connection opens came from the authentication when the metadata
	// names none, or when a connection string is used: KEDA then ignores metadata.dbName.
	fromMetadata := strings.TrimSpace(t.Metadata["dbName"]) != "" && res.params.ConnectionString == ""
	openByAuth := query != nil && !fromMetadata && query.HasUnqualified()
	if openByAuth && sqltables.SystemSchema(cfg.DBName) != "" {
		// The database came from the authentication, not from the author: the message
		// says where it came from, not what it is.
		violations.Add(validation.ReasonSystemSchema, validation.Invalid(validation.MetadataPath(i, "query"),
			"the query names a table without a schema, and the database the trigger's connection opens (from its authentication) is a system schema that no scaler's query may read: qualify every table with your application's schema"))
	}
	if openByAuth {
		// Checked against the owner's bound now that the database is known
		// (readBoundViolations checked the others).
		violations = append(violations, readBoundViolation(i, query, cfg.DBName, res.originOf("dbName"), managed.ReadBoundOf(facts.Cluster), facts.Cluster.Name)...)
	}
	conn := &triggerConnection{i: i, t: t, res: res, cfg: cfg}
	var settings innodbcluster.ScalerSettings
	if conn.scaler, settings = v.pollsAsScalerAccount(facts, t); conn.scaler {
		var scalerProblems validation.Violations
		scalerProblems, conn.reads = scalerViolations(i, t, query, cfg.DBName, settings)
		violations = append(violations, scalerProblems...)
	}
	return conn, violations, nil
}

// dryRunTrigger runs conn's query against MySQL, as KEDA would poll it, and adds what it
// finds to verdict. It runs only for an object nothing is wrong with so far. mode: see
// CheckStored.
func (v *ScaledObjectValidator) dryRunTrigger(ctx context.Context, so *kedav1alpha1.ScaledObject, facts autofill.Facts, conn *triggerConnection, mode checkMode, verdict *validation.Verdict) {
	i, t, res, cfg, scaler, reads := conn.i, conn.t, conn.res, conn.cfg, conn.scaler, conn.reads
	prefix := fmt.Sprintf("spec.triggers[%d]: ", i)
	if res.unresolved != "" {
		dryRunsTotal.WithLabelValues(outcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+"not dry-run: "+res.unresolved)
		verdict.NotDryRun++
		return
	}
	// The host's name is not trusted: the address comes from the API objects behind it.
	servers, err := clusterservers.Lookup(ctx, v.cache, facts.Cluster)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Could not look up the servers of an InnoDBCluster", "trigger", i)
		dryRunsTotal.WithLabelValues(outcomeNotDialed).Inc()
		notDryRun(verdict, i, degradedServers,
			fmt.Sprintf("innokeda could not look up the services and pods of InnoDBCluster %s: %v", facts.Cluster.Name, err))
		return
	}
	dialAddress, err := v.opts.Hosts.DialAddress(cfg, servers, res.subject())
	if err != nil {
		dryRunsTotal.WithLabelValues(outcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+"not dry-run: "+err.Error()+"; innokeda only connects to the MySQL Operator's services and pods of the cluster, "+
			"at the addresses the API server gives for them, so only the static checks were made")
		verdict.NotDryRun++
		return
	}
	text := strings.TrimSpace(t.Metadata["query"])
	obs, err := v.runner.Run(ctx, cfg, dialAddress, text)
	asRoot := false
	user, db := res.originOf("username"), res.originOf("dbName")
	if scaler && mode.dryRunRequest && cfg.User == managed.ScalerUser && notGrantedYet(err) {
		dryRunsTotal.WithLabelValues(outcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+fmt.Sprintf("not dry-run: MySQL account %s has no SELECT yet on a table the query reads, and a dry-run request is never stored, so innokeda's controller will not grant it and innokeda does not read as root in its stead; only the static checks were made", managed.ScalerUser))
		verdict.NotDryRun++
		return
	}
	if scaler && mode.rootFallback() && cfg.User == managed.ScalerUser && notGrantedYet(err) {
		if why := rootFallbackRefused(reads); why != "" {
			dryRunsTotal.WithLabelValues(outcomeNotDialed).Inc()
			verdict.Warnings = append(verdict.Warnings, prefix+fmt.Sprintf("not dry-run: MySQL account %s has no SELECT yet on a table the query reads (innokeda's controller grants it once the ScaledObject is stored, "+
				"Event %s on InnoDBCluster %s), and %s, so only the static checks were made; KEDA's first polls may fail until the grant",
				managed.ScalerUser, controllerGrantsEvent, facts.Cluster.Name, why))
			verdict.NotDryRun++
			return
		}
		// Admission comes before the grant: the controller grants SELECT on the query's
		// tables once the ScaledObject is stored. Every table was checked to be one it may
		// grant, and the query reads no privilege-dependent information_schema table and
		// calls only the guard's built-ins, so root reads what the account will read then;
		// judge shows the value to no one.
		var rootCfg *mysql.Config
		if rootCfg, err = v.rootAccount(ctx, facts.Cluster, cfg); err == nil {
			obs, err = v.runner.Run(ctx, rootCfg, dialAddress, text)
			asRoot = true
			user = origin{place: fmt.Sprintf("Secret %s key %s (the cluster's root account)", facts.Cluster.Spec.SecretName, innodbcluster.SecretKeyRootUser)}
			verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("%sMySQL account %s has no SELECT yet on a table the query reads: innokeda's controller grants it once the ScaledObject is stored "+
				"(Event %s on InnoDBCluster %s), KEDA's first polls may fail until then; the dry-run ran as the cluster's root account, over the same tables",
				prefix, managed.ScalerUser, controllerGrantsEvent, facts.Cluster.Name))
		}
	}
	v.judge(prefix, i, so, t, obs, err, asRoot, mysqlWords{user: user.describe(cfg.User), db: db.describe(cfg.DBName), userShown: user.shown, dbShown: db.shown}, verdict)
}

// pollsAsScalerAccount tells whether trigger t polls with the managed scaler account of
// the cluster: the cluster asks for one, and t uses the TriggerAuthentication that maps it.
func (v *ScaledObjectValidator) pollsAsScalerAccount(facts autofill.Facts, t kedav1alpha1.ScaleTriggers) (bool, innodbcluster.ScalerSettings) {
	if !v.opts.ScalerAccounts || !managed.UsesManagedAuthentication(t, facts.Cluster.Name) {
		return false, innodbcluster.ScalerSettings{}
	}
	settings, managedAccount := innodbcluster.ManagedScalerAccount(facts.Cluster.Annotations)
	return managedAccount, settings
}

// scalerViolations are why trigger i cannot work with the scaler account (see
// managed.ScalerTrigger): the controller grants SELECT on the tables the query reads and
// nothing else, so KEDA's polls would fail forever.
// It returns what the query reads too, read once.
func scalerViolations(i int, t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis, dbName string, settings innodbcluster.ScalerSettings) (validation.Violations, sqltables.Reads) {
	if query == nil || query.Err != nil {
		return nil, sqltables.Reads{} // the static checks say why
	}
	if _, system := query.SystemRead(dbName); system != "" {
		return nil, sqltables.Reads{} // no account may read it: the static checks say so
	}
	var violations validation.Violations
	reads, problems := managed.ScalerTrigger(t, query, dbName, settings)
	for _, p := range problems {
		violations.Add(validation.ReasonScalerGrant, validation.Invalid(validation.MetadataPath(i, p.Field),
			fmt.Sprintf("KEDA polls as MySQL account %s (innokeda.io/scaler-account: managed), which innokeda grants SELECT on the tables the query reads and nothing else; the trigger %s", managed.ScalerUser, p.Message)))
	}
	return violations, reads
}

// controllerGrantsEvent is the Event the controller emits when it grants.
const controllerGrantsEvent = "ScalerGrantsUpdated"

// rootFallbackRefused says why reads may not be dry-run as root in the account's stead,
// or "".
func rootFallbackRefused(reads sqltables.Reads) string {
	if len(reads.InformationSchema) > 0 {
		return fmt.Sprintf("the query reads information_schema.%s, whose rows depend on who reads them", strings.Join(reads.InformationSchema, ", information_schema."))
	}
	// Functions need no check here: the guard admits only built-ins that compute from
	// their arguments alone (dryrun's allowedFunctions).
	return ""
}

// notGrantedYet tells whether a dry-run failed for want of a privilege on a table, a
// column, or the database it opens (dbName, which scalerViolations has checked is the
// schema of a table the query reads: the grant on that table will open it).
func notGrantedYet(err error) bool {
	var serverErr *dryrun.ServerError
	return errors.As(err, &serverErr) && (serverErr.Number == erDBAccessDenied || serverErr.Number == erTableAccessDenied || serverErr.Number == erColumnAccessDenied)
}

// MySQL errors for a missing privilege, a wrong account or a missing database or table.
const (
	erAccessDenied       = 1045 // ER_ACCESS_DENIED_ERROR
	erBadDB              = 1049 // ER_BAD_DB_ERROR
	erNoSuchTable        = 1146 // ER_NO_SUCH_TABLE
	erDBAccessDenied     = 1044 // ER_DBACCESS_DENIED_ERROR
	erTableAccessDenied  = 1142 // ER_TABLEACCESS_DENIED_ERROR
	erColumnAccessDenied = 1143 // ER_COLUMNACCESS_DENIED_ERROR
)

// rootAccount returns cfg with the cluster's root account (from spec.secretName).
func (v *ScaledObjectValidator) rootAccount(ctx context.Context, cluster *innodbcluster.InnoDBCluster, cfg *mysql.Config) (*mysql.Config, error) {
	secret := &corev1.Secret{}
	found, err := get(ctx, v.creds.secrets, cluster.Namespace, cluster.Spec.SecretName, secret)
	if err != nil {
		return nil, err
	}
	user, password, ok := innodbcluster.RootAccount(secret.Data)
	if !found || !ok {
		return nil, fmt.Errorf("the cluster's Secret %s has no %s to dry-run with", cluster.Spec.SecretName, innodbcluster.SecretKeyRootPassword)
	}
	root := cfg.Clone()
	root.User, root.Passwd = user, password
	return root, nil
}

// judge adds a dry-run's outcome to verdict; words says how MySQL's errors may be put.
//
// asRoot: the query ran as root in the scaler account's stead, over tables the account has
// not been granted yet: KEDA has never shown their content to the author, so neither does
// innokeda; the value's shape is checked, the value is not given.
func (v *ScaledObjectValidator) judge(prefix string, i int, so *kedav1alpha1.ScaledObject, t kedav1alpha1.ScaleTriggers, obs dryrun.Observation, err error, asRoot bool, words mysqlWords, verdict *validation.Verdict) {
	violations := &verdict.Violations
	var serverErr *dryrun.ServerError
	var refused *dryrun.RefusedError
	switch {
	case errors.As(err, &refused):
		// The guard, run again with what only the server could tell (its sql_mode).
		dryRunsTotal.WithLabelValues(outcomeRefused).Inc()
		violations.Add(validation.ReasonQueryNotReadOnly, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+refused.Error()))
		return
	case errors.Is(err, dryrun.ErrValueTooLarge):
		dryRunsTotal.WithLabelValues(outcomeRejected).Inc()
		dryRunSeconds.Observe(obs.Took.Seconds())
		violations.Add(validation.ReasonQueryResult, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+err.Error()))
		return
	case errors.As(err, &serverErr):
		dryRunsTotal.WithLabelValues(outcomeRejected).Inc()
		dryRunSeconds.Observe(obs.Took.Seconds())
		path := validation.MetadataPath(i, "query")
		detail := "MySQL rejected the query: " + words.rejection(serverErr)
		if connectionErrors[serverErr.Number] {
			path = validation.TriggerPath(i).Child("authenticationRef")
			detail = "MySQL refused the connection: " + words.rejection(serverErr) + ": check the user name, password and database the trigger resolves to"
		}
		violations.Add(validation.ReasonServerRejected, validation.Invalid(path, detail))
		return
	case err != nil:
		outcome := outcomeUnreachable
		switch {
		case errors.Is(err, dryrun.ErrTimedOut):
			outcome = outcomeTimedOut
		case errors.Is(err, dryrun.ErrBusy):
			outcome = outcomeBusy
		}
		dryRunsTotal.WithLabelValues(outcome).Inc()
		notDryRun(verdict, i, outcome, fmt.Sprintf("%s (within --dry-run-timeout=%v)", err, v.opts.DryRunTimeout))
		return
	}
	dryRunSeconds.Observe(obs.Took.Seconds())
	value, err := dryrun.Value(obs)
	if err != nil {
		dryRunsTotal.WithLabelValues(outcomeRejected).Inc()
		violations.Add(validation.ReasonQueryResult, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+err.Error()))
		return
	}
	dryRunsTotal.WithLabelValues(outcomeSucceeded).Inc()
	queryValue, _ := validation.ParseNumber(t.Metadata["queryValue"])                                          // checked before the dry-run
	minReplicas, maxReplicas := ptr.Deref(so.Spec.MinReplicaCount, 0), ptr.Deref(so.Spec.MaxReplicaCount, 100) // KEDA's defaults
	if asRoot {
		verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("%sdry-run as root returned one number in %dms, not shown: the scaler account may not read those tables yet", prefix, obs.Took.Milliseconds()))
		if obs.Rows > 1 {
			verdict.Warnings = append(verdict.Warnings, prefix+"the query returned more than one row; KEDA silently uses the first: make it return exactly one")
		}
		return
	}
	number := strconv.FormatFloat(value, 'g', -1, 64)
	verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("%sdry-run returned %s in %dms: KEDA would aim at %d replica(s), ceil(%s / %s) within [%d, %d]",
		prefix, number, obs.Took.Milliseconds(), dryrun.Replicas(value, queryValue, minReplicas, maxReplicas),
		number, strconv.FormatFloat(queryValue, 'g', -1, 64), minReplicas, maxReplicas))
	if obs.Rows > 1 {
		verdict.Warnings = append(verdict.Warnings, prefix+"the query returned more than one row; KEDA silently uses the first: make it return exactly one")
	}
}

// mysqlWords are how a message about MySQL's answer may name the connection's user and
// database: quoted where the author wrote them, else by their source (origin.describe).
type mysqlWords struct {
	user, db string
	// The author wrote the user name, the database (or there is none): MySQL's own text
	// may name them (dryrun.ServerError.Text).
	userShown, dbShown bool
}

// rejection says what MySQL's error e means: MySQL's own text where it holds only names
// the author wrote (dryrun.ServerError.Text); otherwise what the error number means, in
// innokeda's words, with the user and database named by their source.
func (w mysqlWords) rejection(e *dryrun.ServerError) string {
	if text, ok := e.Text(w.userShown, w.dbShown); ok {
		return e.Error() + ": " + text
	}
	switch e.Number {
	case erAccessDenied:
		return fmt.Sprintf("%s: the user name %s and its password are not those of an account that may connect from innokeda's pod", e, w.user)
	case erDBAccessDenied:
		return fmt.Sprintf("%s: the user %s may not use the database %s", e, w.user, w.db)
	case erBadDB:
		return fmt.Sprintf("%s: the database %s does not exist", e, w.db)
	case erTableAccessDenied, erColumnAccessDenied:
		return fmt.Sprintf("%s: the user %s lacks SELECT on a table or column the query reads", e, w.user)
	case erNoSuchTable:
		return fmt.Sprintf("%s: a table the query reads does not exist (a table without a schema is looked for in the database %s)", e, w.db)
	}
	if e.Quoted() {
		return fmt.Sprintf("%s; its text is not shown, as it may hold the user name (%s) or the database (%s)", e, w.user, w.db)
	}
	return fmt.Sprintf("%s; its text is not shown, as it may hold data the query read", e)
}

// connectionErrors are MySQL errors about the account or database, not the query.
var connectionErrors = map[uint16]bool{
	1044: true, // access denied to the database
	1045: true, // access denied: user or password
	1049: true, // unknown database
}

// envSourceContainer is the container KEDA resolves env from: envSourceContainerName, or
// the first container.
func envSourceContainer(so *kedav1alpha1.ScaledObject, facts autofill.Facts) *corev1.Container {
	if name := so.Spec.ScaleTargetRef.EnvSourceContainerName; name != "" {
		return facts.Container(name)
	}
	if containers := facts.Containers(); len(containers) > 0 {
		return facts.Container(containers[0])
	}
	return nil
}
