package webhook_test

import (
	"context"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// clusterBound is the test cluster with innokeda.io/allowed-tables set to bound, or
// without the annotation when bound is "-".
func clusterBound(bound string) *innodbcluster.InnoDBCluster {
	cluster, _ := testCluster()
	if bound == "-" {
		delete(cluster.Annotations, annotations.AllowedTables)
	} else {
		cluster.Annotations[annotations.AllowedTables] = bound
	}
	return cluster
}

// The cluster owner's bound holds in every account mode, before any dry-run: a query that
// reads outside it is denied and never sent to MySQL; one inside it is dry-run as before.
func TestReadBound(t *testing.T) {
	db := harness.SharedMariaDB(t)
	dbFromSecret := secretObj("dbsecret", map[string]string{"db": harness.Database, "user": harness.AppUser, "pw": harness.AppPassword})
	dbAuth := triggerAuth("db-auth", ref("dbName", "dbsecret", "db"), ref("username", "dbsecret", "user"), ref("password", "dbsecret", "pw"))
	scalerCluster := func(bound string) *innodbcluster.InnoDBCluster {
		c := clusterBound(bound)
		c.Annotations[annotations.ScalerAccount] = "managed"
		return c
	}
	for _, tc := range []struct {
		name    string
		cluster *innodbcluster.InnoDBCluster
		so      *kedav1alpha1.ScaledObject
		denied  []string // substrings of the denial; none: admitted
		warning string   // a substring of a warning
		dialed  bool     // MySQL saw the dry-run
	}{
		{name: "a table it lists", cluster: clusterBound("testdb.testtable"), so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable")),
			warning: "dry-run returned 13", dialed: true},
		{name: "a schema it lists", cluster: clusterBound("testdb.*"), so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable")),
			warning: "dry-run returned 13", dialed: true},
		{name: "another schema", cluster: clusterBound("testdb.*"), so: filled(withQuery("SELECT COUNT(*) FROM privdb.secrets")),
			denied: []string{"spec.triggers[0].metadata.query", "the query reads privdb.secrets, outside what InnoDBCluster mycluster allows (annotation innokeda.io/allowed-tables)"}},
		{name: "another table, unqualified, with dbName in the metadata", cluster: clusterBound("testdb.other"),
			so:     filled(withQuery("SELECT COUNT(*) FROM testtable"), gen.WithTriggerMetadata(0, "dbName", harness.Database)),
			denied: []string{"the query reads testdb.testtable, outside"}},
		{name: "one table of a join outside", cluster: clusterBound("testdb.testtable"),
			so:     filled(withQuery("SELECT COUNT(*) FROM testdb.testtable t JOIN (SELECT id FROM privdb.secrets) s ON s.id = t.id")),
			denied: []string{"the query reads privdb.secrets, outside"}},
		{name: "names compare byte for byte", cluster: clusterBound("testdb.*"), so: filled(withQuery("SELECT COUNT(*) FROM TESTDB.testtable")),
			denied: []string{"the query reads TESTDB.testtable, outside"}},
		{name: "an entry that cannot be read allows nothing", cluster: clusterBound("testdb.*, testdb"), so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable")),
			denied: []string{"which allows nothing while any of its entries cannot be read", `"testdb" is not schema.table or schema.*`}},
		{name: "the database from a Secret: named by its source", cluster: clusterBound("privdb.*"),
			so:     filled(withQuery("SELECT COUNT(*) FROM testtable"), gen.WithTriggerMetadata(0, "dbName", "", "username", ""), gen.WithAuthenticationRef(0, "", "db-auth")),
			denied: []string{"the query reads testtable (in the database from Secret dbsecret key db"}},
		{name: "the managed account's mode too", cluster: scalerCluster("privdb.*"), so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable")),
			denied: []string{"the query reads testdb.testtable, outside"}},
		{name: "information_schema is outside unless listed", cluster: clusterBound("testdb.*"),
			so:     filled(withQuery("SELECT COUNT(*) FROM information_schema.tables")),
			denied: []string{"the query reads information_schema.TABLES, outside"}},
		{name: "information_schema in any case, or as the database", cluster: clusterBound("testdb.*"),
			so:     filled(withQuery("SELECT COUNT(*) FROM tables"), gen.WithTriggerMetadata(0, "dbName", "INFORMATION_SCHEMA")),
			denied: []string{"the query reads INFORMATION_SCHEMA.tables, outside"}},
		{name: "an information_schema table it lists, in any case", cluster: clusterBound("testdb.*, Information_Schema.processlist"),
			so:      filled(withQuery("SELECT COUNT(*) FROM INFORMATION_SCHEMA.PROCESSLIST WHERE 1 = 0")),
			warning: "dry-run returned 0", dialed: true},
		{name: "information_schema.* lists every table of it", cluster: clusterBound("information_schema.*"),
			so:      filled(withQuery("SELECT COUNT(*) FROM information_schema.processlist WHERE 1 = 0")),
			warning: "dry-run returned 0", dialed: true},
		{name: "no bound: admitted, with a warning naming the annotation", cluster: clusterBound("-"), so: filled(withQuery("SELECT COUNT(*) FROM testdb.testtable")),
			warning: "InnoDBCluster mycluster has no innokeda.io/allowed-tables annotation", dialed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, []client.Object{tc.cluster, dbFromSecret, dbAuth}...)
			ctx := context.Background()
			before, err := db.Connections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			resp := f.handle(t, request(t, admissionv1.Create, tc.so))
			after, err := db.Connections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := denial(resp)
			if len(tc.denied) == 0 && !resp.Allowed {
				t.Fatalf("denied: %s", got)
			}
			for _, want := range tc.denied {
				if resp.Allowed || !strings.Contains(got, want) {
					t.Errorf("allowed=%v %q\nwant a denial with %q", resp.Allowed, got, want)
				}
			}
			if tc.warning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one with %q", resp.Warnings, tc.warning)
			}
			if tc.name == "the database from a Secret: named by its source" && strings.Contains(got, harness.Database+".testtable") {
				t.Errorf("the denial names the Secret's database: %s", got)
			}
			if dialed := after > before; dialed != tc.dialed {
				t.Errorf("MySQL saw %d connection(s), want a dry-run: %v", after-before, tc.dialed)
			}
		})
	}
}

