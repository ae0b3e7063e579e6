package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"go.uber.org/zap/zapcore"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

const (
	vns         = "db"
	instances   = "mycluster-instances.db.svc.cluster.local"
	wrongPW     = "wrong-pw-Kx3!never-shown"
	budget      = 2 * time.Second
	budgetSlack = 300 * time.Millisecond
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopSharedMariaDB()
	os.Exit(code)
}

// validatorFixture is a validator whose Kubernetes reads come from memory and whose
// dry-runs reach the test's MariaDB through --dry-run-host-alias, with every log line
// it writes captured.
type validatorFixture struct {
	validator *webhook.ScaledObjectValidator
	logs      *syncBuffer
}

func newValidatorFixture(t testing.TB, addr, onUnreachable string, extra ...client.Object) validatorFixture {
	t.Helper()
	return newValidatorFixtureReading(t, operatorObjects(extra...), addr, onUnreachable)
}

// testCluster returns the InnoDBCluster and StatefulSet of the tests, with the UIDs an API
// server would give them.
func testCluster() (*innodbcluster.InnoDBCluster, *appsv1.StatefulSet) {
	cluster := gen.InnoDBCluster(vns, "mycluster")
	cluster.UID = "7d2c9a40-cluster"
	// The owner's bound covers what the tests read; TestReadBound changes it.
	cluster.Annotations[annotations.AllowedTables] = testReadBound
	sts := gen.StatefulSet(cluster)
	sts.UID = "51e0b7c3-statefulset"
	return cluster, sts
}

// testReadBound is the test cluster's innokeda.io/allowed-tables.
const testReadBound = "testdb.*, privdb.*, bulk.*, information_schema.tables, information_schema.processlist"

// operatorObjects holds the test cluster with everything the MySQL Operator (and
// Kubernetes) would make for it, its Secret and TriggerAuthentication, then extra
// objects, which replace those of the same kind and name.
func operatorObjects(extra ...client.Object) memoryReader {
	cluster, sts := testCluster()
	secret := gen.Secret(cluster, harness.AppUser, harness.AppPassword)
	secret.Data = map[string][]byte{}
	for k, v := range secret.StringData {
		secret.Data[k] = []byte(v)
	}
	router := gen.RouterService(cluster)
	router.Spec.ClusterIP = "10.96.0.20"
	objects := []client.Object{cluster, sts, gen.InstancesService(cluster), router,
		gen.MemberPod(sts, 0, "10.244.0.10"), gen.MemberPod(sts, 1, "10.244.0.11"),
		secret, gen.TriggerAuthentication(cluster, true)}
	cache := memoryReader{}
	for _, obj := range append(objects, extra...) {
		cache[memoryKey{reflect.TypeOf(obj), client.ObjectKeyFromObject(obj)}] = obj
	}
	return cache
}

// newValidatorFixtureReading is newValidatorFixture with the objects read from cache.
func newValidatorFixtureReading(t testing.TB, cache client.Reader, addr, onUnreachable string, configure ...func(*webhook.ValidatorOptions)) validatorFixture {
	t.Helper()
	scheme, err := app.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	o := webhook.ValidatorOptions{
		DryRunTimeout:        budget,
		OnUnreachable:        onUnreachable,
		MaxConcurrentDryRuns: 4,
		KEDANamespace:        "keda",
		Hosts: dryrun.HostPolicy{ClusterDomain: "cluster.local", Aliases: map[string]string{
			instances:                        addr,
			"mycluster.db.svc.cluster.local": addr,
			"mycluster-0.mycluster-instances.db.svc.cluster.local": addr,
		}},
	}
	for _, c := range configure {
		c(&o)
	}
	v, err := webhook.NewScaledObjectValidator(scheme, cache, cache, o)
	if err != nil {
		t.Fatal(err)
	}
	return validatorFixture{validator: v, logs: &syncBuffer{}}
}

func (f validatorFixture) handle(t testing.TB, req admission.Request) admission.Response {
	t.Helper()
	logger := zap.New(zap.WriteTo(f.logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-5)))
	return f.validator.Handle(logf.IntoContext(context.Background(), logger), req)
}

// filled is a ScaledObject as it reaches validation after innokeda's mutation.
func filled(opts ...gen.ScaledObjectOption) *kedav1alpha1.ScaledObject {
	base := gen.ScaledObject(vns, "so", "mycluster",
		gen.WithTarget("apps/v1", "StatefulSet", "mycluster"), gen.WithEnvSourceContainer("mysql"),
		gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", instances, "port", "3306"),
		gen.WithAuthenticationRef(0, "", "mycluster-innokeda"),
		gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](9)))
	return gen.ScaledObjectFrom(base, opts...)
}

