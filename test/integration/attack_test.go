package integration

import (
	"context"
	"database/sql"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// budget is the manager's --dry-run-timeout (app.DefaultOptions); every answer comes
// within it and a margin for the API server's round trip.
const budget = 2 * time.Second

// The attacker's tests, through the real API server and MariaDB: each class of hostile
// ScaledObject issue 18 found admitted is denied, within the budget, and the server saw
// nothing but reads.
func TestHostileScaledObjectsThroughAPIServer(t *testing.T) {
	const ns = "hostile"
	c, _ := newClient(t, ns)
	ctx := context.Background()
	createCluster(t, c, ns, "mycluster", "", gen.WithClusterAnnotation(annotations.Database, "testdb"))
	instances := innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local")

	// create sends so and returns the API server's error, after checking that the
	// answer came within the budget and that MariaDB ran no statement but reads.
	create := func(t *testing.T, so *kedav1alpha1.ScaledObject) error {
		t.Helper()
		before, err := mariadb.StatementCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		createErr := c.Create(ctx, so)
		if took := time.Since(start); took > budget+time.Second {
			t.Errorf("answered in %v, past the budget of %v", took, budget)
		}
		after, err := mariadb.StatementCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(before, after) {
			t.Errorf("MariaDB ran statements that are not reads: %v, then %v", before, after)
		}
		return createErr
	}
	denied := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want a denial with %q", err, want)
		}
	}

	t.Run("slow triggers spend the budget: a later violation is still denied", func(t *testing.T) {
		slow, _ := mariadb.HoldTable(t)
		for _, tc := range []struct{ name, object, violation, want string }{
			{"a DELETE", "slow-delete", "DELETE FROM testdb.testtable", "statement kind: Delete"},
			{"the managed credentials sent elsewhere", "slow-elsewhere", "", "host evil.example.com is not a service of InnoDBCluster mycluster"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before, err := mariadb.TableChecksum(ctx)
				if err != nil {
					t.Fatal(err)
				}
				opts := []gen.ScaledObjectOption{gen.WithMySQLTrigger(slow, "1"), gen.WithMySQLTrigger(slow, "1"), gen.WithMySQLTrigger(slow, "1")}
				if tc.violation != "" {
					opts = append(opts, gen.WithMySQLTrigger(tc.violation, "1"))
				} else {
					opts = append(opts, gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"), gen.WithTriggerMetadata(3, "host", "evil.example.com", "port", "3306"))
				}
				denied(t, create(t, gen.ScaledObject(ns, tc.object, "mycluster", opts...)), tc.want)
				if after, err := mariadb.TableChecksum(ctx); err != nil || after != before {
					t.Errorf("testtable changed: %s, then %s (%v)", before, after, err)
				}
			})
		}
	})

	t.Run("90 triggers of 16 KiB: denied within the budget, one and 16 at once", func(t *testing.T) {
		long := "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 IN (" + strings.Repeat("'aaaaaaaaaaaaaa', ", 16<<10/18-5) + "'x')"
		costly := func(name string) *kedav1alpha1.ScaledObject {
			opts := make([]gen.ScaledObjectOption, 90)
			for i := range opts {
				opts[i] = gen.WithMySQLTrigger(long, "1")
			}
			return gen.ScaledObject(ns, name, "mycluster", opts...)
		}
		denied(t, create(t, costly("costly")), "has 90 mysql triggers: innokeda checks at most 16 per ScaledObject (--max-mysql-triggers)")
		var wg sync.WaitGroup
		errs := make([]error, 16)
		start := time.Now()
		for i := range errs {
			wg.Go(func() { errs[i] = c.Create(ctx, costly("costly-"+string(rune('a'+i)))) })
		}
		wg.Wait()
		took := time.Since(start)
		for i, err := range errs {
			// Stored (err nil) is what a webhook timeout with failurePolicy: Ignore does.
			if err == nil || !strings.Contains(err.Error(), "--max-mysql-triggers") {
				t.Errorf("request %d of 16: %v; want a denial by the bound", i, err)
			}
		}
		if took > budget+time.Second && !harness.RaceEnabled { // ten times slower under the race detector: printed only
			t.Errorf("16 at once answered in %v, past the budget of %v", took, budget)
		}
		t.Logf("16 × 90 × 16 KiB at once through the API server: %v; peak RSS of the test process (the manager runs in it) %s", took, peakRSS())
	})

	t.Run("every qualified form of a built-in is refused, and the named lock is never taken", func(t *testing.T) {
		stop := make(chan struct{})
		var held atomic.Bool
		var polls atomic.Int32
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				var owner sql.NullInt64
				if err := mariadb.Admin().QueryRowContext(ctx, "SELECT IS_USED_LOCK('innokeda_attack')").Scan(&owner); err == nil {
					polls.Add(1)
					held.Store(held.Load() || owner.Valid)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
		for i, call := range []string{
			"mariadb_schema.get_lock('innokeda_attack', 0)", "MARIADB_SCHEMA.GET_LOCK('innokeda_attack', 0)",
			"`mariadb_schema`.`get_lock`('innokeda_attack', 0)", "mariadb_schema . get_lock('innokeda_attack', 0)",
			"oracle_schema.get_lock('innokeda_attack', 0)", "maxdb_schema.get_lock('innokeda_attack', 0)",
			"mariadb_schema.load_file('/etc/hostname')", "oracle_schema.load_file('/etc/hostname')",
			"testdb.sneaky()", "sys.version_major()", "mysql.get_lock('innokeda_attack', 0)",
		} {
			so := gen.ScaledObject(ns, "qualified-"+string(rune('a'+i)), "mycluster",
				gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"), gen.WithMySQLTrigger("SELECT "+call, "1"))
			denied(t, create(t, so), "spec.triggers[1].metadata.query")
		}
		close(stop)
		wg.Wait()
		if held.Load() || polls.Load() == 0 {
			t.Errorf("lock held at some poll: %v (%d polls)", held.Load(), polls.Load())
		}
	})

	t.Run("a connection string's session variables are denied, naming the parameter", func(t *testing.T) {
		dsn := harness.AppUser + ":" + harness.AppPassword + "@tcp(" + instances + ":3306)/testdb?autocommit=0&tx_isolation=%27SERIALIZABLE%27"
		mustCreate(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dsn"}, StringData: map[string]string{"dsn": dsn}})
		mustCreate(t, c, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dsn-auth"},
			Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{{Parameter: "connectionString", Name: "dsn", Key: "dsn"}}}})
		so := gen.ScaledObject(ns, "session-vars", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"),
			gen.WithAuthenticationRef(0, "", "dsn-auth"))
		err := create(t, so)
		denied(t, err, "parameter autocommit")
		if err != nil && strings.Contains(err.Error(), harness.AppPassword) {
			t.Errorf("the denial holds the DSN's password: %v", err)
		}
	})

	// MariaDB keeps 128 characters of a user name in its messages and shows a byte >= 0x80
	// as '?': an echo taken out of a message whole would leave the rest.
	for _, tc := range []struct{ name, user string }{
		{"past MySQL's 128 characters", "Lu" + strings.Repeat("Zq8rTx4w", 20)},
		{"not UTF-8", "Bn\xff\xfeQz7\xc3(Wk2pYt9v"},
	} {
		t.Run("a user name from a Secret, "+tc.name+", is never echoed in part", func(t *testing.T) {
			name := "user-" + strings.ReplaceAll(strings.Fields(tc.name)[0], "'", "")
			mustCreate(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Data: map[string][]byte{"user": []byte(tc.user), "pw": []byte("Pw6rTz1mQ")}})
			mustCreate(t, c, &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{
					{Parameter: "username", Name: name, Key: "user"}, {Parameter: "password", Name: name, Key: "pw"}}}})
			so := gen.ScaledObject(ns, name, "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.testtable", "1"),
				gen.WithAuthenticationRef(0, "", name))
			err := create(t, so)
			denied(t, err, "the user name from Secret "+name+" key user")
			for i := 0; err != nil && i+8 <= len(tc.user); i++ {
				if w := tc.user[i : i+8]; strings.Contains(err.Error(), w) {
					t.Fatalf("the denial holds %q of the Secret's user name: %v", w, err)
				}
			}
		})
	}
}

