// Package controller keeps what innokeda owns for annotated InnoDBClusters: the
// TriggerAuthentication their ScaledObjects reference, and the ScaledObject their
// annotations describe. It writes only objects it owns.
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
)

// maxConcurrentReconciles is how many clusters are reconciled at once.
const maxConcurrentReconciles = 4

// FieldOwner is innokeda's server-side apply field manager.
const FieldOwner = client.FieldOwner("innokeda")

// Event reasons, on the InnoDBCluster.
const (
	ReasonCreated           = "Created"
	ReasonUpdated           = "Updated"
	ReasonDeleted           = "Deleted"
	ReasonNotOwned          = "NotOwnedByInnokeda"
	ReasonInvalidAnnotation = "InvalidAnnotation"
	ReasonRejected          = "ScaledObjectRejected"
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonWaitingForOnline  = "WaitingForOnline"
)

// Options tune the controller.
type Options struct {
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff after a failure, such
	// as the API server refusing the generated ScaledObject. An annotation change is
	// handled at once whatever the backoff.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// Resync re-reads each cluster's Secret this often: innokeda does not watch Secrets
	// (it would have to cache them all), and the TriggerAuthentication maps rootUser only
	// when the Secret has that key.
	Resync time.Duration

	// ScalerAccounts lets innokeda keep a least-privilege MySQL account for clusters
	// annotated innokeda.io/scaler-account: managed (--scaler-accounts).
	ScalerAccounts bool
	// Hosts is the dry-run's host policy: the account is kept only on servers a dry-run
	// may connect to, dialed the same way.
	Hosts dryrun.HostPolicy
	// MySQLTimeout bounds one pass over a cluster's MySQL account: the connections, the
	// statements, the move to the primary.
	MySQLTimeout time.Duration
	// DryRunConnections is how many dry-runs may hold a connection as the account at
	// once, across innokeda's replicas; its connection limit leaves room for them.
	DryRunConnections int
}

// DefaultOptions are the production settings.
func DefaultOptions() Options {
	return Options{RetryBaseDelay: time.Second, RetryMaxDelay: 5 * time.Minute, Resync: 10 * time.Minute, MySQLTimeout: 10 * time.Second}
}

// InnoDBClusterReconciler reconciles annotated InnoDBClusters.
type InnoDBClusterReconciler struct {
	client   client.Client // cached reads and writes
	secrets  client.Reader // uncached: Secrets are never cached
	recorder events.EventRecorder
	opts     Options
	scalers  scalerAccounts
	waiting  lastStates // the state each cluster's WaitingForOnline event last named
}

// lastStates remembers a value per cluster, so that an event is emitted when it changes,
// not on every pass.
type lastStates struct {
	mu     sync.Mutex
	states map[types.NamespacedName]string
}

// changed records state for cluster and tells whether it differs from the last one.
func (l *lastStates) changed(cluster types.NamespacedName, state string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.states == nil {
		l.states = map[types.NamespacedName]string{}
	}
	if previous, ok := l.states[cluster]; ok && previous == state {
		return false
	}
	l.states[cluster] = state
	return true
}

func (l *lastStates) forget(cluster types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.states, cluster)
}

// SetupWithManager adds the controller to mgr. It runs only on the leader.
func SetupWithManager(mgr ctrl.Manager, o Options) error {
	r := &InnoDBClusterReconciler{client: mgr.GetClient(), secrets: mgr.GetAPIReader(), recorder: newThrottledRecorder(mgr.GetEventRecorder("innokeda")), opts: o}
	return ctrl.NewControllerManagedBy(mgr).
		Named("innodbcluster").
		// Status updates by the operator are of no interest: only spec and annotations are.
		// Of the status, only the group's state matters (the zero-YAML ScaledObject waits
		// for ONLINE), and the start of a deletion.
		For(&innodbcluster.InnoDBCluster{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, clusterStateChanged, deletionStarted))).
		// KEDA writes the status of what innokeda owns; only spec changes (someone else
		// editing it) and deletions need innokeda to act.
		Owns(&kedav1alpha1.TriggerAuthentication{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&kedav1alpha1.ScaledObject{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Any ScaledObject that polls with a cluster's managed TriggerAuthentication decides
		// the grants of the cluster's scaler account: a change to its spec, or its deletion
		// (KEDA's finalizer makes that an update first), is reconciled at once.
		Watches(&kedav1alpha1.ScaledObject{}, handler.EnqueueRequestsFromMapFunc(clustersPolledBy),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, deletionStarted))).
		WithOptions(controller.Options{
			// A reconcile may wait on a MySQL server (up to MySQLTimeout): one slow cluster
			// must not hold up the others. The same cluster is never reconciled twice at once.
			MaxConcurrentReconciles: maxConcurrentReconciles,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.RetryBaseDelay, o.RetryMaxDelay),
		}).
		Complete(r)
}

