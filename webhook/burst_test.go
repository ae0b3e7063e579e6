package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// TestABurstOfValidationsIsAnsweredInTime: 200 validations at once against a MariaDB that
// takes 50 connections, each with a query of its own (identical ones would share a dry-run).
// The dry-runs queue for innokeda's slots (--dry-run-max-concurrent) instead of exhausting
// the server: every one is dry-run, within the budget.
func TestABurstOfValidationsIsAnsweredInTime(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn)
	const n = 200
	type answer struct {
		allowed  bool
		dryRun   bool
		took     time.Duration
		warnings []string
	}
	answers := make([]answer, n)
	connectionsBefore, err := db.Connections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := request(t, admissionv1.Create, filled(withQuery(fmt.Sprintf("SELECT COUNT(*) FROM testdb.testtable WHERE id > %d", i))))
			start := time.Now()
			resp := f.handle(t, req)
			a := answer{allowed: resp.Allowed, took: time.Since(start), warnings: resp.Warnings}
			for _, w := range resp.Warnings {
				a.dryRun = a.dryRun || strings.HasPrefix(w, "spec.triggers[0]: dry-run returned ")
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	var slowest time.Duration
	for i, a := range answers {
		slowest = max(slowest, a.took)
		if !a.allowed || !a.dryRun {
			t.Errorf("validation %d: allowed=%v, warnings %q; want admitted after a dry-run", i, a.allowed, a.warnings)
		}
		if a.took > budget+budgetSlack {
			t.Errorf("validation %d took %v, budget %v", i, a.took, budget)
		}
	}
	connections, err := db.Connections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if connections-connectionsBefore < n {
		t.Errorf("%d connections for %d distinct dry-runs", connections-connectionsBefore, n)
	}
	t.Logf("%d simultaneous validations, %d connections, the slowest answered in %v", n, connections-connectionsBefore, slowest)
}
