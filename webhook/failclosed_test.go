package webhook_test

// A violation, once found, is never dropped because a later step failed or ran out of
// time, and no object costs more than the budget: the attacks of issue 18, against a real
// MariaDB, each written as the attacker would.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/validation"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// failingSecrets fails every Secret read, as a read past the budget does.
type failingSecrets struct{ memoryReader }

func (r failingSecrets) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		return context.DeadlineExceeded
	}
	return r.memoryReader.Get(ctx, key, obj, opts...)
}

// withTrigger appends a mysql trigger that polls with the TriggerAuthentication innokeda
// keeps, with metadata kv.
func withTrigger(query string, kv ...string) gen.ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		md := map[string]string{"query": query, "queryValue": "3", "host": instances, "port": "3306"}
		for i := 0; i+1 < len(kv); i += 2 {
			md[kv[i]] = kv[i+1]
		}
		so.Spec.Triggers = append(so.Spec.Triggers, kedav1alpha1.ScaleTriggers{Type: "mysql", Metadata: md,
			AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: "mycluster-innokeda"}})
	}
}

// The triggers an attacker hides behind slow or failing ones.
var hostileTriggers = map[string]gen.ScaledObjectOption{
	"a DELETE":                               withTrigger("DELETE FROM testdb.testtable"),
	"the managed credentials sent elsewhere": withTrigger("SELECT COUNT(*) FROM testdb.testtable", "host", "attacker.example.com"),
	"a qualified GET_LOCK":                   withTrigger("SELECT mariadb_schema.get_lock('app-lock', 0)"),
	"a read of mysql.user":                   withTrigger("SELECT COUNT(*) FROM mysql.user WHERE LENGTH(authentication_string) > 0"),
	"a read outside the bound, in the database of a Secret": func(so *kedav1alpha1.ScaledObject) {
		so.Spec.Triggers = append(so.Spec.Triggers, kedav1alpha1.ScaleTriggers{Type: "mysql",
			Metadata:          map[string]string{"query": "SELECT COUNT(*) FROM customers", "queryValue": "3", "host": instances, "port": "3306"},
			AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: "db-auth"}})
	},
}

// hostileObjects are what the hostile triggers refer to: an authentication whose
// database, from a Secret, is outside the test cluster's bound.
func hostileObjects() []client.Object {
	return []client.Object{
		secretObj("dbsecret", map[string]string{"db": "shop", "user": harness.AppUser, "pw": harness.AppPassword}),
		triggerAuth("db-auth", ref("dbName", "dbsecret", "db"), ref("username", "dbsecret", "user"), ref("password", "dbsecret", "pw")),
	}
}

func mustDeny(t *testing.T, resp admission.Response, start time.Time) {
	t.Helper()
	if took := time.Since(start); took > budget+budgetSlack {
		t.Errorf("the answer took %v; budget %v", took, budget)
	}
	if resp.Allowed {
		t.Errorf("admitted (warnings %q): the hostile trigger was stored", resp.Warnings)
	}
}

func TestViolationsSurviveASpentBudget(t *testing.T) {
	db := harness.SharedMariaDB(t)
	// Triggers that wait on a table another session holds, each as long as the budget.
	held, _ := db.HoldTable(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, hostileObjects()...)
	slow := withTrigger(held)
	for name, hostile := range hostileTriggers {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp := f.handle(t, request(t, admissionv1.Create, filled(slow, slow, hostile)))
			mustDeny(t, resp, start)
		})
	}
	t.Run("the slow triggers alone are admitted with a warning: the test's slow path is real", func(t *testing.T) {
		start := time.Now()
		resp := f.handle(t, request(t, admissionv1.Create, filled(slow, slow)))
		if !resp.Allowed || !strings.Contains(strings.Join(resp.Warnings, "\n"), "not validated") {
			t.Errorf("allowed %v, warnings %q", resp.Allowed, resp.Warnings)
		}
		if took := time.Since(start); took < budget/2 || took > budget+budgetSlack {
			t.Errorf("took %v: want the budget spent, and kept", took)
		}
	})
}

func TestViolationsSurviveAFailedSecretRead(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixtureReading(t, failingSecrets{operatorObjects(hostileObjects()...)}, db.Addr, webhook.OnUnreachableWarn)
	for name, hostile := range hostileTriggers {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			mustDeny(t, f.handle(t, request(t, admissionv1.Create, filled(hostile))), start)
		})
	}
	t.Run("the bound, unknowable without the Secret, refuses", func(t *testing.T) {
		resp := f.handle(t, request(t, admissionv1.Create, filled(hostileTriggers["a read outside the bound, in the database of a Secret"])))
		if want := "spec.triggers[1].metadata.query: Invalid value: the query names a table without a schema, and innokeda could not read the trigger's credentials"; resp.Allowed || !strings.Contains(denial(resp), want) {
			t.Errorf("allowed %v, %q; want a denial with %q", resp.Allowed, denial(resp), want)
		}
	})
	t.Run("stored, as the audit checks it: the bound not checked, not a violation", func(t *testing.T) {
		// A transient read failure must not make the audit say KEDA would fail.
		so := filled(hostileTriggers["a read outside the bound, in the database of a Secret"])
		so.Namespace = vns
		verdict := f.validator.Engine().CheckStored(context.Background(), so)
		for _, v := range verdict.Violations {
			if v.Reason == validation.ReasonReadBoundUnknown {
				t.Errorf("a stored object's unreadable Secret made a violation: %v", v.Err)
			}
		}
		if !slices.ContainsFunc(verdict.Unchecked, func(u validation.Unchecked) bool { return u.Trigger == 1 }) {
			t.Errorf("unchecked %+v; want trigger 1's checks named as not made", verdict.Unchecked)
		}
	})
	t.Run("a clean trigger whose Secret cannot be read: that trigger unchecked, nothing else", func(t *testing.T) {
		resp := f.handle(t, request(t, admissionv1.Create, filled()))
		all := strings.Join(resp.Warnings, "\n")
		if !resp.Allowed || !strings.Contains(all, "spec.triggers[0]: the query was not validated: innokeda could not read the credentials of spec.triggers[0]") {
			t.Errorf("allowed %v, warnings %q", resp.Allowed, resp.Warnings)
		}
	})
}

