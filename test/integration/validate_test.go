package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/test/gen"
)

// TestValidatingWebhookThroughAPIServer: on create, the API server calls innokeda's
// mutating webhook, then its validating one, which dry-runs the filled trigger against
// MariaDB; the client sees the warnings, or the denial.
func TestValidatingWebhookThroughAPIServer(t *testing.T) {
	const ns = "validate"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	createCluster(t, c, ns, "mycluster", "", gen.WithClusterAnnotation(annotations.Database, "testdb"))

	t.Run("filled, then dry-run: admitted with the predicted replicas", func(t *testing.T) {
		warnings.Take()
		so := gen.ScaledObject(ns, "good", "mycluster",
			gen.WithMySQLTrigger("SELECT CEIL(COUNT(*) / 6) FROM testtable WHERE testcolumn2='none'", "1"))
		mustCreate(t, c, so)
		got := warnings.Take()
		want := "spec.triggers[0]: dry-run returned 2 in "
		wantSuffix := "KEDA would aim at 3 replica(s), ceil(2 / 1) within [3, 9]"
		found := false
		for _, w := range got {
			found = found || strings.HasPrefix(w, want) && strings.HasSuffix(w, wantSuffix)
		}
		if !found {
			t.Errorf("warnings %q, want one %q...%q", got, want, wantSuffix)
		}
		stored := &kedav1alpha1.ScaledObject{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
			t.Fatal(err)
		}
		if stored.Spec.Triggers[0].Metadata["dbName"] != "testdb" {
			t.Errorf("stored trigger metadata %v: the mutating webhook did not run first", stored.Spec.Triggers[0].Metadata)
		}
	})

	t.Run("a query returning NULL is denied, with a message that says how to fix it", func(t *testing.T) {
		so := gen.ScaledObject(ns, "null", "mycluster",
			gen.WithMySQLTrigger("SELECT price FROM testtable WHERE testcolumn = 'c'", "1"))
		err := c.Create(ctx, so)
		want := `admission webhook "vscaledobject.innokeda.io" denied the request: ScaledObject.keda.sh "null" is invalid: ` +
			"spec.triggers[0].metadata.query: Invalid value: the query returned NULL, which KEDA cannot convert to a number: wrap the expression in COALESCE(..., 0)"
		if err == nil || err.Error() != want {
			t.Fatalf("create error = %v\nwant %s", err, want)
		}
		if !apierrors.IsInvalid(err) {
			t.Errorf("error is not a 422 Invalid: %v", err)
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) || len(status.Status().Details.Causes) != 1 || status.Status().Details.Causes[0].Field != "spec.triggers[0].metadata.query" {
			t.Errorf("causes: %+v", status)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), &kedav1alpha1.ScaledObject{}); !apierrors.IsNotFound(err) {
			t.Errorf("a denied ScaledObject was stored: %v", err)
		}
	})

	t.Run("a write is denied before any connection", func(t *testing.T) {
		before, err := mariadb.TableChecksum(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Create(ctx, gen.ScaledObject(ns, "drop", "mycluster", gen.WithMySQLTrigger("SELECT 1; DROP TABLE testdb.testtable", "1")))
		if err == nil || !strings.Contains(err.Error(), "spec.triggers[0].metadata.query: Invalid value: the query holds 2 statements") {
			t.Fatalf("create error = %v", err)
		}
		if after, err := mariadb.TableChecksum(ctx); err != nil || after != before {
			t.Errorf("testtable changed: %s -> %s (%v)", before, after, err)
		}
	})
}

// The cluster owner's bound through the API server, with KEDA polling as root (the
// default): a query outside it is denied and never reaches MySQL, a query inside it is
// dry-run; root reads no system schema, bound or not.
func TestReadBoundAsRootThroughAPIServer(t *testing.T) {
	const ns = "bound"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	createCluster(t, c, ns, "mycluster", "", gen.WithClusterAnnotation(annotations.Database, "testdb"),
		gen.WithClusterAnnotation(annotations.AllowedTables, "testdb.testtable"))
	for _, tc := range []struct {
		name, object, query string
		denied              string // "": admitted, dry-run
	}{
		{"inside the bound", "inside", "SELECT COUNT(*) FROM testtable", ""},
		{"outside the bound", "outside", "SELECT COUNT(*) FROM testdb.audit_jobs", "the query reads testdb.audit_jobs, outside what InnoDBCluster mycluster allows (annotation innokeda.io/allowed-tables)"},
		{"mysql.user, as root", "mysql-user", "SELECT COUNT(*) FROM mysql.user", "the query reads mysql.user, in "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings.Take()
			before, err := mariadb.Connections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Create(ctx, gen.ScaledObject(ns, tc.object, "mycluster", gen.WithMySQLTrigger(tc.query, "1")))
			after, cerr := mariadb.Connections(ctx)
			if cerr != nil {
				t.Fatal(cerr)
			}
			got := strings.Join(warnings.Take(), "\n")
			switch {
			case tc.denied == "" && err != nil:
				t.Fatalf("denied: %v", err)
			case tc.denied == "" && !strings.Contains(got, "dry-run returned"):
				t.Errorf("admitted without a dry-run: %s", got)
			case tc.denied != "" && (err == nil || !strings.Contains(err.Error(), tc.denied)):
				t.Errorf("error %v, want a denial with %q", err, tc.denied)
			case tc.denied != "" && after != before:
				t.Errorf("MySQL saw %d connection(s) for a denied query, want none", after-before)
			}
		})
	}
}