// A denial names each table from the query's text alone: a query that names a table both
// with the schema a Secret's database might be and without one gets the same denial
// whether or not the guess is right.
func TestReadBoundDenialDoesNotDependOnASecretsDatabase(t *testing.T) {
	db := harness.SharedMariaDB(t)
	var answers []string
	for _, secretDB := range []string{"testdb", "otherdb"} {
		extra := []client.Object{clusterBound("privdb.*"),
			secretObj("dbsecret", map[string]string{"db": secretDB, "user": harness.AppUser, "pw": harness.AppPassword}),
			triggerAuth("db-auth", ref("dbName", "dbsecret", "db"), ref("username", "dbsecret", "user"), ref("password", "dbsecret", "pw"))}
		f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
		so := filled(withQuery("SELECT COUNT(*) FROM testdb.testtable JOIN testtable USING (id)"),
			gen.WithTriggerMetadata(0, "dbName", "", "username", ""), gen.WithAuthenticationRef(0, "", "db-auth"))
		resp := f.handle(t, request(t, admissionv1.Create, so))
		if resp.Allowed {
			t.Fatalf("admitted with the database %q", secretDB)
		}
		answers = append(answers, denial(resp))
	}
	if answers[0] != answers[1] {
		t.Errorf("the denial depends on the Secret's database:\n%s\n%s", answers[0], answers[1])
	}
	if !strings.Contains(answers[0], "the query reads testtable (in the database from Secret dbsecret key db (TriggerAuthentication db-auth secretTargetRef[0] (parameter dbName))), testdb.testtable, outside") {
		t.Errorf("denial %s", answers[0])
	}
}

// A connection string's database is the one KEDA and the dry-run open, whatever
// metadata.dbName says: the bound and the system schemas are checked against it.
func TestAConnectionStringsDatabaseIsChecked(t *testing.T) {
	db := harness.SharedMariaDB(t)
	for _, tc := range []struct{ name, dsnDB, bound, want string }{
		{"a system schema", "mysql", "testdb.*", "is a system schema that no scaler's query may read"},
		{"outside the bound", "privdb", "testdb.*", "the query reads secrets (in the database from Secret dsn key dsn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := harness.AppUser + ":" + harness.AppPassword + "@tcp(" + instances + ":3306)/" + tc.dsnDB
			extra := []client.Object{clusterBound(tc.bound), secretObj("dsn", map[string]string{"dsn": dsn}), triggerAuth("dsn-auth", ref("connectionString", "dsn", "dsn"))}
			f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
			so := filled(withQuery("SELECT COUNT(*) FROM secrets"), gen.WithTriggerMetadata(0, "dbName", harness.Database, "host", "", "port", ""),
				gen.WithAuthenticationRef(0, "", "dsn-auth"))
			resp := f.handle(t, request(t, admissionv1.Create, so))
			if resp.Allowed || !strings.Contains(denial(resp), tc.want) {
				t.Errorf("allowed=%v %q %q\nwant a denial with %q", resp.Allowed, denial(resp), resp.Warnings, tc.want)
			}
		})
	}
}