// A ClusterTriggerAuthentication whose Secret is in KEDA's namespace, and a Secret of
// the same name in the ScaledObject's namespace that must not be used.
var (
	clusterWideAuth = &kedav1alpha1.ClusterTriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "cluster-wide"},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{
			ref("password", "shared-creds", "password"), ref("username", "shared-creds", "user")}}}
	kedaSecret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "keda", Name: "shared-creds"},
		Data: map[string][]byte{"password": []byte(harness.AppPassword), "user": []byte(harness.AppUser)}}
)

func withQuery(q string) gen.ScaledObjectOption { return gen.WithTriggerMetadata(0, "query", q) }

func secretObj(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: vns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func triggerAuth(name string, refs ...kedav1alpha1.AuthSecretTargetRef) *kedav1alpha1.TriggerAuthentication {
	return &kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: vns, Name: name},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: refs}}
}

func ref(param, secret, key string) kedav1alpha1.AuthSecretTargetRef {
	return kedav1alpha1.AuthSecretTargetRef{Parameter: param, Name: secret, Key: key}
}

// denial returns the message a denied response carries, with its causes.
func denial(resp admission.Response) string {
	if resp.Allowed || resp.Result == nil {
		return ""
	}
	return resp.Result.Message
}

func TestValidatorAgainstMariaDB(t *testing.T) {
	db := harness.SharedMariaDB(t)
	ctx := context.Background()
	// A table the application's account has no grant on.
	for _, stmt := range []string{"CREATE DATABASE IF NOT EXISTS privdb", "CREATE TABLE IF NOT EXISTS privdb.secrets (a INT)"} {
		if _, err := db.Admin().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	extra := []client.Object{
		secretObj("wrong", map[string]string{"password": wrongPW, "user": harness.AppUser}),
		triggerAuth("wrong-password", ref("password", "wrong", "password"), ref("username", "wrong", "user")),
		triggerAuth("no-secret", ref("password", "nope", "password")),
		triggerAuth("no-key", ref("password", "wrong", "pass")),
		secretObj("router-ip", map[string]string{"cs": "10.96.0.12"}),
		clusterWideAuth,
		kedaSecret,
		secretObj("shared-creds", map[string]string{"password": wrongPW, "user": harness.AppUser}),
		triggerAuth("bare-ip", ref("connectionString", "router-ip", "cs")),
	}
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)

	tests := []struct {
		name string
		so   *kedav1alpha1.ScaledObject
		// wantDenied lists substrings of the denial, in order; empty means admitted.
		wantDenied []string
		// wantWarnings lists prefixes of the warnings when admitted.
		wantWarnings []string
	}{
		{name: "valid: admitted with the value and the replicas KEDA would aim at", so: filled(),
			wantWarnings: []string{"spec.triggers[0]: dry-run returned 2 in "}},
		{name: "advice comes first: a key KEDA ignores, an aggregate that can be NULL; still dry-run",
			so: filled(withQuery("SELECT SUM(id) FROM testdb.testtable"), gen.WithTriggerMetadata(0, "metricName", "jobs")),
			wantWarnings: []string{"spec.triggers[0].metadata.metricName: KEDA's mysql scaler does not read metricName",
				"spec.triggers[0].metadata.query: SUM of no rows is NULL", "spec.triggers[0]: dry-run returned "}},
		{name: "predicted replicas are clamped and computed", so: filled(gen.WithTriggerMetadata(0, "queryValue", "0.5"), gen.WithReplicas(ptr.To[int32](2), ptr.To[int32](3))),
			wantWarnings: []string{"spec.triggers[0]: dry-run returned 2 in "}},
		{name: "more than one row: admitted, with a warning", so: filled(withQuery("SELECT id FROM testdb.testtable ORDER BY id")),
			wantWarnings: []string{"spec.triggers[0]: dry-run returned 1 in ", "spec.triggers[0]: the query returned more than one row; KEDA silently uses the first"}},
		{name: "no query", so: filled(gen.WithTriggerMetadata(0, "query", "")),
			wantDenied: []string{`ScaledObject.keda.sh "so" is invalid: spec.triggers[0].metadata.query: Required value: set a SELECT that returns one number`}},
		{name: "queryValue not a number", so: filled(gen.WithTriggerMetadata(0, "queryValue", "three")),
			wantDenied: []string{`spec.triggers[0].metadata.queryValue: Invalid value: "three": must be a number`}},
		{name: "queryValue not above 0", so: filled(gen.WithTriggerMetadata(0, "queryValue", "0")),
			wantDenied: []string{`spec.triggers[0].metadata.queryValue: Invalid value: "0": must be above 0`}},
		{name: "activationQueryValue below 0", so: filled(gen.WithTriggerMetadata(0, "activationQueryValue", "-1")),
			wantDenied: []string{`spec.triggers[0].metadata.activationQueryValue: Invalid value: "-1": must not be below 0`}},
		{name: "password in plain metadata", so: filled(gen.WithTriggerMetadata(0, "password", harness.AppPassword)),
			wantDenied: []string{"spec.triggers[0].metadata.password: Forbidden: KEDA ignores a password in trigger metadata"}},
		{name: "minReplicaCount 0", so: filled(gen.WithReplicas(ptr.To[int32](0), ptr.To[int32](9))),
			wantDenied: []string{"spec.minReplicaCount: Invalid value: 0: must be at least 1"}},
		{name: "maxReplicaCount above 9", so: filled(gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](10))),
			wantDenied: []string{"spec.maxReplicaCount: Invalid value: 10: must be at most 9, the MySQL Group Replication member limit"}},
		{name: "min above max", so: filled(gen.WithReplicas(ptr.To[int32](4), ptr.To[int32](3))),
			wantDenied: []string{"spec.minReplicaCount: Invalid value: 4: must not be above maxReplicaCount (3)"}},
		{name: "envSourceContainerName not a container", so: filled(gen.WithEnvSourceContainer("db")),
			wantDenied: []string{`spec.scaleTargetRef.envSourceContainerName: Invalid value: "db": is not a container of StatefulSet mycluster, so KEDA would fail every trigger: use one of sidecar, mysql`}},
		{name: "TriggerAuthentication does not exist", so: filled(gen.WithAuthenticationRef(0, "", "typo")),
			wantDenied: []string{"spec.triggers[0].authenticationRef: Invalid value: TriggerAuthentication typo does not exist in namespace db"}},
		{name: "ClusterTriggerAuthentication: its Secrets come from KEDA's namespace", so: filled(gen.WithAuthenticationRef(0, "ClusterTriggerAuthentication", "cluster-wide")),
			wantWarnings: []string{"spec.triggers[0]: dry-run returned 2 in "}},
		{name: "ClusterTriggerAuthentication does not exist", so: filled(gen.WithAuthenticationRef(0, "ClusterTriggerAuthentication", "shared")),
			wantDenied: []string{"spec.triggers[0].authenticationRef: Invalid value: ClusterTriggerAuthentication shared does not exist: create it"}},
		{name: "Secret does not exist", so: filled(gen.WithAuthenticationRef(0, "", "no-secret")),
			wantDenied: []string{"spec.triggers[0].authenticationRef: Invalid value: TriggerAuthentication no-secret secretTargetRef[0] (parameter password) refers to Secret nope, which does not exist in namespace db"}},
		{name: "Secret key does not exist", so: filled(gen.WithAuthenticationRef(0, "", "no-key")),
			wantDenied: []string{"refers to key pass of Secret wrong, which has no such key (it has: password, user)"}},
		{name: "connection string that is a bare IP", so: filled(gen.WithAuthenticationRef(0, "", "bare-ip")),
			wantDenied: []string{"spec.triggers[0].authenticationRef: Invalid value: the connection string the trigger resolves to is not a go-sql-driver DSN", "use the trigger's host and port instead"}},
		{name: "zero rows", so: filled(withQuery("SELECT id FROM testdb.testtable WHERE 1 = 0")),
			wantDenied: []string{"spec.triggers[0].metadata.query: Invalid value: the query returned no rows; KEDA fails"}},
		{name: "NULL", so: filled(withQuery("SELECT price FROM testdb.testtable WHERE testcolumn = 'c'")),
			wantDenied: []string{"the query returned NULL, which KEDA cannot convert to a number: wrap the expression in COALESCE(..., 0)"}},
		{name: "two columns", so: filled(withQuery("SELECT id, price FROM testdb.testtable LIMIT 1")),
			wantDenied: []string{"the query returned 2 columns; KEDA reads exactly one"}},
		{name: "not a number: the SQL type, not the value", so: filled(withQuery("SELECT testcolumn FROM testdb.testtable WHERE id = 1")),
			wantDenied: []string{"the query returned a VARCHAR value that does not convert to a number"}},
		{name: "syntax error", so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable WHERE")),
			wantDenied: []string{"spec.triggers[0].metadata.query: Invalid value: the query is not a SELECT statement MySQL's grammar accepts"}},
		{name: "unknown table", so: filled(withQuery("SELECT COUNT(*) FROM testdb.nope")),
			wantDenied: []string{"spec.triggers[0].metadata.query: Invalid value: MySQL rejected the query: MySQL error 1146 (ER_NO_SUCH_TABLE): Table 'testdb.nope' doesn't exist"}},
		{name: "unknown column", so: filled(withQuery("SELECT COUNT(nope) FROM testdb.testtable")),
			wantDenied: []string{"MySQL rejected the query: MySQL error 1054 (ER_BAD_FIELD_ERROR): Unknown column 'nope'"}},
		{name: "missing privilege", so: filled(withQuery("SELECT COUNT(*) FROM privdb.secrets")),
			wantDenied: []string{"MySQL rejected the query: MySQL error 1142 (ER_TABLEACCESS_DENIED_ERROR): the user from Secret "}},
		{name: "wrong password", so: filled(gen.WithAuthenticationRef(0, "", "wrong-password")),
			wantDenied: []string{"spec.triggers[0].authenticationRef: Invalid value: MySQL refused the connection: MySQL error 1045 (ER_ACCESS_DENIED_ERROR): the user name from Secret ", "are not those of an account that may connect from innokeda's pod: check the user name, password and database"}},
		{name: "write: DROP TABLE", so: filled(withQuery("DROP TABLE testdb.testtable")), wantDenied: []string{"statement kind: DropTable"}},
		{name: "write: DELETE", so: filled(withQuery("DELETE FROM testdb.testtable")), wantDenied: []string{"statement kind: Delete"}},
		{name: "write: INSERT", so: filled(withQuery("INSERT INTO testdb.testtable (testcolumn) VALUES ('x')")), wantDenied: []string{"statement kind: Insert"}},
		{name: "write: CREATE TABLE, which would commit even in a read-only transaction", so: filled(withQuery("CREATE TABLE testdb.pwned (a INT)")), wantDenied: []string{"statement kind: CreateTable"}},
		{name: "write: INTO OUTFILE", so: filled(withQuery("SELECT * FROM testdb.testtable INTO OUTFILE '/tmp/innokeda-pwned'")), wantDenied: []string{"writes its result with INTO"}},
		{name: "write: a second statement", so: filled(withQuery("SELECT 1; DROP TABLE testdb.testtable")), wantDenied: []string{"holds 2 statements"}},
		{name: "write: FOR UPDATE", so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable FOR UPDATE")), wantDenied: []string{"takes row locks"}},
		{name: "write: a stored function that writes", so: filled(withQuery("SELECT testdb.sneaky()")),
			wantDenied: []string{"the query calls testdb.sneaky: a schema-qualified function is a stored function"}},
		{name: "read: the mysql schema, as root", so: filled(withQuery("SELECT COUNT(*) FROM mysql.user")),
			wantDenied: []string{"the query reads mysql.user, in the mysql schema"}},
	}
	var responses []admission.Response
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := db.TableChecksum(ctx)
			if err != nil {
				t.Fatal(err)
			}
			resp := f.handle(t, request(t, admissionv1.Create, tc.so))
			responses = append(responses, resp)
			got := denial(resp)
			if len(tc.wantDenied) == 0 && !resp.Allowed {
				t.Fatalf("denied: %s", got)
			}
			pos := 0
			for _, want := range tc.wantDenied {
				i := strings.Index(got[pos:], want)
				if i < 0 {
					t.Fatalf("denial %q\nwant it to contain, in order: %q", got, tc.wantDenied)
				}
				pos += i + len(want)
			}
			if len(tc.wantDenied) == 0 {
				if len(resp.Warnings) != len(tc.wantWarnings) {
					t.Fatalf("warnings %q, want %d", resp.Warnings, len(tc.wantWarnings))
				}
				for i, w := range tc.wantWarnings {
					if !strings.HasPrefix(resp.Warnings[i], w) {
						t.Errorf("warning %d = %q, want prefix %q", i, resp.Warnings[i], w)
					}
				}
			}
			after, err := db.TableChecksum(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tables, err := db.Tables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after != before || !slices.Equal(tables, []string{"testtable"}) {
				t.Errorf("the database changed: checksum %s -> %s, tables %v", before, after, tables)
			}
		})
	}

	t.Run("the predicted replicas", func(t *testing.T) {
		resp := f.handle(t, request(t, admissionv1.Create, filled(gen.WithTriggerMetadata(0, "queryValue", "0.5"), gen.WithReplicas(ptr.To[int32](2), ptr.To[int32](3)))))
		if len(resp.Warnings) != 1 || !strings.HasSuffix(resp.Warnings[0], "KEDA would aim at 3 replica(s), ceil(2 / 0.5) within [2, 3]") {
			t.Errorf("warnings %q", resp.Warnings)
		}
		resp = f.handle(t, request(t, admissionv1.Create, filled()))
		if len(resp.Warnings) != 1 || !strings.HasSuffix(resp.Warnings[0], "KEDA would aim at 1 replica(s), ceil(2 / 3) within [1, 9]") {
			t.Errorf("warnings %q", resp.Warnings)
		}
	})

	t.Run("dryRun requests are validated the same way", func(t *testing.T) {
		req := request(t, admissionv1.Create, filled(withQuery("SELECT price FROM testdb.testtable WHERE testcolumn = 'c'")))
		req.DryRun = ptr.To(true)
		if resp := f.handle(t, req); resp.Allowed {
			t.Error("a dryRun request with a NULL-returning query was admitted")
		}
	})

	t.Run("no password or DSN in any response, warning or log line", func(t *testing.T) {
		out, err := json.Marshal(responses)
		if err != nil {
			t.Fatal(err)
		}
		everything := string(out) + f.logs.String()
		for _, secret := range []string{harness.AppPassword, wrongPW, db.RootPassword, harness.AppUser + ":", "@tcp(" + instances, "@tcp(127.0.0.1", "10.96.0.12"} {
			if strings.Contains(everything, secret) {
				i := strings.Index(everything, secret)
				t.Errorf("%q appears in a response or a log line: ...%s...", secret, everything[max(0, i-300):min(len(everything), i+100)])
			}
		}
		if len(responses) < 30 {
			t.Errorf("only %d responses were checked", len(responses))
		}
	})
}

