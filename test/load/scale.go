package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// scaleOptions size the -scale measurement.
type scaleOptions struct {
	clusters, statefulSets, secrets, namespaces int
	qps                                         float64
	burst, workers                              int
	settle, quiet, createTimeout                time.Duration
	limitMiB                                    float64
	// audit measures the continuous audit's coverage at innokeda's defaults over auditFor.
	audit    bool
	auditFor time.Duration
}

func (o *scaleOptions) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.clusters, "scale-clusters", 5000, "-scale: annotated InnoDBClusters, each with its root Secret.")
	fs.IntVar(&o.statefulSets, "scale-statefulsets", 20000, "-scale: StatefulSets without the mysql.oracle.com/cluster label (not innokeda's).")
	fs.IntVar(&o.secrets, "scale-secrets", 50000, "-scale: Secrets in total, the clusters' included.")
	fs.IntVar(&o.namespaces, "scale-namespaces", 50, "-scale: namespaces the objects are spread over.")
	fs.Float64Var(&o.qps, "scale-qps", 2000, "-scale: the creating client's QPS (rest.Config QPS).")
	fs.IntVar(&o.burst, "scale-burst", 2000, "-scale: the creating client's burst (rest.Config Burst).")
	fs.IntVar(&o.workers, "scale-workers", 32, "-scale: objects created at once.")
	fs.DurationVar(&o.settle, "scale-settle", 5*time.Minute, "-scale: at most this long, after innokeda serves, for its controller to make every cluster's TriggerAuthentication (memory sampled every second).")
	fs.DurationVar(&o.quiet, "scale-quiet", 10*time.Second, "-scale: how long innokeda runs after its controller is done, before its memory is read.")
	fs.DurationVar(&o.createTimeout, "scale-create-timeout", 10*time.Minute, "-scale: give up when creating the objects takes longer.")
	fs.Float64Var(&o.limitMiB, "scale-limit-mib", 150, "-scale: the goal for innokeda's peak RSS, MiB.")
	fs.BoolVar(&o.audit, "scale-audit", true, "-scale: then give every cluster its StatefulSet, Service and a ScaledObject, restart innokeda and measure its audit's coverage.")
	fs.DurationVar(&o.auditFor, "scale-audit-for", 5*time.Minute+30*time.Second, "-scale-audit: how long the audit is watched after the restart (innokeda's --audit-interval is 5m by default).")
}

