package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/clusterservers"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/scaleraccount"
)

// Event reasons of the managed scaler account, on the InnoDBCluster. No event holds a
// password: messages name Secrets and keys, and MySQL's errors are given by number.
const (
	ReasonScalerAccountReady      = "ScalerAccountReady"
	ReasonScalerGrantsUpdated     = "ScalerGrantsUpdated"
	ReasonScalerAccountFailed     = "ScalerAccountFailed"
	ReasonScalerAccountRemoved    = "ScalerAccountRemoved"
	ReasonScalerTriggerNotGranted = "ScalerTriggerNotGranted"
	// ReasonKEDAStillPollsAsRoot: KEDA keeps a scaler, its DSN and its connections, per
	// ScaledObject until the ScaledObject's spec changes or a poll fails (kedacore/keda
	// pkg/scaling: scale_handler.go performGetScalersCache, cache/scalers_cache.go
	// refreshScaler); a TriggerAuthentication change does neither.
	ReasonKEDAStillPollsAsRoot = "KEDAStillPollsAsRoot"
)

// accountState is what ensureScalerAccount found.
type accountState int

const (
	accountUnknown  accountState = iota // innokeda could not tell (server unreachable, read-only): change nothing
	accountReady                        // the account exists, with its password and grants
	accountUnusable                     // the scaler Secret is not innokeda's: the account cannot be used
)

// readOnlyRetry is how long innokeda waits before trying again on a server that is not
// the primary and did not say which is (a group electing one, a cluster starting): the
// failure is not innokeda's to fix, so the exponential backoff's fast first retries
// would only load the server.
const readOnlyRetry = time.Minute

// errNotServing: the cluster has no MySQL server to connect to yet (the operator has not
// created its Service or StatefulSet, or no pod runs): a cluster starting, not a failure
// to report. innokeda looks again after notServingRetry.
var errNotServing = errors.New("the cluster has no running MySQL server yet")

const notServingRetry = 10 * time.Second

// serving tells whether the operator's objects for the cluster exist and a pod runs with
// an IP; whether they are the operator's is the host policy's to decide.
func serving(s dryrun.ClusterServers) bool {
	if s.InstancesService == nil || s.StatefulSet == nil {
		return false
	}
	for i := range s.Pods {
		if s.Pods[i].Status.PodIP != "" {
			return true
		}
	}
	return false
}

// Steps of ScalerAccountFailed.
var scalerAccountSteps = []string{"Validate", "Grant", "FindPrimary", "Connect"}

func init() {
	for _, step := range scalerAccountSteps {
		metrics.ScalerAccountFailures.WithLabelValues(step)
	}
}

// scalerAccountFailed sends the Warning Event ScalerAccountFailed for step, and counts it.
func (r *InnoDBClusterReconciler) scalerAccountFailed(cluster *innodbcluster.InnoDBCluster, step, format string, args ...any) {
	metrics.ScalerAccountFailures.WithLabelValues(step).Inc()
	r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonScalerAccountFailed, step, format, args...)
}

// scalerAccounts remembers which clusters' TriggerAuthentications map the scaler account,
// for the gauge; only the leader reconciles, so only its gauge counts.
type scalerAccounts struct {
	mu     sync.Mutex
	mapped map[types.NamespacedName]bool
}

func (s *scalerAccounts) set(cluster types.NamespacedName, mapped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mapped == nil {
		s.mapped = map[types.NamespacedName]bool{}
	}
	if mapped {
		s.mapped[cluster] = true
	} else {
		delete(s.mapped, cluster)
	}
	metrics.ScalerAccounts.Set(float64(len(s.mapped)))
}

// scalerWish is what a cluster's annotations ask of the account KEDA polls with.
type scalerWish int

const (
	wishRoot      scalerWish = iota // the cluster's root account: the default
	wishManaged                     // the least-privilege account innokeda keeps
	wishUnchanged                   // an annotation innokeda cannot act on: change nothing
)

// scalerWishOf reads the scaler annotations, and says in an Event why innokeda will not
// act on them when it will not.
func (r *InnoDBClusterReconciler) scalerWishOf(cluster *innodbcluster.InnoDBCluster) (scalerWish, innodbcluster.ScalerSettings) {
	settings, problems := innodbcluster.ScalerSettingsFromAnnotations(cluster.Annotations)
	switch {
	case len(problems) > 0:
		r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonInvalidAnnotation, "Validate",
			"%s; the MySQL account KEDA polls with is left as it is", strings.Join(problems, "; "))
		return wishUnchanged, settings
	case settings.Account != innodbcluster.ScalerAccountManaged:
		return wishRoot, settings
	case !r.opts.ScalerAccounts:
		r.scalerAccountFailed(cluster, "Validate",
			"annotation %s=%s: this innokeda runs with --scaler-accounts=false (Helm value scalerAccounts.enabled), so KEDA keeps polling as root",
			annotations.ScalerAccount, settings.Account)
		return wishRoot, settings
	}
	return wishManaged, settings
}