// TestValidatorResolvesEnv: passwordFromEnv and usernameFromEnv name env variables of the
// target's container, resolved like KEDA does, from a literal value or a Secret key.
func TestValidatorResolvesEnv(t *testing.T) {
	db := harness.SharedMariaDB(t)
	_, sts := testCluster()
	sts.Spec.Template.Spec.Containers[1].Env = []corev1.EnvVar{
		{Name: "MYSQL_USER", Value: harness.AppUser},
		{Name: "MYSQL_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-creds"}, Key: "password"}}},
		{Name: "FROM_FIELD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableDeny, sts, secretObj("app-creds", map[string]string{"password": harness.AppPassword}))
	fromEnv := func(user, password string) *kedav1alpha1.ScaledObject {
		return filled(func(so *kedav1alpha1.ScaledObject) { so.Spec.Triggers[0].AuthenticationRef = nil },
			gen.WithTriggerMetadata(0, "usernameFromEnv", user, "passwordFromEnv", password))
	}
	tests := []struct {
		name    string
		so      *kedav1alpha1.ScaledObject
		allowed bool
		want    string
	}{
		{"literal user, password from a Secret key", fromEnv("MYSQL_USER", "MYSQL_PASSWORD"), true, "spec.triggers[0]: dry-run returned 2 in "},
		{"no such variable: not dry-run", fromEnv("MYSQL_USER", "NOPE"), true, "spec.triggers[0]: not dry-run: container mysql has no env variable NOPE"},
		{"a source innokeda does not read: not dry-run", fromEnv("MYSQL_USER", "FROM_FIELD"), true, "spec.triggers[0]: not dry-run: env variable FROM_FIELD of container mysql comes from a source innokeda does not read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.handle(t, request(t, admissionv1.Create, tc.so))
			if resp.Allowed != tc.allowed || len(resp.Warnings) != 1 || !strings.HasPrefix(resp.Warnings[0], tc.want) {
				t.Errorf("allowed=%v warnings=%q %s; want allowed=%v and a warning %q", resp.Allowed, resp.Warnings, denial(resp), tc.allowed, tc.want)
			}
		})
	}
}