func TestViolationsSurviveAFailingMySQL(t *testing.T) {
	f := newValidatorFixture(t, stoppedServerAddr(t), webhook.OnUnreachableWarn, hostileObjects()...)
	for name, hostile := range hostileTriggers {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			mustDeny(t, f.handle(t, request(t, admissionv1.Create, filled(hostile))), start)
		})
	}
}

// TestTheCostOfAnObjectIsBounded: 90 mysql triggers of 16 KiB queries each, the kind of
// object the API server accepts (it takes requests up to 3 MiB), one at a time and 16 at
// once: each is denied, with the bound in the message, within the budget. The peak RSS of
// the test process is printed.
func TestTheCostOfAnObjectIsBounded(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn)
	long := "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 IN (" + strings.Repeat("'aaaaaaaaaaaaaa', ", 16<<10/18-5) + "'x')"
	if len(long) > 16<<10 {
		t.Fatalf("query of %d bytes: over the per-query bound, the test would show only that", len(long))
	}
	opts := []gen.ScaledObjectOption{withQuery(long)}
	for range 89 {
		opts = append(opts, withTrigger(long))
	}
	so := filled(opts...)
	req := request(t, admissionv1.Create, so)
	t.Logf("request of %d KiB, %d triggers of %d bytes", len(req.Object.Raw)>>10, len(so.Spec.Triggers), len(long))

	check := func(resp admission.Response, took time.Duration) error {
		switch {
		case harness.RaceEnabled && !resp.Allowed && strings.Contains(denial(resp), "(--max-mysql-triggers)"):
			return nil // timing is BenchmarkCostlyObject's, without the race detector
		case resp.Allowed:
			return errors.New("admitted")
		case !strings.Contains(denial(resp), "has 90 mysql triggers: innokeda checks at most 16 per ScaledObject (--max-mysql-triggers)"):
			return fmt.Errorf("denial %q does not give the bound", denial(resp))
		case took > budget+budgetSlack:
			return fmt.Errorf("took %v; budget %v", took, budget)
		}
		return nil
	}
	start := time.Now()
	if err := check(f.handle(t, req), time.Since(start)); err != nil {
		t.Error("one request:", err)
	}
	t.Logf("one request: %v", time.Since(start))

	var wg sync.WaitGroup
	errs := make([]error, 16)
	start = time.Now()
	for i := range errs {
		wg.Go(func() {
			begin := time.Now()
			resp := f.handle(t, req)
			errs[i] = check(resp, time.Since(begin))
		})
	}
	wg.Wait()
	t.Logf("16 at once: %v; peak RSS of the test process %s", time.Since(start), peakRSS())
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d of 16: %v", i, err)
		}
	}

	// Under the trigger bound, the byte bound holds: 4 triggers of 16 KiB.
	so = filled(withQuery(long), withTrigger(long), withTrigger(long))
	resp := f.handle(t, request(t, admissionv1.Create, so))
	if resp.Allowed || !strings.Contains(denial(resp), "bytes of mysql queries: innokeda checks at most 32768 bytes per ScaledObject (--max-query-bytes)") {
		t.Errorf("3 triggers of %d bytes: allowed %v, denial %q", len(long), resp.Allowed, denial(resp))
	}
}

// BenchmarkCostlyObject: the 90 × 16 KiB object, judged by goroutines in parallel (run
// with -cpu to set how many), as make bench prints it.
func BenchmarkCostlyObject(b *testing.B) {
	db := harness.SharedMariaDB(b)
	f := newValidatorFixture(b, db.Addr, webhook.OnUnreachableWarn)
	long := "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 IN (" + strings.Repeat("'aaaaaaaaaaaaaa', ", 16<<10/18-5) + "'x')"
	opts := []gen.ScaledObjectOption{withQuery(long)}
	for range 89 {
		opts = append(opts, withTrigger(long))
	}
	req := request(b, admissionv1.Create, filled(opts...))
	b.SetParallelism(8) // 16 at once on two cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if resp := f.handle(b, req); resp.Allowed {
				b.Error("admitted")
			}
		}
	})
	b.Logf("peak RSS %s", peakRSS())
}

// BenchmarkObjectAtTheBounds: the costliest object the bounds let through to the checks,
// 16 mysql triggers of 2 KiB queries (32 KiB in all), each parsed, checked and dry-run.
func BenchmarkObjectAtTheBounds(b *testing.B) {
	db := harness.SharedMariaDB(b)
	f := newValidatorFixture(b, db.Addr, webhook.OnUnreachableWarn)
	long := "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 IN (" + strings.Repeat("'aaaaaaaaaaaaaa', ", 2<<10/18-5) + "'x')"
	opts := []gen.ScaledObjectOption{withQuery(long)}
	for range 15 {
		opts = append(opts, withTrigger(long))
	}
	req := request(b, admissionv1.Create, filled(opts...))
	if resp := f.handle(b, req); !resp.Allowed || len(resp.Warnings) < 16 {
		b.Fatalf("allowed=%v, %d warnings: the object is not checked whole", resp.Allowed, len(resp.Warnings))
	}
	b.ResetTimer()
	for range b.N {
		f.handle(b, req)
	}
}

// peakRSS reads the process's peak resident set (VmHWM) from /proc.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
