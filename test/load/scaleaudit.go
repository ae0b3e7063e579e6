package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// auditCoverage is what measureAudit found: its report and its picture.
type auditCoverage struct {
	report string
	plot   *plot.Plot
	missed bool // its goal
}

// auditSample is what innokeda's /metrics said of its audit at one time since it started.
type auditSample struct {
	at                     time.Duration
	audited, lag, paced    float64
	passed, failed, unchkd float64
	heap                   float64 // go_memstats_heap_inuse_bytes
	rss                    uint64
}

func (s auditSample) runs() float64 { return s.passed + s.failed + s.unchkd }

// measureAudit gives every cluster what the operator would (its StatefulSet and instances
// Service) and one ScaledObject, admitted through the API server and innokeda's webhooks;
// then restarts innokeda, so that the audit starts from a full fleet as after any restart
// or leader change, and watches it for o.auditFor at innokeda's default rates.
func measureAudit(ctx context.Context, cp *harness.ControlPlane, c client.Client, o scaleOptions, restart func() (*harness.Process, error)) (auditCoverage, error) {
	defaults := app.DefaultOptions()
	// The operator's objects are owned by their cluster: they need its UID.
	list := &innodbcluster.InnoDBClusterList{}
	if err := c.List(ctx, list); err != nil {
		return auditCoverage{}, err
	}
	clusters := map[client.ObjectKey]*innodbcluster.InnoDBCluster{}
	for i := range list.Items {
		clusters[client.ObjectKeyFromObject(&list.Items[i])] = &list.Items[i]
	}
	// What the dry-run's host policy checks before it dials (dryrun.ClusterServers): the
	// operator's instances Service and StatefulSet, and a running member pod with an IP.
	logf("audit: creating the StatefulSet, the instances Service and a running member pod of %d clusters", o.clusters-1)
	took, err := inParallel(ctx, o.clusters-1, o.workers, func(ctx context.Context, i int) error {
		ns, name := scaleCluster(o, i+1)
		ic, ok := clusters[client.ObjectKey{Namespace: ns, Name: name}]
		if !ok {
			return fmt.Errorf("InnoDBCluster %s/%s is not in the API server", ns, name)
		}
		sts := gen.StatefulSet(ic)
		for _, obj := range []client.Object{sts, gen.InstancesService(ic)} {
			if err := create(ctx, c, obj); err != nil {
				return err
			}
		}
		pod := gen.MemberPod(sts, 0, fmt.Sprintf("10.%d.%d.%d", 64+(i>>16)&63, (i>>8)&255, i&255))
		status := pod.Status
		if err := create(ctx, c, pod); err != nil {
			return err
		}
		pod.Status = status
		return c.Status().Update(ctx, pod)
	})
	if err != nil {
		return auditCoverage{}, err
	}
	logf("audit: created them in %v; admitting one ScaledObject per cluster through the API server", took.Round(time.Second))
	admitted, err := inParallel(ctx, o.clusters, o.workers, func(ctx context.Context, j int) error {
		ns, name := scaleCluster(o, j)
		host := innodbcluster.ServiceHost(innodbcluster.InstancesService(name), ns, "cluster.local")
		// Filled as the mutating webhook would, so that none depends on when innokeda's
		// cache saw its StatefulSet.
		return create(ctx, c, gen.ScaledObject(ns, name+"-scaler", name, gen.WithMySQLTrigger(query, queryValue),
			gen.WithTriggerMetadata(0, "host", host, "port", "3306", "dbName", "testdb", "username", "root"),
			gen.WithAuthenticationRef(0, "", innodbcluster.ManagedTriggerAuthenticationName(name)),
			gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)), gen.WithPacing()))
	})
	if err != nil {
		return auditCoverage{}, err
	}

	logf("audit: restarting innokeda; then watching its audit for %v", o.auditFor)
	t1 := time.Now()
	innokeda, err := restart()
	if err != nil {
		return auditCoverage{}, err
	}
	var samples []auditSample
	for deadline := t1.Add(o.auditFor); ; {
		s, err := sampleAudit(innokeda, time.Since(t1))
		if err != nil {
			return auditCoverage{}, err
		}
		samples = append(samples, s)
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return auditCoverage{}, ctx.Err()
		case <-time.After(min(5*time.Second, left)):
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\naudit at scale: %d ScaledObjects (one per cluster, each with the operator's StatefulSet, instances Service and a running member pod) admitted through the API server and innokeda's webhooks in %v (%d at once)\n",
		o.clusters, admitted.Round(time.Second), o.workers)
	fmt.Fprintf(&b, "innokeda restarted with the audit's defaults: --audit-interval=%v --audit-rate=%v --audit-cluster-rate=%v, %d audit workers (half of --dry-run-max-concurrent=%d); its metrics:\n\n",
		defaults.AuditInterval, defaults.AuditRate, defaults.AuditClusterRate, defaults.MaxConcurrentDryRuns/2, defaults.MaxConcurrentDryRuns)
	fmt.Fprintf(&b, "%8s %9s %8s %8s %10s %7s %13s %8s %13s\n", "after s", "audited", "passed", "failed", "unchecked", "lag s", "cluster-paced", "RSS MiB", "Go heap MiB")
	var allAudited time.Duration
	worstLag := 0.0
	for i, s := range samples {
		if allAudited == 0 && s.audited >= float64(o.clusters) {
			allAudited = s.at
		}
		worstLag = max(worstLag, s.lag)
		if i%6 == 0 || i == len(samples)-1 {
			fmt.Fprintf(&b, "%8.0f %9.0f %8.0f %8.0f %10.0f %7.1f %13.0f %8.1f %13.1f\n", s.at.Seconds(), s.audited, s.passed, s.failed, s.unchkd, s.lag, s.paced, mib(s.rss), s.heap/(1<<20))
		}
	}
	// The audits of the last whole interval watched: in the steady state, each ScaledObject once.
	last := samples[len(samples)-1]
	windowStart := samples[0]
	for _, s := range samples {
		if last.at-s.at >= defaults.AuditInterval {
			windowStart = s
		}
	}
	window := last.at - windowStart.at
	inWindow := last.runs() - windowStart.runs()
	// The first audits are spread over one interval from when innokeda's cache has listed
	// the ScaledObjects; its start-up (the caches' first lists) comes before.
	const startUp = 30 * time.Second
	// A ScaledObject's next audit is due an interval after its last one ended, and begins
	// once the rates let it: a second or so late is the design; the InnokedaAuditBehind
	// alert fires past a minute.
	const lagBound = 60.0
	verdict := "MET"
	if allAudited == 0 || allAudited > defaults.AuditInterval+startUp || worstLag > lagBound {
		verdict = "MISSED"
	}
	when := "never"
	if allAudited > 0 {
		when = fmt.Sprintf("by %.0f s", allAudited.Seconds())
	}
	fmt.Fprintf(&b, "\n  %-12s every in-scope ScaledObject audited within one interval (%v) of the restart, plus %v of start-up, then again every interval (lag under %.0f s): all %d %s (sampled every 5 s); %.0f audits in the last %.0f s (%.1f/s); highest lag %.1f s\n",
		verdict, defaults.AuditInterval, startUp, lagBound, o.clusters, when, inWindow, window.Seconds(), inWindow/window.Seconds(), worstLag)
	fmt.Fprintf(&b, "  (the single bound of 5/s before --audit-cluster-rate covered %.0f per interval)\n", 5*defaults.AuditInterval.Seconds())

	audited := series{name: "audited (innokeda_audit_scaledobjects)", colour: red}
	for _, s := range samples {
		audited.points = append(audited.points, plotter.XY{X: s.at.Seconds(), Y: s.audited})
	}
	even := series{name: "all, spread over one interval", colour: blue, dashed: true, points: plotter.XYs{
		{X: 0, Y: 0}, {X: defaults.AuditInterval.Seconds(), Y: float64(o.clusters)}, {X: last.at.Seconds(), Y: float64(o.clusters)}}}
	p, err := newPlot(fmt.Sprintf("audit of %d ScaledObjects after a restart", o.clusters), "seconds since innokeda started", "ScaledObjects", []series{audited, even})
	if err != nil {
		return auditCoverage{}, err
	}
	return auditCoverage{report: b.String(), plot: p, missed: verdict == "MISSED"}, nil
}