func TestValidatorWithinBudgetWhenTheServerHangs(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn)
	ctx := context.Background()
	check := func(t *testing.T, so *kedav1alpha1.ScaledObject) admission.Response {
		start := time.Now()
		resp := f.handle(t, request(t, admissionv1.Create, so))
		if took := time.Since(start); took > budget+budgetSlack {
			t.Errorf("validation took %v; budget %v", took, budget)
		}
		if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "the query was not validated: dry-run timed out") {
			t.Errorf("want admitted with a warning that validation did not happen; got allowed=%v %q %s", resp.Allowed, resp.Warnings, denial(resp))
		}
		return resp
	}
	t.Run("a table another session has locked", func(t *testing.T) {
		// SLEEP is refused by the guard; a lock held by another session makes the query
		// wait as long as the server lets it.
		query, release := db.HoldTable(t)
		check(t, filled(withQuery(query)))
		release()
		if running, err := db.RunningQueries(ctx); err != nil || len(running) != 0 {
			t.Errorf("queries still running on the server: %q (%v)", running, err)
		}
	})
	t.Run("frozen server (SIGSTOP)", func(t *testing.T) {
		if err := db.Pause(); err != nil {
			t.Fatal(err)
		}
		check(t, filled())
		if err := db.Resume(); err != nil {
			t.Fatal(err)
		}
		if running, err := db.RunningQueries(ctx); err != nil || len(running) != 0 {
			t.Errorf("queries still running on the server: %q (%v)", running, err)
		}
	})
}