// runScale fills an API server, then starts innokeda against it and reports how long it
// takes to be ready and to serve from its cache, and the memory it holds; then the same
// for the KEDA peer and the floor, side by side.
func runScale(ctx context.Context, prebuilt string, o scaleOptions, plots, plotFormat string) (missed bool, err error) {
	if o.clusters < 1 || o.secrets < o.clusters || o.statefulSets < 0 || o.namespaces < 1 || o.workers < 1 || o.qps <= 0 || o.burst < 1 || o.settle < 0 || o.auditFor < 0 {
		return false, errors.New("-scale-clusters must be at least 1, -scale-secrets at least -scale-clusters, the others positive")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*o.createTimeout+o.settle+o.auditFor+15*time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "innokeda-scale-")
	if err != nil {
		return false, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	logf("building innokeda, the floor and the KEDA peer")
	bins, err := buildBinaries(dir, prebuilt)
	if err != nil {
		return false, err
	}
	logf("starting envtest (kube-apiserver, etcd)")
	cp, err := harness.StartControlPlane()
	if err != nil {
		return false, err
	}
	defer func() { _ = cp.Stop() }()
	// The clusters' MySQL: every cluster's instances Service is mapped to it, for the
	// dry-runs of the audit phase.
	db, err := harness.StartMariaDB()
	if err != nil {
		return false, err
	}
	defer db.Stop()

	created, took, err := populate(ctx, cp, o, db.RootPassword)
	if err != nil {
		return false, err
	}

	logf("starting innokeda")
	innokedaArgs := hostAliases(o, db.Addr)
	t0 := time.Now()
	innokeda, err := harness.StartProcess(cp, bins.innokeda, harness.Admin, cp.Env.WebhookInstallOptions.LocalServingPort, innokedaArgs...)
	if err != nil {
		return false, err
	}
	defer func() { innokeda.Stop() }()
	ready := time.Since(t0)
	serving, err := firstFill(ctx, cp, cp.Env.WebhookInstallOptions.LocalServingPort, t0)
	if err != nil {
		return false, fmt.Errorf("%w; log:\n%s", err, innokeda.LogTail())
	}

	// The peer and the floor, beside it: KEDA's webhook caches ScaledObjects and HPAs
	// (there are none), the floor no API object.
	peers := []struct {
		name, binary string
		proc         *harness.Process
		ready        time.Duration
	}{{name: "keda", binary: bins.keda}, {name: "floor", binary: bins.floor}}
	for i := range peers {
		port, err := harness.FreePort()
		if err != nil {
			return false, err
		}
		t := time.Now()
		if peers[i].proc, err = harness.StartProcess(cp, peers[i].binary, harness.Admin, port); err != nil {
			return false, fmt.Errorf("start %s: %w", peers[i].name, err)
		}
		defer peers[i].proc.Stop()
		peers[i].ready = time.Since(t)
	}

	// Settle: until innokeda's controller has made the TriggerAuthentication of every
	// cluster, and o.quiet more; at most o.settle. Memory is sampled every second.
	c, _, err := cp.Client()
	if err != nil {
		return false, err
	}
	logf("waiting for innokeda's controller to make %d TriggerAuthentications, then %v more (at most %v in all)", o.clusters, o.quiet, o.settle)
	pids := []int{innokeda.Pid(), peers[0].proc.Pid(), peers[1].proc.Pid()}
	highest := make([]uint64, len(pids))
	var timeline []memorySample
	deadline := time.Now().Add(o.settle)
	var made int
	var allMade time.Duration
	for n := 0; ; n++ {
		sample := memorySample{at: time.Since(t0)}
		for i, pid := range pids {
			m, err := memoryOf(pid)
			if err != nil {
				return false, fmt.Errorf("read the memory of process %d: %w", pid, err)
			}
			highest[i] = max(highest[i], m.rss)
			sample.rss = append(sample.rss, m.rss)
		}
		timeline = append(timeline, sample)
		if allMade == 0 && n%5 == 0 {
			if made, err = countTriggerAuthentications(ctx, c); err != nil {
				return false, err
			}
			if made >= o.clusters {
				allMade = time.Since(t0)
				deadline = minTime(deadline, time.Now().Add(o.quiet))
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(min(time.Second, left)):
		}
	}
	if allMade == 0 {
		if made, err = countTriggerAuthentications(ctx, c); err != nil {
			return false, err
		}
	}
	readAt := time.Since(t0)
	mems := make([]memory, len(pids))
	cpus := make([]time.Duration, len(pids))
	for i, pid := range pids {
		if mems[i], err = memoryOf(pid); err != nil {
			return false, err
		}
		if cpus[i], err = cpuTime(pid); err != nil {
			return false, err
		}
	}

	heaps := make([]string, len(pids))
	for i, p := range []*harness.Process{innokeda, peers[0].proc, peers[1].proc} {
		heaps[i] = goHeap(p)
	}

	fmt.Printf("innokeda scale: %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("machine: %s, %d cores; %s\n", cpuModel(), runtime.NumCPU(), revision())
	fmt.Printf("API server holds: %d annotated InnoDBClusters (one with the operator's StatefulSet, Services and 3 pods), %d Secrets (the clusters' included), %d StatefulSets without the %s label, in %d namespaces\n",
		o.clusters, o.secrets, o.statefulSets, "mysql.oracle.com/cluster", o.namespaces)
	fmt.Printf("created %d objects in %v (%.0f/s; client QPS %.0f, burst %d, %d at once)\n\n", created, took.Round(time.Second), float64(created)/took.Seconds(), o.qps, o.burst, o.workers)
	fmt.Printf("%-9s %14s %22s %12s %16s %10s %18s %13s\n", "process", "/readyz 200 s", "first in-scope fill s", "RSS MiB", "highest RSS MiB", "peak MiB", "Go heap in use MiB", "CPU s (total)")
	fmt.Printf("%-9s %14.2f %22.2f %12.1f %16.1f %10.1f %18s %13.2f\n", "innokeda", ready.Seconds(), serving.Seconds(), mib(mems[0].rss), mib(highest[0]), mib(mems[0].peak), heaps[0], cpus[0].Seconds())
	for i, p := range peers {
		fmt.Printf("%-9s %14.2f %22s %12.1f %16.1f %10.1f %18s %13.2f\n", p.name, p.ready.Seconds(), "-", mib(mems[i+1].rss), mib(highest[i+1]), mib(mems[i+1].peak), heaps[i+1], cpus[i+1].Seconds())
	}
	if allMade > 0 {
		fmt.Printf("\ninnokeda's controller had made the managed TriggerAuthentication of all %d clusters %.0f s after innokeda started (checked every 5 s)\n", o.clusters, allMade.Seconds())
	} else {
		fmt.Printf("\nafter -scale-settle %v, innokeda's controller had made %d of the %d clusters' managed TriggerAuthentications\n", o.settle, made, o.clusters)
	}
	fmt.Printf("memory and CPU read %.0f s after innokeda started; \"highest RSS\" is the highest of the samples taken every second until then, \"peak\" the kernel's VmHWM\n", readAt.Seconds())
	peak := mib(mems[0].peak)
	verdict := "MET"
	if peak >= o.limitMiB {
		verdict = "MISSED"
	}
	fmt.Printf("\ngoals:\n  %-12s innokeda's peak RSS under %.0f MiB: %.1f MiB = %.2fx the KEDA peer's %.1f MiB, %.2fx the floor's %.1f MiB\n",
		verdict, o.limitMiB, peak, peak/mib(mems[1].peak), mib(mems[1].peak), peak/mib(mems[2].peak), mib(mems[2].peak))
	missed = verdict == "MISSED"
	memoryPlot, err := plotMemory(fmt.Sprintf("RSS with %d clusters, %d Secrets", o.clusters, o.secrets), timeline, allMade)
	if err != nil {
		return false, err
	}
	plotted := []*plot.Plot{memoryPlot}

	if o.audit {
		for _, p := range peers {
			p.proc.Stop() // their part is done: the cores are the audit's
		}
		coverage, err := measureAudit(ctx, cp, c, o, func() (*harness.Process, error) {
			innokeda.Stop()
			restarted, err := harness.StartProcess(cp, bins.innokeda, harness.Admin, cp.Env.WebhookInstallOptions.LocalServingPort, innokedaArgs...)
			if err == nil {
				innokeda = restarted
			}
			return restarted, err
		})
		if err != nil {
			return false, err
		}
		fmt.Print(coverage.report)
		plotted = append(plotted, coverage.plot)
		missed = missed || coverage.missed
	}
	if plots != "" {
		path := filepath.Join(plots, "scale."+plotFormat)
		if err := writePicture(path, 12*vg.Centimeter, 9*vg.Centimeter, plotted...); err != nil {
			return false, fmt.Errorf("plot the scale run: %w", err)
		}
		fmt.Printf("\nwrote %s\n", path)
	}
	return missed, nil
}

// memorySample is the RSS of innokeda, the KEDA peer and the floor at one time since
// innokeda started.
type memorySample struct {
	at  time.Duration
	rss []uint64
}

// hostAliases are innokeda's flags that send the dry-runs for every cluster's instances
// Service to addr: there is no cluster DNS here.
func hostAliases(o scaleOptions, addr string) []string {
	args := make([]string, 0, 2*o.clusters)
	for j := range o.clusters {
		ns, name := scaleCluster(o, j)
		args = append(args, "--dry-run-host-alias", innodbcluster.ServiceHost(innodbcluster.InstancesService(name), ns, "cluster.local")+"="+addr)
	}
	return args
}

// scaleCluster is the namespace and name of cluster j: 0 is the probe.
func scaleCluster(o scaleOptions, j int) (ns, name string) {
	if j == 0 {
		return scaleNamespace(0), probeCluster
	}
	return scaleNamespace(j % o.namespaces), fmt.Sprintf("c%05d", j)
}

// populate creates the namespaces, the clusters with their Secrets, the other Secrets and
// the unrelated StatefulSets, o.workers at a time, and last the probe cluster with the
// operator's objects. It returns how many objects it created and how long that took.
func populate(ctx context.Context, cp *harness.ControlPlane, o scaleOptions, rootPassword string) (int, time.Duration, error) {
	scheme, err := app.NewScheme()
	if err != nil {
		return 0, 0, err
	}
	cfg := rest.CopyConfig(cp.Config)
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.createTimeout)
	defer cancel()
	start := time.Now()
	for i := range o.namespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleNamespace(i)}}); err != nil {
			return 0, 0, err
		}
	}

	// Object i of the bulk: the clusters' Secrets and the clusters (but the probe, 0),
	// then the other Secrets, then the StatefulSets.
	clusterObjs := 2 * (o.clusters - 1)
	otherSecrets := o.secrets - o.clusters
	total := clusterObjs + otherSecrets + o.statefulSets
	object := func(i int) client.Object {
		ns := scaleNamespace(i % o.namespaces)
		switch {
		case i < clusterObjs:
			ic := gen.InnoDBCluster(scaleCluster(o, i/2+1))
			if i%2 == 0 {
				return gen.Secret(ic, "", rootPassword)
			}
			return ic
		case i < clusterObjs+otherSecrets:
			return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("s%06d", i)}, StringData: map[string]string{"k": "v"}}
		default:
			return unrelatedStatefulSet(ns, fmt.Sprintf("app%06d", i))
		}
	}
	logf("creating %d objects, %d at once", o.namespaces+total+probeObjects, o.workers)
	if _, err := inParallel(ctx, total, o.workers, func(ctx context.Context, i int) error { return create(ctx, c, object(i)) }); err != nil {
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("creating %d objects took more than -scale-create-timeout %v: %w", total, o.createTimeout, err)
		}
		return 0, 0, err
	}

	probe := gen.InnoDBCluster(scaleNamespace(0), probeCluster)
	for _, obj := range []client.Object{gen.Secret(probe, "", rootPassword), probe} {
		if err := c.Create(ctx, obj); err != nil {
			return 0, 0, err
		}
	}
	if _, err := harness.CreateOperatorObjects(ctx, c, probe); err != nil {
		return 0, 0, err
	}
	return o.namespaces + total + probeObjects, time.Since(start), nil
}

