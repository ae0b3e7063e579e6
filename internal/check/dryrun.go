package check

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/clusterservers"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/mysqlerr"
	"github.com/innokeda/innokeda/internal/sqltables"
	"github.com/innokeda/innokeda/internal/validation"
)

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
func (e *Engine) connectionOf(ctx context.Context, so *kedav1alpha1.ScaledObject, facts autofill.Facts, i int, t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis) (*triggerConnection, validation.Violations, error) {
	res, err := e.creds.resolve(ctx, so.Namespace, i, t, envSourceContainer(so, facts))
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
		if hostErr := e.opts.Hosts.NamesCluster(cfg, facts.Cluster.Name, facts.Cluster.Namespace, res.subject()); hostErr != nil {
			violations.Add(validation.ReasonAuthentication, validation.Invalid(validation.MetadataPath(i, "host"), fmt.Sprintf(
				"%s: KEDA would send the credentials of TriggerAuthentication %s there; point host and port at the cluster's instances service (%s:%d), or use an authentication of your own",
				hostErr, managed.Name(facts.Cluster.Name),
				innodbcluster.ServiceHost(innodbcluster.InstancesService(facts.Cluster.Name), facts.Cluster.Namespace, e.opts.Hosts.ClusterDomain), innodbcluster.MySQLPort)))
		}
	}
	if res.unresolved != "" {
		// Some parameter comes from where innokeda does not read: the database may be it.
		violations = append(violations, unknownDatabaseViolation(i, t, query, facts, "its credentials come from a source innokeda does not read ("+res.unresolved+")")...)
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
	if conn.scaler, settings = e.pollsAsScalerAccount(facts, t); conn.scaler {
		var scalerProblems validation.Violations
		scalerProblems, conn.reads = scalerViolations(i, t, query, cfg.DBName, settings)
		violations = append(violations, scalerProblems...)
	}
	return conn, violations, nil
}

// dryRunTrigger runs conn's query against MySQL, as KEDA would poll it, and adds what it
// finds to verdict. It runs only for an object nothing is wrong with so far. mode: see
// CheckStored.
func (e *Engine) dryRunTrigger(ctx context.Context, so *kedav1alpha1.ScaledObject, facts autofill.Facts, conn *triggerConnection, mode Mode, verdict *validation.Verdict) {
	i, t, res, cfg, scaler, reads := conn.i, conn.t, conn.res, conn.cfg, conn.scaler, conn.reads
	prefix := fmt.Sprintf("spec.triggers[%d]: ", i)
	if res.unresolved != "" {
		metrics.DryRuns.WithLabelValues(OutcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+"not dry-run: "+res.unresolved)
		verdict.NotDryRun++
		return
	}
	// The host's name is not trusted: the address comes from the API objects behind it.
	servers, err := clusterservers.Lookup(ctx, e.cache, facts.Cluster)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Could not look up the servers of an InnoDBCluster", "trigger", i)
		metrics.DryRuns.WithLabelValues(OutcomeNotDialed).Inc()
		notDryRun(verdict, i, UncheckedServers,
			fmt.Sprintf("innokeda could not look up the services and pods of InnoDBCluster %s: %v", facts.Cluster.Name, err))
		return
	}
	dialAddress, err := e.opts.Hosts.DialAddress(cfg, servers, res.subject())
	if err != nil {
		metrics.DryRuns.WithLabelValues(OutcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+"not dry-run: "+err.Error()+"; innokeda only connects to the MySQL Operator's services and pods of the cluster, "+
			"at the addresses the API server gives for them, so only the static checks were made")
		verdict.NotDryRun++
		return
	}
	text := strings.TrimSpace(t.Metadata["query"])
	obs, err := e.runner.Run(ctx, cfg, dialAddress, text)
	asRoot := false
	user, db := res.originOf("username"), res.originOf("dbName")
	if scaler && mode.DryRunRequest && cfg.User == managed.ScalerUser && notGrantedYet(err) {
		metrics.DryRuns.WithLabelValues(OutcomeNotDialed).Inc()
		verdict.Warnings = append(verdict.Warnings, prefix+fmt.Sprintf("not dry-run: MySQL account %s has no SELECT yet on a table the query reads, and a dry-run request is never stored, so innokeda's controller will not grant it and innokeda does not read as root in its stead; only the static checks were made", managed.ScalerUser))
		verdict.NotDryRun++
		return
	}
	if scaler && mode.rootFallback() && cfg.User == managed.ScalerUser && notGrantedYet(err) {
		if why := rootFallbackRefused(reads); why != "" {
			metrics.DryRuns.WithLabelValues(OutcomeNotDialed).Inc()
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
		if rootCfg, err = e.rootAccount(ctx, facts.Cluster, cfg); err == nil {
			obs, err = e.runner.Run(ctx, rootCfg, dialAddress, text)
			asRoot = true
			user = origin{place: fmt.Sprintf("Secret %s key %s (the cluster's root account)", facts.Cluster.Spec.SecretName, innodbcluster.SecretKeyRootUser)}
			verdict.Warnings = append(verdict.Warnings, fmt.Sprintf("%sMySQL account %s has no SELECT yet on a table the query reads: innokeda's controller grants it once the ScaledObject is stored "+
				"(Event %s on InnoDBCluster %s), KEDA's first polls may fail until then; the dry-run ran as the cluster's root account, over the same tables",
				prefix, managed.ScalerUser, controllerGrantsEvent, facts.Cluster.Name))
		}
	}
	e.judge(prefix, i, so, t, obs, err, asRoot, mysqlWords{user: user.describe(cfg.User), db: db.describe(cfg.DBName), userShown: user.shown, dbShown: db.shown}, verdict)
}