// stoppedServerAddr is the address of a MariaDB that ran and stopped: nothing listens there.
func stoppedServerAddr(t *testing.T) string {
	t.Helper()
	stopped, err := harness.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	stopped.Stop()
	return stopped.Addr
}

func TestValidatorWhenTheServerIsStopped(t *testing.T) {
	addr := stoppedServerAddr(t)
	tests := []struct {
		policy  string
		allowed bool
		want    string
	}{
		{webhook.OnUnreachableWarn, true, "spec.triggers[0]: the query was not validated: MySQL server unreachable: "},
		{webhook.OnUnreachableDeny, false, "spec.triggers[0]: Invalid value: the query was not validated: MySQL server unreachable: "},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			resp := newValidatorFixture(t, addr, tc.policy).handle(t, request(t, admissionv1.Create, filled()))
			got := strings.Join(resp.Warnings, "\n") + denial(resp)
			if resp.Allowed != tc.allowed || !strings.Contains(got, tc.want) {
				t.Errorf("allowed=%v %q; want allowed=%v and %q", resp.Allowed, got, tc.allowed, tc.want)
			}
		})
	}
}

// countingListener listens on loopback until the test ends, closing every connection and
// counting it, so that a test can tell whether anything was dialed.
func countingListener(t *testing.T) (net.Listener, *atomic.Int32) {
	t.Helper()
	var connections atomic.Int32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			_ = c.Close()
		}
	}()
	return l, &connections
}

