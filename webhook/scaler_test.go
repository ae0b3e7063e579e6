package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// recording keeps every response its fixture gives.
type recording struct {
	validatorFixture
	responses *[]admission.Response
}

func (r recording) handle(t testing.TB, req admission.Request) admission.Response {
	resp := r.validatorFixture.handle(t, req)
	*r.responses = append(*r.responses, resp)
	return resp
}

// scalerPassword is the managed scaler account's password in these tests.
const scalerPassword = "ScalerPw0123456789abcdefghijklmnopqrstuv"

// TestValidatorForManagedScalerAccounts: a cluster annotated innokeda.io/scaler-account:
// managed, whose TriggerAuthentication maps the scaler Secret. Its triggers may only read
// what the account may be granted, and a table not granted yet (admission comes before
// the controller's grant) does not fail the dry-run.
func TestValidatorForManagedScalerAccounts(t *testing.T) {
	db := harness.SharedMariaDB(t)
	ctx := context.Background()
	account := fmt.Sprintf("'%s'@'%%'", managed.ScalerUser)
	for _, stmt := range []string{"CREATE USER " + account + " IDENTIFIED BY '" + scalerPassword + "'"} {
		if _, err := db.Admin().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = db.Admin().ExecContext(ctx, "DROP USER IF EXISTS "+account) })

	cluster, _ := testCluster()
	cluster.Annotations[annotations.ScalerAccount] = "managed"
	scalerSecret := managed.ScalerSecret(cluster, scalerPassword)
	objects := operatorObjects(cluster, scalerSecret, managed.ScalerTriggerAuthentication(cluster))
	fixture := newValidatorFixtureReading(t, objects, db.Addr, webhook.OnUnreachableDeny, func(o *webhook.ValidatorOptions) { o.ScalerAccounts = true })
	var responses []admission.Response
	enabled := recording{fixture, &responses}

	for _, tc := range []struct {
		name, query, username, dbName, denial string
	}{
		{name: "the mysql schema", query: "SELECT COUNT(*) FROM mysql.user", denial: "the query reads mysql.user, in the mysql schema, which holds the server's accounts, their password hashes and its privileges: no scaler's query may read it, whatever account KEDA polls as"},
		{name: "sys, through a join", query: "SELECT COUNT(*) FROM testdb.testtable JOIN sys.version", denial: "the sys schema"},
		{name: "a table without a schema and no dbName", query: "SELECT COUNT(*) FROM testtable", denial: "qualify table testtable with its schema"},
		{name: "a dbName the query reads no table of", query: "SELECT COUNT(*) FROM testdb.testtable", dbName: "otherdb", denial: `spec.triggers[0].metadata.dbName: Invalid value: KEDA polls as MySQL account innokeda_scaler`},
		{name: "the processlist without PROCESS", query: "SELECT COUNT(*) FROM information_schema.processlist", denial: "annotate the InnoDBCluster innokeda.io/scaler-privileges: PROCESS"},
		{name: "a username that overrides the account", query: "SELECT COUNT(*) FROM testdb.testtable", username: "root", denial: `spec.triggers[0].metadata.username: Invalid value: KEDA polls as MySQL account innokeda_scaler (innokeda.io/scaler-account: managed), which innokeda grants SELECT on the tables the query reads and nothing else; the trigger sets metadata.username "root", which KEDA uses instead`},
	} {
		t.Run("denied: "+tc.name, func(t *testing.T) {
			so := filled(withQuery(tc.query))
			if tc.username != "" {
				so = gen.ScaledObjectFrom(so, gen.WithTriggerMetadata(0, "username", tc.username))
			}
			if tc.dbName != "" {
				so = gen.ScaledObjectFrom(so, gen.WithTriggerMetadata(0, "dbName", tc.dbName))
			}
			resp := enabled.handle(t, request(t, admissionv1.Create, so))
			if resp.Allowed || !strings.Contains(denial(resp), tc.denial) {
				t.Errorf("allowed %v, denial %q; want it to say %q", resp.Allowed, denial(resp), tc.denial)
			}
		})
	}

	t.Run("not granted yet: dry-run as root, with a warning", func(t *testing.T) {
		resp := enabled.handle(t, request(t, admissionv1.Create, filled()))
		all := strings.Join(resp.Warnings, "\n")
		if !resp.Allowed || !strings.Contains(all, "has no SELECT yet on a table the query reads") || !strings.Contains(all, "dry-run as root returned one number in") || strings.Contains(all, "dry-run returned 2") {
			t.Fatalf("allowed %v (%s), warnings:\n%s", resp.Allowed, denial(resp), all)
		}
	})

	// Root reads what the account will read only for base tables and built-in functions.
	for _, tc := range []struct{ name, query, why string }{
		{name: "information_schema", query: "SELECT COUNT(*) FROM testdb.testtable JOIN information_schema.tables",
			why: "the query reads information_schema.TABLES, whose rows depend on who reads them"},
	} {
		t.Run("not granted yet, not run as root: "+tc.name, func(t *testing.T) {
			before, err := db.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			resp := enabled.handle(t, request(t, admissionv1.Create, filled(withQuery(tc.query))))
			all := strings.Join(resp.Warnings, "\n")
			if !resp.Allowed || !strings.Contains(all, "not dry-run: MySQL account innokeda_scaler has no SELECT yet") || !strings.Contains(all, tc.why) || strings.Contains(all, "dry-run returned") {
				t.Errorf("allowed %v (%s), warnings:\n%s", resp.Allowed, denial(resp), all)
			}
			after, err := db.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the server changed (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("granted: dry-run as the account, no warning about grants", func(t *testing.T) {
		if _, err := db.Admin().ExecContext(ctx, "GRANT SELECT ON testdb.testtable TO "+account); err != nil {
			t.Fatal(err)
		}
		resp := enabled.handle(t, request(t, admissionv1.Create, filled(withQuery("SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 = 'none'"))))
		all := strings.Join(resp.Warnings, "\n")
		if !resp.Allowed || strings.Contains(all, "no SELECT yet") || !strings.Contains(all, "dry-run returned 1") {
			t.Fatalf("allowed %v (%s), warnings:\n%s", resp.Allowed, denial(resp), all)
		}
	})

	t.Run("a table root cannot read either is still denied", func(t *testing.T) {
		resp := enabled.handle(t, request(t, admissionv1.Create, filled(withQuery("SELECT COUNT(*) FROM testdb.nosuchtable"))))
		if resp.Allowed || !strings.Contains(denial(resp), "doesn't exist") && !strings.Contains(denial(resp), "1146") {
			t.Errorf("allowed %v, denial %q", resp.Allowed, denial(resp))
		}
	})

	t.Run("with --scaler-accounts=false the annotation changes nothing", func(t *testing.T) {
		disabled := newValidatorFixtureReading(t, objects, db.Addr, webhook.OnUnreachableDeny)
		resp := disabled.handle(t, request(t, admissionv1.Create, filled(withQuery("SELECT COUNT(*) FROM mysql.user"))))
		if resp.Allowed || strings.Contains(denial(resp), "never grants") {
			t.Errorf("allowed %v, denial %q; want MySQL's refusal, not innokeda's grant check", resp.Allowed, denial(resp))
		}
	})

	t.Run("no password in any response or log line", func(t *testing.T) {
		out, err := json.Marshal(responses)
		if err != nil {
			t.Fatal(err)
		}
		everything := string(out) + enabled.logs.String()
		for _, secret := range []string{scalerPassword, db.RootPassword} {
			if strings.Contains(everything, secret) {
				t.Errorf("a password appears in a response or a log line")
			}
		}
		if len(responses) < 6 {
			t.Errorf("only %d responses were checked", len(responses))
		}
	})
}
