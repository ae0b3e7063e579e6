package integration

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestConcurrentAdmissionsAreAllFilledAndValidated: a GitOps sync applies hundreds of
// ScaledObjects at once. Through the API server, every one of them is filled by the
// mutating webhook and dry-run by the validating one; none is admitted degraded. (With
// the webhooks sharing the controller's rate-limited client, most were admitted unfilled.)
//
// At most inFlight creates are sent at a time: with all 300 at once, on a 2-core runner under
// -race, dry-runs queued past their 2 s budget some runs and not others (the same commit
// passed and failed). This test is about every admission being done, not throughput, which
// the load tool measures (test/load, docs/performance.md).
func TestConcurrentAdmissionsAreAllFilledAndValidated(t *testing.T) {
	const ns, n, inFlight = "concurrent", 300, 50
	c, _ := newClient(t, ns)
	createCluster(t, c, ns, "mycluster", "")
	burst, warnings := burstClient(t)
	degradedBefore := degradedAdmissions(t)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	slots := make(chan struct{}, inFlight)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			so := gen.ScaledObject(ns, fmt.Sprintf("so-%03d", i), "mycluster",
				gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 = 'none'", "4"))
			if err := burst.Create(context.Background(), so); err != nil {
				errs <- fmt.Errorf("create %s: %w", so.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	dryRuns := 0
	var others []string
	for _, w := range warnings.Take() {
		switch {
		case strings.HasPrefix(w, "spec.triggers[0]: dry-run returned 12 in "):
			dryRuns++
		case strings.HasPrefix(w, "spec.triggers[0]:") && len(others) < 3:
			others = append(others, w)
		}
	}
	if dryRuns != n {
		t.Errorf("%d of %d admissions were dry-run; other warnings: %q", dryRuns, n, others)
	}
	list := &kedav1alpha1.ScaledObjectList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	filled := 0
	for _, so := range list.Items {
		md := so.Spec.Triggers[0].Metadata
		if so.Spec.ScaleTargetRef.EnvSourceContainerName == innodbcluster.MySQLContainer && md["host"] != "" && so.Spec.Triggers[0].AuthenticationRef != nil {
			filled++
		}
	}
	if filled != n {
		t.Errorf("%d of %d stored ScaledObjects were filled", filled, n)
	}
	if after := degradedAdmissions(t); !maps.Equal(after, degradedBefore) {
		t.Errorf("innokeda_admission_degraded_total went from %v to %v", degradedBefore, after)
	}
}

// burstClient is a client with client-side rate limits out of the way, recording warnings.
func burstClient(t *testing.T) (client.Client, *harness.Warnings) {
	t.Helper()
	scheme, err := app.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	w := &harness.Warnings{}
	cfg := rest.CopyConfig(controlPlane.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// degradedAdmissions reads innokeda_admission_degraded_total of the in-process manager,
// by webhook and reason.
func degradedAdmissions(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "innokeda_admission_degraded_total" {
			counts := map[string]float64{}
			for _, m := range f.GetMetric() {
				var key []string
				for _, l := range m.GetLabel() {
					key = append(key, l.GetValue())
				}
				counts[strings.Join(key, "/")] = m.GetCounter().GetValue()
			}
			return counts
		}
	}
	t.Fatal("innokeda_admission_degraded_total is not registered")
	return nil
}