// ensureScalerAccount makes the scaler account of cluster what its ScaledObjects need,
// on the cluster's primary. The account is ready when it exists with its password (a
// missing table does not stop that: its triggers fail with root as well). retry, when
// not zero, is when to try again without counting a failure. mapped tells whether the
// TriggerAuthentication maps the account already.
func (r *InnoDBClusterReconciler) ensureScalerAccount(ctx context.Context, cluster *innodbcluster.InnoDBCluster, settings innodbcluster.ScalerSettings, mapped bool) (state accountState, retry time.Duration, err error) {
	secret, fresh, err := r.scalerSecret(ctx, cluster)
	if err != nil || secret == nil {
		return accountUnusable, 0, err
	}
	scaledObjects := &kedav1alpha1.ScaledObjectList{}
	if err := r.client.List(ctx, scaledObjects, client.InNamespace(cluster.Namespace)); err != nil {
		return accountUnknown, 0, fmt.Errorf("list ScaledObjects: %w", err)
	}
	grants := managed.ScalerGrantsFor(cluster, settings, scaledObjects.Items)
	if len(grants.Problems) > 0 {
		// One event: the events API would fold several into the first one's text.
		r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonScalerTriggerNotGranted, "Grant",
			"%d trigger(s) cannot work with MySQL account %s, and nothing is granted for them: %s", len(grants.Problems), managed.ScalerUser, strings.Join(grants.Problems, "; "))
	}
	password, _ := managed.ScalerPassword(secret)
	desired := scaleraccount.Desired{
		User:               managed.ScalerUser,
		Host:               managed.ScalerHost,
		Password:           password,
		MaxUserConnections: scaleraccount.ConnectionLimit(grants.Triggers, r.opts.DryRunConnections),
		Privileges:         settings.Privileges,
		// The password set on the server is always one generated here and stored first:
		// never one someone else put into the Secret.
		NewPassword: func() (string, error) {
			if fresh {
				return password, nil
			}
			return r.storeNewScalerPassword(ctx, cluster, secret)
		},
	}
	for _, t := range grants.Tables {
		desired.Tables = append(desired.Tables, scaleraccount.Table(t))
	}
	var result scaleraccount.Result
	err = r.onPrimary(ctx, cluster, func(ctx context.Context, conn scaleraccount.Admin) error {
		var ensureErr error
		result, ensureErr = scaleraccount.Ensure(ctx, conn, desired)
		return ensureErr
	})
	var missing *scaleraccount.MissingTablesError
	switch {
	case errors.As(err, &missing):
		r.scalerAccountFailed(cluster, "Grant",
			"%v: the triggers that read it fail until it exists; innokeda grants it at its next pass", err)
	case errors.Is(err, errNotServing):
		return accountUnknown, notServingRetry, nil
	case err != nil:
		return accountUnknown, r.scalerFailed(ctx, cluster, "keep", err), r.retryable(err)
	}
	r.scalerChanged(cluster, result)
	if !mapped && len(grants.ScaledObjects) > 0 {
		r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonKEDAStillPollsAsRoot, "Switch",
			"TriggerAuthentication %s now maps MySQL account %s, but KEDA keeps polling ScaledObject(s) %s with the connection it has until their spec changes or KEDA restarts "+
				"(e.g. kubectl rollout restart deployment keda-operator -n keda)", managed.Name(cluster.Name), managed.ScalerUser, strings.Join(grants.ScaledObjects, ", "))
	}
	return accountReady, 0, nil
}