// pollsAsScalerAccount tells whether trigger t polls with the managed scaler account of
// the cluster: the cluster asks for one, and t uses the TriggerAuthentication that maps it.
func (e *Engine) pollsAsScalerAccount(facts autofill.Facts, t kedav1alpha1.ScaleTriggers) (bool, innodbcluster.ScalerSettings) {
	if !e.opts.ScalerAccounts || !managed.UsesManagedAuthentication(t, facts.Cluster.Name) {
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
	return errors.As(err, &serverErr) && (serverErr.Number == mysqlerr.DBAccessDenied || serverErr.Number == mysqlerr.TableAccessDenied || serverErr.Number == mysqlerr.ColumnAccessDenied)
}

// rootAccount returns cfg with the cluster's root account (from spec.secretName).
func (e *Engine) rootAccount(ctx context.Context, cluster *innodbcluster.InnoDBCluster, cfg *mysql.Config) (*mysql.Config, error) {
	secret := &corev1.Secret{}
	found, err := Get(ctx, e.creds.secrets, cluster.Namespace, cluster.Spec.SecretName, secret)
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
func (e *Engine) judge(prefix string, i int, so *kedav1alpha1.ScaledObject, t kedav1alpha1.ScaleTriggers, obs dryrun.Observation, err error, asRoot bool, words mysqlWords, verdict *validation.Verdict) {
	violations := &verdict.Violations
	var serverErr *dryrun.ServerError
	var refused *dryrun.RefusedError
	switch {
	case errors.As(err, &refused):
		// The guard, run again with what only the server could tell (its sql_mode).
		metrics.DryRuns.WithLabelValues(OutcomeRefused).Inc()
		violations.Add(validation.ReasonQueryNotReadOnly, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+refused.Error()))
		return
	case errors.Is(err, dryrun.ErrValueTooLarge):
		metrics.DryRuns.WithLabelValues(OutcomeRejected).Inc()
		metrics.DryRunDuration.Observe(obs.Took.Seconds())
		violations.Add(validation.ReasonQueryResult, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+err.Error()))
		return
	case errors.As(err, &serverErr):
		metrics.DryRuns.WithLabelValues(OutcomeRejected).Inc()
		metrics.DryRunDuration.Observe(obs.Took.Seconds())
		path := validation.MetadataPath(i, "query")
		detail := "MySQL rejected the query: " + words.rejection(serverErr)
		if connectionErrors[serverErr.Number] {
			path = validation.TriggerPath(i).Child("authenticationRef")
			detail = "MySQL refused the connection: " + words.rejection(serverErr) + ": check the user name, password and database the trigger resolves to"
		}
		violations.Add(validation.ReasonServerRejected, validation.Invalid(path, detail))
		return
	case err != nil:
		outcome := OutcomeUnreachable
		switch {
		case errors.Is(err, dryrun.ErrTimedOut):
			outcome = OutcomeTimedOut
		case errors.Is(err, dryrun.ErrBusy):
			outcome = OutcomeBusy
		}
		metrics.DryRuns.WithLabelValues(outcome).Inc()
		notDryRun(verdict, i, outcome, fmt.Sprintf("%s (within --dry-run-timeout=%v)", err, e.opts.DryRunTimeout))
		return
	}
	metrics.DryRunDuration.Observe(obs.Took.Seconds())
	value, err := dryrun.Value(obs)
	if err != nil {
		metrics.DryRuns.WithLabelValues(OutcomeRejected).Inc()
		violations.Add(validation.ReasonQueryResult, validation.Invalid(validation.MetadataPath(i, "query"), "the query "+err.Error()))
		return
	}
	metrics.DryRuns.WithLabelValues(OutcomeSucceeded).Inc()
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
	case mysqlerr.AccessDenied:
		return fmt.Sprintf("%s: the user name %s and its password are not those of an account that may connect from innokeda's pod", e, w.user)
	case mysqlerr.DBAccessDenied:
		return fmt.Sprintf("%s: the user %s may not use the database %s", e, w.user, w.db)
	case mysqlerr.BadDB:
		return fmt.Sprintf("%s: the database %s does not exist", e, w.db)
	case mysqlerr.TableAccessDenied, mysqlerr.ColumnAccessDenied:
		return fmt.Sprintf("%s: the user %s lacks SELECT on a table or column the query reads", e, w.user)
	case mysqlerr.NoSuchTable:
		return fmt.Sprintf("%s: a table the query reads does not exist (a table without a schema is looked for in the database %s)", e, w.db)
	}
	if e.Quoted() {
		return fmt.Sprintf("%s; its text is not shown, as it may hold the user name (%s) or the database (%s)", e, w.user, w.db)
	}
	return fmt.Sprintf("%s; its text is not shown, as it may hold data the query read", e)
}

// connectionErrors are MySQL errors about the account or database, not the query.
var connectionErrors = map[uint16]bool{
	mysqlerr.DBAccessDenied: true, // access denied to the database
	mysqlerr.AccessDenied:   true, // access denied: user or password
	mysqlerr.BadDB:          true, // unknown database
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