const (
	probeCluster = "probe"
	probeObjects = 8 // its Secret, the cluster, its StatefulSet, 2 Services and 3 pods
)

func scaleNamespace(i int) string { return fmt.Sprintf("scale-%03d", i) }

// unrelatedStatefulSet is a small StatefulSet that is not the MySQL Operator's.
func unrelatedStatefulSet(ns, name string) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
			},
		},
	}
}

// firstFill sends a minimal ScaledObject of the probe cluster to innokeda's mutating
// webhook until the answer carries a patch, and returns the time since t0: then innokeda
// serves from a cache that holds the cluster and its StatefulSet.
func firstFill(ctx context.Context, cp *harness.ControlPlane, port int, t0 time.Time) (time.Duration, error) {
	tr, err := newTransport(cp.Env.WebhookInstallOptions.LocalServingCAData, 1)
	if err != nil {
		return 0, err
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.MutatePath)
	so := gen.ScaledObject(scaleNamespace(0), "probe-scaler", probeCluster, gen.WithMySQLTrigger(query, queryValue))
	var last outcome
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		req, err := reviewRequest(so)
		if err != nil {
			return false, err
		}
		last = send(ctx, hc, url, req, time.Now(), 10*time.Second)
		return last.failure == ok && last.answer.patched, nil
	})
	if err != nil {
		return 0, fmt.Errorf("innokeda never filled the probe cluster's ScaledObject (last: %s %v): %w", failureNames[last.failure], last.answer.warnings, err)
	}
	return time.Since(t0), nil
}

// countTriggerAuthentications counts the TriggerAuthentications in the API server (only
// innokeda's controller makes any here), reading their metadata only.
func countTriggerAuthentications(ctx context.Context, c client.Client) (int, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(kedav1alpha1.SchemeGroupVersion.WithKind("TriggerAuthenticationList"))
	if err := c.List(ctx, list); err != nil {
		return 0, fmt.Errorf("list TriggerAuthentications: %w", err)
	}
	return len(list.Items), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// goHeap is the process's go_memstats_heap_inuse_bytes from its /metrics, in MiB, or "-"
// when it serves none (the floor).
func goHeap(p *harness.Process) string {
	lines, err := p.Metrics("go_memstats_heap_inuse_bytes ")
	if err != nil || len(lines) != 1 {
		return "-"
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(lines[0], "go_memstats_heap_inuse_bytes "), 64)
	if err != nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", v/(1<<20))
}