// clustersPolledBy maps a ScaledObject to the clusters whose managed TriggerAuthentication
// (<cluster>-innokeda) its mysql triggers reference. A name that is no cluster's costs one
// cache read in Reconcile.
func clustersPolledBy(_ context.Context, obj client.Object) []reconcile.Request {
	so, ok := obj.(*kedav1alpha1.ScaledObject)
	if !ok {
		return nil
	}
	var requests []reconcile.Request
	for _, t := range so.Spec.Triggers {
		if t.AuthenticationRef == nil {
			continue
		}
		cluster, ok := managed.ClusterOf(t.AuthenticationRef.Name)
		if !ok || !managed.UsesManagedAuthentication(t, cluster) {
			continue
		}
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: so.Namespace, Name: cluster}}
		if !slices.Contains(requests, req) {
			requests = append(requests, req)
		}
	}
	return requests
}

// clusterStateChanged passes an update that brings an InnoDBCluster's status.cluster.status
// to ONLINE.
var clusterStateChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*innodbcluster.InnoDBCluster)
		updated, okNew := e.ObjectNew.(*innodbcluster.InnoDBCluster)
		// Only reaching ONLINE starts anything (the zero-YAML ScaledObject): the flips between
		// ONLINE and ONLINE_PARTIAL of a paced join or leave need no reconcile.
		return okOld && okNew && old.Status.Cluster.Status != innodbcluster.StatusOnline && updated.Status.Cluster.Status == innodbcluster.StatusOnline
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// deletionStarted passes the update that marks an object for deletion.
var deletionStarted = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// Reconcile makes the TriggerAuthentication and the ScaledObject of one cluster what its
// annotations ask for.
func (r *InnoDBClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cluster := &innodbcluster.InnoDBCluster{}
	if err := r.client.Get(ctx, req.NamespacedName, cluster); err != nil {
		// Gone: the API server's garbage collector removes what it owned, and the
		// account goes with the cluster's servers.
		r.scalers.set(req.NamespacedName, false)
		r.waiting.forget(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cluster.DeletionTimestamp.IsZero() {
		r.scalers.set(req.NamespacedName, false)
		// While the operator takes the cluster down, KEDA would scale the StatefulSet back
		// to minReplicaCount: the ScaledObject innokeda made goes at once, not at the end.
		existing := &kedav1alpha1.ScaledObject{}
		found, err := r.get(ctx, cluster, existing)
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.deleteIfOwned(ctx, cluster, found, existing)
	}
	retry, taErr := r.reconcileTriggerAuthentication(ctx, cluster)
	// The ScaledObject does not wait for the MySQL account: the two are independent.
	if err := errors.Join(taErr, r.reconcileScaledObject(ctx, cluster)); err != nil {
		return ctrl.Result{}, err
	}
	if retry > 0 {
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	return ctrl.Result{RequeueAfter: r.opts.Resync}, nil
}

// reconcileTriggerAuthentication keeps the TriggerAuthentication and the account it maps:
// the cluster's root account, or the scaler account innokeda keeps. The switch to the
// scaler account happens once the account and its grants exist; the switch back happens
// before the account is dropped, and the TriggerAuthentication records the account until
// it is dropped. retry, when not zero, is when to try the account again.
func (r *InnoDBClusterReconciler) reconcileTriggerAuthentication(ctx context.Context, cluster *innodbcluster.InnoDBCluster) (retry time.Duration, err error) {
	key := client.ObjectKeyFromObject(cluster)
	existing := &kedav1alpha1.TriggerAuthentication{}
	wanted := managed.WantsTriggerAuthentication(cluster)
	found, proceed, err := r.claim(ctx, cluster, existing, wanted)
	if err != nil {
		return 0, err
	}
	recorded := found && managed.OwnedBy(existing, cluster) && managed.ScalerAccountRecorded(existing)
	if !proceed {
		if !wanted { // deleted, or never there: nothing maps the account any more
			r.scalers.set(key, false)
			if r.opts.ScalerAccounts {
				_, retry, err = r.removeScalerAccount(ctx, cluster, recorded)
			}
		}
		return retry, err
	}
	mapsScaler := found && managed.MapsScalerAccount(existing, cluster)
	wish, settings := r.scalerWishOf(cluster)
	var want *kedav1alpha1.TriggerAuthentication
	var accountErr error
	switch wish {
	case wishUnchanged:
		if mapsScaler {
			want = managed.ScalerTriggerAuthentication(cluster)
		}
	case wishManaged:
		var state accountState
		state, retry, accountErr = r.ensureScalerAccount(ctx, cluster, settings, mapsScaler)
		switch {
		case state == accountReady, state == accountUnknown && mapsScaler:
			// An account that worked stays mapped while innokeda cannot reach the server.
			want = managed.ScalerTriggerAuthentication(cluster)
		case accountErr != nil:
			return 0, accountErr
		}
	}
	removing := want == nil && recorded
	if want == nil {
		rootUser, err := r.secretHasRootUser(ctx, cluster)
		if err != nil {
			return 0, err
		}
		want = managed.TriggerAuthentication(cluster, rootUser)
		if removing {
			managed.RecordScalerAccount(want) // until the account is dropped
		}
	}
	if err := r.write(ctx, cluster, existing, found, want); err != nil {
		return 0, err
	}
	r.scalers.set(key, managed.MapsScalerAccount(want, cluster))
	if wish != wishRoot || !r.opts.ScalerAccounts {
		return retry, accountErr
	}
	done, retry, err := r.removeScalerAccount(ctx, cluster, recorded)
	if err != nil || !done || !removing {
		return retry, err
	}
	dropped := want.DeepCopy()
	delete(dropped.Annotations, annotations.ScalerAccountExists)
	return 0, r.write(ctx, cluster, want, true, dropped)
}

// write applies want unless existing (when found) already is it.
func (r *InnoDBClusterReconciler) write(ctx context.Context, cluster *innodbcluster.InnoDBCluster, existing *kedav1alpha1.TriggerAuthentication, found bool, want *kedav1alpha1.TriggerAuthentication) error {
	if found && managed.TriggerAuthenticationUpToDate(existing, want) {
		return nil
	}
	if err := r.apply(ctx, want); err != nil {
		return fmt.Errorf("apply TriggerAuthentication %s: %w", want.Name, err)
	}
	r.written(ctx, cluster, want, found)
	return nil
}

func (r *InnoDBClusterReconciler) reconcileScaledObject(ctx context.Context, cluster *innodbcluster.InnoDBCluster) error {
	existing := &kedav1alpha1.ScaledObject{}
	found, proceed, err := r.claim(ctx, cluster, existing, managed.WantsScaledObject(cluster))
	if err != nil || !proceed {
		return err
	}
	if !found && cluster.Status.Cluster.Status != innodbcluster.StatusOnline {
		// The operator sizes routers and read replicas only once the group first has
		// spec.instances members: a ScaledObject active before then can leave them at 0.
		// Once made, the ScaledObject stays whatever the state.
		state := cluster.Status.Cluster.Status
		if state == "" {
			state = "not reported yet"
		}
		if r.waiting.changed(client.ObjectKeyFromObject(cluster), state) {
			r.recorder.Eventf(cluster, nil, corev1.EventTypeNormal, ReasonWaitingForOnline, "Create",
				"ScaledObject %s is created once the cluster is ONLINE (status.cluster.status: %s)", managed.Name(cluster.Name), state)
		}
		return nil
	}
	want, problems := managed.ScaledObject(cluster)
	if len(problems) > 0 {
		// Nothing the API server could accept: say so, and wait for the annotations to change.
		r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonInvalidAnnotation, "Validate",
			"ScaledObject %s not written: %s", managed.Name(cluster.Name), strings.Join(problems, "; "))
		return nil
	}
	if found && managed.ScaledObjectUpToDate(existing, want) {
		return nil
	}
	if err := r.apply(ctx, want); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
			// Refused by an admission webhook (innokeda's dry-run, KEDA's) or by validation:
			// tell the cluster's owner why, and retry with backoff.
			r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonRejected, "Apply",
				"ScaledObject %s was refused: %s", want.Name, err.Error())
		}
		return fmt.Errorf("apply ScaledObject %s: %w", want.Name, err)
	}
	r.written(ctx, cluster, want, found)
	return nil
}