// Which of the tables a Secret's database completes is outside the bound is not told:
// they are named together, the same for every database that leaves one outside.
func TestReadBoundNamesTablesOfASecretsDatabaseTogether(t *testing.T) {
	db := harness.SharedMariaDB(t)
	var answers []string
	for _, secretDB := range []string{"testdb", "privdb"} {
		extra := []client.Object{clusterBound("testdb.testtable, privdb.secrets"),
			secretObj("dbsecret", map[string]string{"db": secretDB, "user": harness.AppUser, "pw": harness.AppPassword}),
			triggerAuth("db-auth", ref("dbName", "dbsecret", "db"), ref("username", "dbsecret", "user"), ref("password", "dbsecret", "pw"))}
		f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
		so := filled(withQuery("SELECT (SELECT COUNT(*) FROM testtable) + (SELECT COUNT(*) FROM secrets)"),
			gen.WithTriggerMetadata(0, "dbName", "", "username", ""), gen.WithAuthenticationRef(0, "", "db-auth"))
		resp := f.handle(t, request(t, admissionv1.Create, so))
		if resp.Allowed {
			t.Fatalf("admitted with the database %q", secretDB)
		}
		answers = append(answers, denial(resp))
	}
	if answers[0] != answers[1] || !strings.Contains(answers[0], "the query reads secrets, testtable (in the database from Secret dbsecret") {
		t.Errorf("denials:\n%s\n%s", answers[0], answers[1])
	}
}

// Where a TriggerAuthentication gives a parameter from a source innokeda does not read (a
// ConfigMap, a vault, a file), or from two sources of which KEDA takes the later, the
// database KEDA opens is not known: with a bound, a query with an unqualified name is
// refused, in --on-unreachable=deny and warn alike. Found in review: a ConfigMap's DSN of
// another database was admitted, checked against metadata.dbName, which KEDA then ignores.
func TestReadBoundWhenASourceIsNotRead(t *testing.T) {
	db := harness.SharedMariaDB(t)
	dsn := harness.AppUser + ":" + harness.AppPassword + "@tcp(" + instances + ":3306)/"
	secret := secretObj("dsn", map[string]string{"testdb": dsn + "testdb", "user": harness.AppUser, "pw": harness.AppPassword})
	withSpec := func(name string, spec kedav1alpha1.TriggerAuthenticationSpec) *kedav1alpha1.TriggerAuthentication {
		ta := triggerAuth(name)
		ta.Spec = spec
		return ta
	}
	for _, tc := range []struct {
		name string
		auth *kedav1alpha1.TriggerAuthentication
	}{
		{"a connection string from a ConfigMap", withSpec("cm", kedav1alpha1.TriggerAuthenticationSpec{
			ConfigMapTargetRef: []kedav1alpha1.AuthConfigMapTargetRef{{Parameter: "connectionString", Name: "dsn", Key: "shop"}}})},
		{"a vault's connection string over a Secret's", withSpec("vault", kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{ref("connectionString", "dsn", "testdb")},
			HashiCorpVault:  &kedav1alpha1.HashiCorpVault{Secrets: []kedav1alpha1.VaultSecret{{Parameter: "connectionString", Key: "dsn", Path: "secret/shop"}}}})},
		{"a file in place of everything", withSpec("file", kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{ref("username", "dsn", "user"), ref("password", "dsn", "pw")}, FilePath: "/keda/auth.json"})},
	} {
		for _, mode := range []string{webhook.OnUnreachableDeny, webhook.OnUnreachableWarn} {
			t.Run(tc.name+", "+mode, func(t *testing.T) {
				f := newValidatorFixture(t, db.Addr, mode, clusterBound("testdb.*"), secret, tc.auth)
				so := filled(withQuery("SELECT COUNT(*) FROM customers"), gen.WithAuthenticationRef(0, "", tc.auth.Name))
				resp := f.handle(t, request(t, admissionv1.Create, so))
				if want := "spec.triggers[0].metadata.query: Invalid value: the query names a table without a schema, and its credentials come from a source innokeda does not read"; resp.Allowed || !strings.Contains(denial(resp), want) {
					t.Errorf("allowed=%v %q %q\nwant a denial with %q", resp.Allowed, denial(resp), resp.Warnings, want)
				}
			})
		}
	}
}

// KEDA reads a TriggerAuthentication's env, then its secretTargetRef: the Secret's value
// wins, and innokeda checks the bound against it, not against the env's.
func TestSecretTargetRefOverridesEnvAsInKEDA(t *testing.T) {
	db := harness.SharedMariaDB(t)
	ta := triggerAuth("both", ref("dbName", "dbsecret", "db"), ref("username", "dbsecret", "user"), ref("password", "dbsecret", "pw"))
	ta.Spec.Env = []kedav1alpha1.AuthEnvironment{{Parameter: "dbName", Name: "MYSQL_DB"}}
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, clusterBound("testdb.*"), ta,
		secretObj("dbsecret", map[string]string{"db": harness.Database, "user": harness.AppUser, "pw": harness.AppPassword}))
	// The env variable does not exist in the target's container: it would leave dbName
	// unknown, were the Secret not read after it.
	so := filled(withQuery("SELECT COUNT(*) FROM testtable"), gen.WithTriggerMetadata(0, "dbName", "", "username", ""), gen.WithAuthenticationRef(0, "", "both"))
	resp := f.handle(t, request(t, admissionv1.Create, so))
	if !resp.Allowed || !strings.Contains(strings.Join(resp.Warnings, "\n"), "dry-run returned 13") {
		t.Errorf("allowed=%v %q %q: want the query dry-run in the Secret's database, inside the bound", resp.Allowed, denial(resp), resp.Warnings)
	}
}