// TestValidatorNeverDialsOtherHosts: a host outside the cluster's services is never
// dialed. With the user's own authentication, the object is admitted with a warning;
// with the TriggerAuthentication innokeda keeps, which holds the cluster's credentials,
// it is denied: KEDA would send those credentials to that host.
func TestValidatorNeverDialsOtherHosts(t *testing.T) {
	l, connections := countingListener(t)
	host, port, _ := net.SplitHostPort(l.Addr().String())
	f := newValidatorFixture(t, "127.0.0.1:1", webhook.OnUnreachableDeny,
		secretObj("app-creds", map[string]string{"password": harness.AppPassword, "user": harness.AppUser}),
		triggerAuth("app-auth", ref("password", "app-creds", "password"), ref("username", "app-creds", "user")))
	for _, h := range []string{host, "localhost", "kubernetes.default.svc.cluster.local"} {
		own := filled(gen.WithTriggerMetadata(0, "host", h, "port", port), gen.WithAuthenticationRef(0, "", "app-auth"))
		resp := f.handle(t, request(t, admissionv1.Create, own))
		if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "not dry-run: host ") {
			t.Errorf("host %s, own authentication: allowed=%v %q %s; want admitted with a not-dry-run warning", h, resp.Allowed, resp.Warnings, denial(resp))
		}
		innokedas := filled(gen.WithTriggerMetadata(0, "host", h, "port", port))
		resp = f.handle(t, request(t, admissionv1.Create, innokedas))
		if want := "KEDA would send the credentials of TriggerAuthentication mycluster-innokeda there"; resp.Allowed || !strings.Contains(denial(resp), want) {
			t.Errorf("host %s, innokeda's authentication: allowed=%v %s; want denied: %s", h, resp.Allowed, denial(resp), want)
		}
		if strings.Contains(denial(resp), harness.AppPassword) {
			t.Error("the denial holds the password")
		}
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("%d connections to a host outside the cluster's services", n)
	}
}