// apply writes obj with server-side apply, as innokeda's field manager: only the fields
// innokeda sets are its own, and the mutating webhook's fills stay.
func (r *InnoDBClusterReconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	delete(u, "status")
	unstructuredMeta, _ := u["metadata"].(map[string]any)
	delete(unstructuredMeta, "creationTimestamp")
	// KEDA ships no apply configurations: apply the typed object's fields as unstructured.
	return r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), FieldOwner, client.ForceOwnership)
}

// claim reads the object of existing's kind that innokeda keeps for cluster. When it is
// not wanted, it is deleted if innokeda owns it; when someone else owns it, a Warning
// event says so. proceed is true only when innokeda may write the wanted object.
func (r *InnoDBClusterReconciler) claim(ctx context.Context, cluster *innodbcluster.InnoDBCluster, existing client.Object, wanted bool) (found, proceed bool, err error) {
	if found, err = r.get(ctx, cluster, existing); err != nil {
		return false, false, err
	}
	if !wanted {
		return found, false, r.deleteIfOwned(ctx, cluster, found, existing)
	}
	if found && !managed.OwnedBy(existing, cluster) {
		r.notOwned(cluster, existing)
		return found, false, nil
	}
	return found, true, nil
}

func (r *InnoDBClusterReconciler) deleteIfOwned(ctx context.Context, cluster *innodbcluster.InnoDBCluster, found bool, obj client.Object) error {
	if !found || !managed.OwnedBy(obj, cluster) || obj.GetDeletionTimestamp() != nil {
		return nil // nothing of innokeda's, or already going (a finalizer holds it)
	}
	if err := r.client.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s: %w", obj.GetName(), err)
	}
	r.recorder.Eventf(cluster, obj, corev1.EventTypeNormal, ReasonDeleted, "Delete", "Deleted %s %s", kindOf(obj), obj.GetName())
	return nil
}