// A MySQL that does not answer hides nothing: the violating trigger is denied, and a
// good one is admitted with a warning that it was not validated (--on-unreachable=warn).
func TestHostileScaledObjectsWhenMySQLIsDownThroughAPIServer(t *testing.T) {
	c, warnings := newClient(t, downNamespace)
	ctx := context.Background()
	createCluster(t, c, downNamespace, "mycluster", "", gen.WithClusterAnnotation(annotations.Database, "testdb"))
	good := "SELECT COUNT(*) FROM testdb.testtable"

	err := c.Create(ctx, gen.ScaledObject(downNamespace, "down-delete", "mycluster", gen.WithMySQLTrigger(good, "1"),
		gen.WithMySQLTrigger("DELETE FROM testdb.testtable", "1")))
	if err == nil || !strings.Contains(err.Error(), "spec.triggers[1].metadata.query") || !strings.Contains(err.Error(), "statement kind: Delete") {
		t.Errorf("error %v, want the DELETE denied", err)
	}

	warnings.Take()
	if err := c.Create(ctx, gen.ScaledObject(downNamespace, "down-good", "mycluster", gen.WithMySQLTrigger(good, "1"))); err != nil {
		t.Fatalf("a good ScaledObject, MySQL down: %v", err)
	}
	if got := strings.Join(warnings.Take(), "\n"); !strings.Contains(got, "spec.triggers[0]: the query was not validated") {
		t.Errorf("warnings %q, want one saying the query was not validated", got)
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