// sampleAudit reads the audit's metrics and the RSS of p.
func sampleAudit(p *harness.Process, at time.Duration) (auditSample, error) {
	lines, err := p.Metrics("")
	if err != nil {
		return auditSample{}, fmt.Errorf("read innokeda's /metrics: %w", err)
	}
	s := auditSample{at: at}
	for _, l := range lines {
		name, value, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			s.heap = v
		case "innokeda_audit_scaledobjects":
			s.audited = v
		case "innokeda_audit_lag_seconds":
			s.lag = v
		case "innokeda_audit_cluster_paced_total":
			s.paced = v
		case `innokeda_audit_runs_total{outcome="passed"}`:
			s.passed = v
		case `innokeda_audit_runs_total{outcome="failed"}`:
			s.failed = v
		case `innokeda_audit_runs_total{outcome="unchecked"}`:
			s.unchkd = v
		}
	}
	m, err := memoryOf(p.Pid())
	if err != nil {
		return auditSample{}, err
	}
	s.rss = m.rss
	return s, nil
}

// inParallel runs do(0) ... do(n-1), workers at once, saying every 10 s how far it is,
// and returns how long that took; it stops at the first error.
func inParallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(ctx, i); err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if first == nil && ctx.Err() != nil {
				first = ctx.Err()
			}
			return time.Since(start), first
		case <-tick.C:
			logf("%d of %d done (%.0f/s)", done.Load(), n, float64(done.Load())/time.Since(start).Seconds())
		}
	}
}

// create creates obj, with its kind and name in the error.
func create(ctx context.Context, c client.Client, obj client.Object) error {
	if err := c.Create(ctx, obj); err != nil {
		return fmt.Errorf("create %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
