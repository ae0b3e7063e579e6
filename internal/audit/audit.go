package audit

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"strings"
	"sync"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/validation"
)

// Checker checks a ScaledObject as the validating webhook does (check.Engine).
type Checker interface {
	// InScope tells, from the cache and without MySQL, whether Check would check so, and
	// the name of the InnoDBCluster it would check it against.
	InScope(ctx context.Context, so *kedav1alpha1.ScaledObject) (inScope bool, cluster string, err error)
	// CheckStored runs every check within the webhook's time budget and dry-run slots,
	// for a ScaledObject that is already stored.
	CheckStored(ctx context.Context, so *kedav1alpha1.ScaledObject) validation.Verdict
}

// Options tune the audit.
type Options struct {
	// Interval is how often each ScaledObject is audited; it must be positive.
	Interval time.Duration
	// Rate bounds the audits begun per second in all, however many ScaledObjects are due:
	// innokeda's own share of work, Secret reads and dry-run slots.
	Rate float64
	// ClusterRate bounds the audits begun per second of the ScaledObjects of any one
	// InnoDBCluster: each database's share, whatever the size of the fleet.
	ClusterRate float64
	// Workers is how many audits run at once, each holding at most one dry-run slot.
	Workers int
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Interval <= 0:
		return fmt.Errorf("the audit interval must be positive, not %v", o.Interval)
	case o.Rate <= 0:
		return fmt.Errorf("the audit rate must be positive, not %v", o.Rate)
	case o.ClusterRate <= 0:
		return fmt.Errorf("the audit rate per cluster must be positive, not %v", o.ClusterRate)
	case o.Workers < 1:
		return fmt.Errorf("the audit needs at least 1 worker, not %d", o.Workers)
	}
	return nil
}

// Auditor audits the ScaledObjects in scope, one reconcile each per interval.
type Auditor struct {
	cache    client.Reader
	checker  Checker
	recorder events.EventRecorder
	opts     Options
	// limiter spaces audits out: a burst of one, so that no window of time holds more
	// audits than the rate allows (plus one).
	limiter *rate.Limiter
	// clusters spaces the audits of each cluster's ScaledObjects.
	clusters *clusterPacer

	mu sync.Mutex
	// standings holds every ScaledObject in scope that has been audited.
	standings map[types.NamespacedName]standing
}

// New returns an Auditor; recorder emits its Events on ScaledObjects. Its events need no
// budget of their own: there are never more than audits, and audits are rate-bound.
func New(cache client.Reader, checker Checker, recorder events.EventRecorder, o Options) (*Auditor, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Auditor{
		cache: cache, checker: checker, recorder: recorder, opts: o,
		limiter:   rate.NewLimiter(rate.Limit(o.Rate), 1),
		clusters:  newClusterPacer(o.ClusterRate),
		standings: map[types.NamespacedName]standing{},
	}, nil
}

// SetupWithManager adds the audit to mgr; like every controller, it runs on the leader only.
// Its lag is reported from then on (innokeda_audit_lag_seconds).
func (a *Auditor) SetupWithManager(mgr ctrl.Manager) error {
	current.Store(a)
	return ctrl.NewControllerManagedBy(mgr).
		Named("audit").
		Watches(&kedav1alpha1.ScaledObject{}, handler.Funcs{
			CreateFunc: a.scheduleFirst,
			// A spec change is re-audited soon: after a fix, AuditPassed should not wait.
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
					q.AddAfter(requestFor(e.ObjectNew), a.grace())
				}
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				q.Add(requestFor(e.Object))
			},
		}).
		// What the credentials come from: the cluster's annotations and root Secret, and
		// the TriggerAuthentication innokeda keeps. The objects listed at start are not
		// changes: they would audit everything at once.
		Watches(&innodbcluster.InnoDBCluster{}, handler.EnqueueRequestsFromMapFunc(a.scaledObjectsOf(clusterName)),
			builder.WithPredicates(notInitialList, predicate.Funcs{UpdateFunc: credentialsSourceChanged})).
		Watches(&kedav1alpha1.TriggerAuthentication{}, handler.EnqueueRequestsFromMapFunc(a.scaledObjectsOf(managedAuthenticationCluster)),
			builder.WithPredicates(notInitialList, predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: a.opts.Workers}).
		Complete(a)
}

// scheduleFirst spreads the first audits over one interval, at an offset that follows
// from the ScaledObject's UID: a restart does not audit everything at once. A ScaledObject
// created since was just checked by the webhook, and waits at least the grace.
func (a *Auditor) scheduleFirst(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h := fnv.New64a()
	h.Write([]byte(e.Object.GetUID()))
	offset := time.Duration(h.Sum64() % uint64(a.opts.Interval))
	if !e.IsInInitialList {
		offset = max(offset, a.grace())
	}
	q.AddAfter(requestFor(e.Object), offset)
}

// maxGrace is how long a ScaledObject just created or changed waits for its audit at
// most: the controller grants the scaler account SELECT on its tables right after it is
// stored (Watches in controller.SetupWithManager), and an audit before then would report
// the grant not made yet.
const maxGrace = 10 * time.Second

func (a *Auditor) grace() time.Duration { return min(a.opts.Interval, maxGrace) }

func requestFor(obj client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
}

// notInitialList passes every event but the creates of the objects listed at start.
var notInitialList = predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList }}