// removeScalerAccount drops the scaler account of cluster and deletes its Secret, once
// the TriggerAuthentication no longer maps it: REVOKE, DROP USER, then the Secret, so
// that KEDA never holds a credential that does not work. recorded tells whether the
// TriggerAuthentication recorded the account; without that record or a Secret of
// innokeda's, there is nothing to drop and MySQL is not contacted. done is true when
// nothing is left.
func (r *InnoDBClusterReconciler) removeScalerAccount(ctx context.Context, cluster *innodbcluster.InnoDBCluster, recorded bool) (done bool, retry time.Duration, err error) {
	secret := &corev1.Secret{}
	found, err := r.getSecret(ctx, cluster.Namespace, managed.ScalerSecretName(cluster.Name), secret)
	if err != nil {
		return false, 0, err
	}
	owned := found && managed.OwnsScalerSecret(secret, cluster)
	if !recorded && !owned {
		return true, 0, nil
	}
	err = r.onPrimary(ctx, cluster, func(ctx context.Context, conn scaleraccount.Admin) error {
		return scaleraccount.Remove(ctx, conn, managed.ScalerUser, managed.ScalerHost)
	})
	switch {
	case errors.Is(err, errNotServing):
		return false, notServingRetry, nil
	case err != nil:
		return false, r.scalerFailed(ctx, cluster, "remove", err), r.retryable(err)
	}
	what := ""
	if owned {
		if err := r.client.Delete(ctx, secret, client.Preconditions{UID: ptr.To(secret.UID)}); client.IgnoreNotFound(err) != nil {
			return false, 0, fmt.Errorf("delete Secret %s: %w", secret.Name, err)
		}
		what = " and deleted Secret " + secret.Name
	}
	r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonScalerAccountRemoved, "Remove",
		"Dropped MySQL account %s@'%s'%s: KEDA polls with the cluster's root account again", managed.ScalerUser, managed.ScalerHost, what)
	return true, 0, nil
}

// scalerSecret returns the Secret innokeda keeps for the scaler account's password,
// creating it, or rewriting one that lost its keys, with a new random password (fresh is
// then true). It returns nil (and an Event says why) when a Secret of that name is
// someone else's.
func (r *InnoDBClusterReconciler) scalerSecret(ctx context.Context, cluster *innodbcluster.InnoDBCluster) (secret *corev1.Secret, fresh bool, err error) {
	name := managed.ScalerSecretName(cluster.Name)
	existing := &corev1.Secret{}
	found, err := r.getSecret(ctx, cluster.Namespace, name, existing)
	if err != nil {
		return nil, false, err
	}
	if found && !managed.OwnsScalerSecret(existing, cluster) {
		r.notOwned(cluster, existing)
		return nil, false, nil
	}
	if found {
		if _, ok := managed.ScalerPassword(existing); ok {
			return existing, false, nil
		}
	}
	var old *corev1.Secret
	if found {
		old = existing
	}
	if _, err := r.storeNewScalerPassword(ctx, cluster, old); err != nil {
		return nil, false, err
	}
	stored := &corev1.Secret{}
	if _, err := r.getSecret(ctx, cluster.Namespace, name, stored); err != nil {
		return nil, false, err
	}
	return stored, true, nil
}

// storeNewScalerPassword generates a password and writes it to the scaler Secret: an
// update of old (failing, rather than overwriting, if it changed since it was read), or
// a new Secret when old is nil. The password is returned only once it is stored.
func (r *InnoDBClusterReconciler) storeNewScalerPassword(ctx context.Context, cluster *innodbcluster.InnoDBCluster, old *corev1.Secret) (string, error) {
	password, err := scaleraccount.GeneratePassword()
	if err != nil {
		return "", err
	}
	want := managed.ScalerSecret(cluster, password)
	if old != nil {
		want.ResourceVersion = old.ResourceVersion
		err = r.client.Update(ctx, want)
	} else {
		err = r.client.Create(ctx, want)
	}
	if err != nil {
		return "", fmt.Errorf("write Secret %s: %w", want.Name, err)
	}
	r.written(ctx, cluster, want, old != nil)
	return password, nil
}

// onPrimary runs do on the cluster's primary, connected as its root account through the
// dry-run's host policy: innokeda keeps the account only on a server a dry-run may reach,
// and moves to the primary only when a member's own name designates it. No error holds a
// password: the session's errors are MySQL's error numbers and innokeda's own words, and
// a statement is shown with its password's place marked (scaleraccount.Statement).
func (r *InnoDBClusterReconciler) onPrimary(ctx context.Context, cluster *innodbcluster.InnoDBCluster, do func(context.Context, scaleraccount.Admin) error) error {
	root, err := r.rootAccount(ctx, cluster)
	if err != nil {
		return err
	}
	servers, err := clusterservers.Lookup(ctx, r.client, cluster)
	if err != nil {
		return err
	}
	if !serving(servers) {
		return errNotServing
	}
	// innokeda built the address, or the group named it: reasons may quote it.
	dial := func(hostPort string) (string, error) {
		cfg := root.Clone()
		cfg.Addr = hostPort
		return r.opts.Hosts.DialAddress(cfg, servers, dryrun.Shown)
	}
	dialPrimary := func(hostPort string) (string, error) {
		if err := r.opts.Hosts.NamesMember(hostPort, cluster.Name, cluster.Namespace, dryrun.Shown); err != nil {
			return "", fmt.Errorf("the group names its primary %s: %w", hostPort, err)
		}
		return dial(hostPort)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.MySQLTimeout)
	defer cancel()
	return scaleraccount.OnPrimary(ctx, root, dial, dialPrimary, do)
}