func (r *InnoDBClusterReconciler) written(ctx context.Context, cluster *innodbcluster.InnoDBCluster, obj client.Object, existed bool) {
	reason, verb := ReasonCreated, "Created"
	if existed {
		reason, verb = ReasonUpdated, "Updated"
	}
	r.recorder.Eventf(cluster, obj, corev1.EventTypeNormal, reason, verb, "%s %s %s", verb, kindOf(obj), obj.GetName())
	logf.FromContext(ctx).V(1).Info(verb, "kind", kindOf(obj), "name", obj.GetName())
}

func (r *InnoDBClusterReconciler) notOwned(cluster *innodbcluster.InnoDBCluster, obj client.Object) {
	r.recorder.Eventf(cluster, obj, corev1.EventTypeWarning, ReasonNotOwned, "Reconcile",
		"%s %s exists and is not managed by innokeda: it is left as it is; delete it, or rename it, for innokeda to manage it",
		kindOf(obj), obj.GetName())
}

// get reads the object of obj's kind that innokeda keeps for cluster.
func (r *InnoDBClusterReconciler) get(ctx context.Context, cluster *innodbcluster.InnoDBCluster, obj client.Object) (bool, error) {
	err := r.client.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: managed.Name(cluster.Name)}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// secretHasRootUser reads the cluster's Secret only to learn its keys; no value is kept.
func (r *InnoDBClusterReconciler) secretHasRootUser(ctx context.Context, cluster *innodbcluster.InnoDBCluster) (bool, error) {
	secret := &corev1.Secret{}
	err := r.secrets.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: cluster.Spec.SecretName}, secret)
	switch {
	case apierrors.IsNotFound(err):
		r.recorder.Eventf(cluster, nil, corev1.EventTypeWarning, ReasonSecretNotFound, "Reconcile",
			"Secret %s (spec.secretName) not found: the TriggerAuthentication refers to it anyway, for when it appears", cluster.Spec.SecretName)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get Secret %s: %w", cluster.Spec.SecretName, err)
	}
	_, ok := secret.Data[innodbcluster.SecretKeyRootUser]
	return ok, nil
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *kedav1alpha1.TriggerAuthentication:
		return "TriggerAuthentication"
	case *kedav1alpha1.ScaledObject:
		return "ScaledObject"
	case *corev1.Secret:
		return "Secret"
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}