// credentialsSourceChanged tells whether an InnoDBCluster update changes what its
// ScaledObjects' credentials or scope come from.
func credentialsSourceChanged(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*innodbcluster.InnoDBCluster)
	after, ok2 := e.ObjectNew.(*innodbcluster.InnoDBCluster)
	return ok1 && ok2 && (!maps.Equal(before.Annotations, after.Annotations) || before.Spec.SecretName != after.Spec.SecretName)
}

func clusterName(obj client.Object) (string, bool) { return obj.GetName(), true }

// managedAuthenticationCluster names the cluster whose managed TriggerAuthentication
// (<cluster>-innokeda) obj is.
func managedAuthenticationCluster(obj client.Object) (string, bool) {
	return managed.ClusterOf(obj.GetName())
}

// scaledObjectsOf maps an object to the ScaledObjects in its namespace whose target may
// belong to the cluster it names: the cluster itself, its StatefulSet <cluster>, its
// read replicas' <cluster>-<name> and its router <cluster>-router. A name that only looks
// like one costs an audit that InScope ends at once.
func (a *Auditor) scaledObjectsOf(cluster func(client.Object) (string, bool)) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		name, ok := cluster(obj)
		if !ok {
			return nil
		}
		list := &kedav1alpha1.ScaledObjectList{}
		if err := a.cache.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
			logf.FromContext(ctx).Error(err, "Could not list the ScaledObjects to re-audit", "cluster", name)
			return nil
		}
		var requests []reconcile.Request
		for i := range list.Items {
			so := &list.Items[i]
			_, target, skip := autofill.TargetOf(so)
			if skip == "" && (target == name || strings.HasPrefix(target, name+"-")) {
				requests = append(requests, requestFor(so))
			}
		}
		return requests
	}
}

// Reconcile audits one ScaledObject and schedules its next audit.
func (a *Auditor) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	so := &kedav1alpha1.ScaledObject{}
	if err := a.cache.Get(ctx, req.NamespacedName, so); err != nil {
		if apierrors.IsNotFound(err) {
			a.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if _, _, skip := autofill.TargetOf(so); skip != "" {
		// Its target is no cluster's: only a spec change, which is watched, could alter that.
		a.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	// Scope costs no MySQL round trip and no share of the rate: ScaledObjects of clusters
	// that are not annotated are looked at again each interval, and cost nothing more.
	inScope, cluster, err := a.checker.InScope(ctx, so)
	if err == nil && !inScope {
		a.forget(req.NamespacedName)
		return a.next(), nil
	}
	// The cluster's turn first, without holding a worker; then the global bound, which can
	// only make an audit begin later than its turn.
	if d := a.clusters.wait(types.NamespacedName{Namespace: so.Namespace, Name: cluster}, req.NamespacedName, time.Now()); d > 0 {
		metrics.AuditClusterPaced.Inc()
		return reconcile.Result{RequeueAfter: d, Priority: ptr.To(0)}, nil
	}
	waitStart := time.Now()
	if err := a.limiter.Wait(ctx); err != nil {
		return reconcile.Result{}, nil // stopping
	}
	metrics.AuditRateWait.Observe(time.Since(waitStart).Seconds())
	// The wait may have been long: audit the ScaledObject as it is now.
	if err := a.cache.Get(ctx, req.NamespacedName, so); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err) // deleted: the delete event forgets it
	}
	a.record(ctx, so, a.checker.CheckStored(ctx, so))
	return a.next(), nil
}

// next schedules the next audit, one interval on. The priority queue keeps an item's
// priority across requeues, and the objects listed at start come in low: every periodic
// audit is of the same priority, so none waits behind the others under a backlog.
func (a *Auditor) next() reconcile.Result {
	return reconcile.Result{RequeueAfter: a.opts.Interval, Priority: ptr.To(0)}
}

// record updates so's standing and the metrics from verdict, and emits the Event decide
// asks for.
func (a *Auditor) record(ctx context.Context, so *kedav1alpha1.ScaledObject, verdict validation.Verdict) {
	key := client.ObjectKeyFromObject(so)
	if !verdict.InScope {
		a.forget(key)
		return
	}
	a.mu.Lock()
	now := time.Now()
	outcome, ev, next := decide(a.standings[key], verdict, now, a.opts.Interval)
	next.audited = now
	a.standings[key] = next
	a.updateGauges()
	a.mu.Unlock()

	metrics.AuditRuns.WithLabelValues(outcome).Inc()
	if outcome == OutcomeUnchecked {
		logf.FromContext(ctx).V(1).Info("Audit could not check a ScaledObject", "unchecked", verdict.Unchecked)
	}
	if ev != nil {
		a.recorder.Eventf(so, nil, ev.eventType, ev.reason, action, "%s", ev.note)
	}
}

func (a *Auditor) forget(key types.NamespacedName) {
	a.clusters.forget(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.standings, key)
	a.updateGauges()
}

// lag is how far behind its interval the audit is at now: how much longer ago than one
// interval the ScaledObject audited longest ago was audited, or 0.
func (a *Auditor) lag(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var worst time.Duration
	for _, s := range a.standings {
		if !s.audited.IsZero() {
			worst = max(worst, now.Sub(s.audited)-a.opts.Interval)
		}
	}
	return worst
}

// updateGauges sets the gauges from the standings; a.mu is held.
func (a *Auditor) updateGauges() {
	failing := 0
	for _, s := range a.standings {
		if s.failing {
			failing++
		}
	}
	metrics.AuditFailing.Set(float64(failing))
	metrics.AuditScaledObjects.Set(float64(len(a.standings)))
}