// TestValidatorDialsOnlyTheOperatorsServers: a host name of the cluster is dialed only
// when the API objects behind it are the MySQL Operator's, whatever DNS would say. Every
// name is aliased to a listener here, so a dial that should not happen would be seen.
func TestValidatorDialsOnlyTheOperatorsServers(t *testing.T) {
	l, connections := countingListener(t)
	cluster, sts := testCluster()
	const member0 = "mycluster-0.mycluster-instances.db.svc.cluster.local"
	router := "mycluster.db.svc.cluster.local"
	// An ExternalName Service made before the operator's, which the operator then keeps.
	externalName := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: vns, Name: "mycluster-instances"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "mysql.attacker.example"}}
	// A Service of the right name and labels, owned by nothing.
	unowned := gen.InstancesService(cluster)
	unowned.OwnerReferences = nil
	// A pod of a member's name, hostname, subdomain and labels, owned by nothing.
	impostor := gen.MemberPod(sts, 0, "10.244.9.9")
	impostor.OwnerReferences = nil
	// A router Service that is headless.
	headless := gen.RouterService(cluster)
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	tests := []struct {
		name  string
		extra []client.Object
		host  string
		want  string
	}{
		{"ExternalName instances service", []client.Object{externalName}, instances,
			"spec.triggers[0]: not dry-run: host " + instances + " names Service mycluster-instances, which is of type ExternalName (a DNS alias for another host), so it is not the MySQL Operator's: find out who created it, and delete it; " +
				"innokeda only connects to the MySQL Operator's services and pods of the cluster, at the addresses the API server gives for them, so only the static checks were made"},
		{"ExternalName instances service, a member's name", []client.Object{externalName}, member0,
			"spec.triggers[0]: not dry-run: host " + member0 + " names Service mycluster-instances, which is of type ExternalName"},
		{"instances service owned by nothing", []client.Object{unowned}, instances,
			"spec.triggers[0]: not dry-run: host " + instances + " names Service mycluster-instances, which is not the MySQL Operator's: its controller is none, not InnoDBCluster mycluster (UID 7d2c9a40-cluster)"},
		{"a pod of a member's name that no StatefulSet controls", []client.Object{impostor}, member0,
			"spec.triggers[0]: not dry-run: host " + member0 + " names pod mycluster-0, which is not a pod of StatefulSet mycluster: its controller is none: find out who created it, and delete it"},
		{"headless router service", []client.Object{headless}, router,
			"spec.triggers[0]: not dry-run: host " + router + ` names Service mycluster, which has no cluster IP (clusterIP "None")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newValidatorFixtureReading(t, operatorObjects(tc.extra...), l.Addr().String(), webhook.OnUnreachableDeny)
			resp := f.handle(t, request(t, admissionv1.Create, filled(gen.WithTriggerMetadata(0, "host", tc.host))))
			if !resp.Allowed || len(resp.Warnings) != 1 || !strings.HasPrefix(resp.Warnings[0], tc.want) {
				t.Errorf("allowed=%v %q %s\nwant admitted with one warning starting %q", resp.Allowed, resp.Warnings, denial(resp), tc.want)
			}
			if n := connections.Swap(0); n != 0 {
				t.Errorf("%d connection(s) to a host that is not the operator's", n)
			}
		})
	}
	t.Run("the operator's objects: dialed", func(t *testing.T) {
		f := newValidatorFixtureReading(t, operatorObjects(), l.Addr().String(), webhook.OnUnreachableWarn)
		for _, host := range []string{instances, member0, router} {
			f.handle(t, request(t, admissionv1.Create, filled(gen.WithTriggerMetadata(0, "host", host))))
			if n := connections.Swap(0); n != 1 {
				t.Errorf("host %s: %d connection(s), want 1", host, n)
			}
		}
	})
}

// failingLists is a cache whose lists fail, as when an informer cannot sync.
type failingLists struct{ memoryReader }

func (failingLists) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("timed out waiting for the informer to sync")
}

func TestValidatorWhenTheServersCannotBeLookedUp(t *testing.T) {
	tests := []struct {
		policy  string
		allowed bool
		want    string
	}{
		{webhook.OnUnreachableWarn, true, "spec.triggers[0]: the query was not validated: innokeda could not look up the services and pods of InnoDBCluster mycluster: " +
			"list the pods of InnoDBCluster db/mycluster: timed out waiting for the informer to sync"},
		{webhook.OnUnreachableDeny, false, "spec.triggers[0]: Invalid value: the query was not validated: innokeda could not look up the services and pods of InnoDBCluster mycluster: " +
			"list the pods of InnoDBCluster db/mycluster: timed out waiting for the informer to sync; innokeda is set to deny what it cannot validate (--on-unreachable=deny)"},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			f := newValidatorFixtureReading(t, failingLists{operatorObjects()}, "127.0.0.1:1", tc.policy)
			resp := f.handle(t, request(t, admissionv1.Create, filled()))
			got := strings.Join(resp.Warnings, "\n") + denial(resp)
			if resp.Allowed != tc.allowed || !strings.Contains(got, tc.want) {
				t.Errorf("allowed=%v %q\nwant allowed=%v and %q", resp.Allowed, got, tc.allowed, tc.want)
			}
		})
	}
}

func TestValidatorSkipsUpdatesThatChangeNoTrigger(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableDeny)
	ctx := context.Background()
	old := filled()
	before, err := db.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, changed := range []*kedav1alpha1.ScaledObject{
		gen.ScaledObjectFrom(old, func(so *kedav1alpha1.ScaledObject) { so.Finalizers = []string{"finalizer.keda.sh"} }),
		gen.ScaledObjectFrom(old, func(so *kedav1alpha1.ScaledObject) { so.Labels = map[string]string{"scaledobject.keda.sh/name": "so"} }),
		gen.ScaledObjectFrom(old, func(so *kedav1alpha1.ScaledObject) { so.Status.Conditions = kedav1alpha1.Conditions{{Type: "Ready"}} }),
	} {
		req := request(t, admissionv1.Update, changed)
		raw, _ := json.Marshal(old)
		req.OldObject.Raw = raw
		if resp := f.handle(t, req); !resp.Allowed || len(resp.Warnings) != 0 {
			t.Errorf("allowed=%v warnings=%q", resp.Allowed, resp.Warnings)
		}
	}
	after, err := db.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The admin connection's own queries open no new connection.
	if after != before {
		t.Errorf("%d MySQL connections for metadata-only updates, want 0", after-before)
	}
	// A change to a trigger is validated again.
	changed := gen.ScaledObjectFrom(old, withQuery("SELECT id FROM testdb.testtable WHERE 1 = 0"))
	req := request(t, admissionv1.Update, changed)
	req.OldObject.Raw, _ = json.Marshal(old)
	if resp := f.handle(t, req); resp.Allowed {
		t.Error("an update to a query returning no rows was admitted")
	}
}

// BenchmarkValidate measures the validating handler with a dry-run against the local
// MariaDB, the server warm. Target: under 5 ms per request on loopback.
func BenchmarkValidate(b *testing.B) {
	db := harness.SharedMariaDB(b)
	f := newValidatorFixture(b, db.Addr, webhook.OnUnreachableDeny)
	req := request(b, admissionv1.Create, filled())
	b.ReportAllocs()
	for b.Loop() {
		if resp := f.handle(b, req); !resp.Allowed {
			b.Fatal(denial(resp))
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestValidatorStopsAtTheFirstTriggerThatDenies: once the answer is a denial (with
// --on-unreachable=deny, a trigger that could not be validated), later triggers are not
// dry-run; with warn, each trigger is.
func TestValidatorStopsAtTheFirstTriggerThatDenies(t *testing.T) {
	dials := map[string]int32{}
	for _, policy := range []string{webhook.OnUnreachableDeny, webhook.OnUnreachableWarn} {
		t.Run(policy, func(t *testing.T) {
			l, connections := countingListener(t)
			so := filled(gen.WithMySQLTrigger(query, "3"),
				gen.WithTriggerMetadata(1, "host", instances, "port", "3306"), gen.WithAuthenticationRef(1, "", "mycluster-innokeda"))
			resp := newValidatorFixture(t, l.Addr().String(), policy).handle(t, request(t, admissionv1.Create, so))
			got := strings.Join(resp.Warnings, "\n") + denial(resp)
			if !strings.Contains(got, "spec.triggers[0]") || (policy == webhook.OnUnreachableDeny) == strings.Contains(got, "spec.triggers[1]") {
				t.Errorf("%s: allowed=%v %q", policy, resp.Allowed, got)
			}
			dials[policy] = connections.Load()
		})
	}
	if dials[webhook.OnUnreachableDeny] == 0 || dials[webhook.OnUnreachableWarn] != 2*dials[webhook.OnUnreachableDeny] {
		t.Errorf("connections for two triggers: deny %d, warn %d; want the second trigger dry-run under warn only", dials[webhook.OnUnreachableDeny], dials[webhook.OnUnreachableWarn])
	}
}