// rootAccount is the cluster's root account, from spec.secretName, addressed to its
// instances service (any member: OnPrimary moves to the primary). TLS is used when the
// server offers it, so that the password never crosses the network in a form a passive
// listener could take (without TLS, caching_sha2_password encrypts it with a key the
// server sends).
func (r *InnoDBClusterReconciler) rootAccount(ctx context.Context, cluster *innodbcluster.InnoDBCluster) (*mysql.Config, error) {
	secret := &corev1.Secret{}
	found, err := r.getSecret(ctx, cluster.Namespace, cluster.Spec.SecretName, secret)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("the cluster's Secret %s (spec.secretName) does not exist", cluster.Spec.SecretName)
	}
	user, password, ok := innodbcluster.RootAccount(secret.Data)
	if !ok {
		return nil, fmt.Errorf("the cluster's Secret %s has no key %s", cluster.Spec.SecretName, innodbcluster.SecretKeyRootPassword)
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(innodbcluster.ServiceHost(innodbcluster.InstancesService(cluster.Name), cluster.Namespace, r.opts.Hosts.ClusterDomain), "3306")
	cfg.User, cfg.Passwd = user, password
	cfg.TLSConfig = "preferred"
	return cfg, nil
}

// getSecret reads a Secret uncached: innokeda caches no Secret.
func (r *InnoDBClusterReconciler) getSecret(ctx context.Context, namespace, name string, secret *corev1.Secret) (bool, error) {
	err := r.secrets.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get Secret %s: %w", name, err)
	}
	return true, nil
}

// scalerChanged says in Events what Ensure changed.
func (r *InnoDBClusterReconciler) scalerChanged(cluster *innodbcluster.InnoDBCluster, result scaleraccount.Result) {
	account := fmt.Sprintf("%s@'%s'", managed.ScalerUser, managed.ScalerHost)
	switch {
	case result.Created:
		r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonScalerAccountReady, "Create",
			"Created MySQL account %s; its password is in Secret %s", account, managed.ScalerSecretName(cluster.Name))
	case result.PasswordChanged:
		r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonScalerAccountReady, "Update",
			"Reset the password of MySQL account %s to the one in Secret %s", account, managed.ScalerSecretName(cluster.Name))
	}
	// One event per verb: the events API folds events that differ only in their note
	// into a series of the first, so a revoke after a grant would not be seen.
	if len(result.Revoked) > 0 {
		r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonScalerGrantsUpdated, "Revoke",
			"MySQL account %s: revoked %s", account, strings.Join(result.Revoked, ", "))
	}
	if len(result.Granted) > 0 {
		r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonScalerGrantsUpdated, "Grant",
			"MySQL account %s: granted %s", account, strings.Join(result.Granted, ", "))
	}
}

// scalerFailed says in an Event why the account could not be kept or removed, and
// returns when to try again for a server that is not the primary.
func (r *InnoDBClusterReconciler) scalerFailed(ctx context.Context, cluster *innodbcluster.InnoDBCluster, verb string, err error) time.Duration {
	logf.FromContext(ctx).Info("Could not "+verb+" the scaler account", "error", err.Error())
	msg := fmt.Sprintf("could not %s MySQL account %s@'%s': %v", verb, managed.ScalerUser, managed.ScalerHost, err)
	if errors.Is(err, scaleraccount.ErrReadOnly) {
		r.scalerAccountFailed(cluster, "FindPrimary",
			"%s; innokeda tries again in %v", msg, readOnlyRetry)
		return readOnlyRetry
	}
	r.scalerAccountFailed(cluster, "Connect", "%s", msg)
	return 0
}

// retryable returns err unless it is one readOnlyRetry handles (no backoff then).
func (r *InnoDBClusterReconciler) retryable(err error) error {
	if errors.Is(err, scaleraccount.ErrReadOnly) {
		return nil
	}
	return err
}
