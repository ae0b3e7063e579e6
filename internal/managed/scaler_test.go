package managed_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/sqltables"
	"github.com/innokeda/innokeda/test/gen"
)

func TestScalerGrantsFor(t *testing.T) {
	cluster := gen.InnoDBCluster("db", "mycluster")
	mysqlTrigger := func(query string, kv ...string) kedav1alpha1.ScaleTriggers {
		md := map[string]string{"query": query}
		for i := 0; i+1 < len(kv); i += 2 {
			md[kv[i]] = kv[i+1]
		}
		return kedav1alpha1.ScaleTriggers{Type: "mysql", Metadata: md, AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: "mycluster-innokeda"}}
	}
	so := func(name string, triggers ...kedav1alpha1.ScaleTriggers) kedav1alpha1.ScaledObject {
		return kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name}, Spec: kedav1alpha1.ScaledObjectSpec{Triggers: triggers}}
	}
	deleting := so("deleting", mysqlTrigger("SELECT COUNT(*) FROM shop.deleted"))
	deleting.DeletionTimestamp = &metav1.Time{}
	otherNamespace := so("elsewhere", mysqlTrigger("SELECT COUNT(*) FROM shop.elsewhere"))
	otherNamespace.Namespace = "other"
	otherAuth := mysqlTrigger("SELECT COUNT(*) FROM shop.own")
	otherAuth.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: "own-auth"}
	clusterAuth := mysqlTrigger("SELECT COUNT(*) FROM shop.cluster")
	clusterAuth.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: "mycluster-innokeda", Kind: "ClusterTriggerAuthentication"}
	cpu := kedav1alpha1.ScaleTriggers{Type: "cpu", Metadata: map[string]string{"value": "50"}, AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: "mycluster-innokeda"}}

	long := strings.Repeat("t", 65)
	got := managed.ScalerGrantsFor(cluster, innodbcluster.ScalerSettings{Account: innodbcluster.ScalerAccountManaged}, []kedav1alpha1.ScaledObject{
		so("orders", mysqlTrigger("WITH recent AS (SELECT id FROM orders) SELECT COUNT(*) FROM recent JOIN shop.items USING (id)", "dbName", "app")),
		so("dupe", mysqlTrigger("SELECT COUNT(*) FROM shop.items"), otherAuth, clusterAuth, cpu),
		so("secrets", mysqlTrigger("SELECT COUNT(*) FROM mysql.user")),
		so("unqualified", mysqlTrigger("SELECT COUNT(*) FROM orders")),
		so("root", mysqlTrigger("SELECT COUNT(*) FROM shop.rooted", "username", "root")),
		so("schemata", mysqlTrigger("SELECT COUNT(*) FROM information_schema.schemata")),
		so("processes", mysqlTrigger("SELECT COUNT(*) FROM information_schema.processlist")),
		so("elsewhere-db", mysqlTrigger("SELECT COUNT(*) FROM shop.items", "dbName", "app")),
		so("long", mysqlTrigger("SELECT COUNT(*) FROM shop."+long)),
		so("tab", mysqlTrigger("SELECT COUNT(*) FROM orders", "dbName", "ap\tp")),
		deleting, otherNamespace,
	})
	wantTables := []sqltables.Table{{Schema: "app", Name: "orders"}, {Schema: "shop", Name: "items"}}
	if diff := cmp.Diff(wantTables, got.Tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	if got.Triggers != 10 {
		t.Errorf("%d triggers poll with the account, want 10", got.Triggers)
	}
	wantNames := []string{"dupe", "elsewhere-db", "long", "orders", "processes", "root", "schemata", "secrets", "tab", "unqualified"}
	if diff := cmp.Diff(wantNames, got.ScaledObjects); diff != "" {
		t.Errorf("ScaledObjects (-want +got):\n%s", diff)
	}
	wantProblems := []string{
		"ScaledObject secrets spec.triggers[0]: the query reads mysql.user: innokeda never grants",
		"ScaledObject unqualified spec.triggers[0]: the query names table orders without a schema",
		`ScaledObject root spec.triggers[0]: sets metadata.username "root", which KEDA uses instead`,
		"ScaledObject processes spec.triggers[0]: the query reads information_schema.PROCESSLIST, which shows the account only its own sessions",
		`ScaledObject elsewhere-db spec.triggers[0]: KEDA opens its connections in database "app" (dbName), and the query reads no table there`,
		"ScaledObject long spec.triggers[0]: the query reads shop." + long + ", whose name",
		"ScaledObject tab spec.triggers[0]: the query reads `ap\tp`.orders, whose name \"ap\\tp\" contains the byte 0x09",
	}
	if len(got.Problems) != len(wantProblems) {
		t.Fatalf("problems %q, want %d", got.Problems, len(wantProblems))
	}
	for i, want := range wantProblems {
		if !strings.HasPrefix(got.Problems[i], want) {
			t.Errorf("problem %d: %q, want it to start %q", i, got.Problems[i], want)
		}
	}
}

func TestScalerSecret(t *testing.T) {
	cluster := gen.InnoDBCluster("db", "mycluster")
	cluster.UID = "uid-1"
	secret := managed.ScalerSecret(cluster, strings.Repeat("a", 40))
	if secret.Name != "mycluster-innokeda-scaler" || !managed.OwnedBy(secret, cluster) {
		t.Errorf("Secret %s, owners %+v", secret.Name, secret.OwnerReferences)
	}
	if pw, ok := managed.ScalerPassword(secret); !ok || pw != strings.Repeat("a", 40) {
		t.Errorf("ScalerPassword = %q, %v", pw, ok)
	}
	for name, data := range map[string]map[string][]byte{
		"another account":  {"username": []byte("root"), "password": []byte(strings.Repeat("a", 40))},
		"a short password": {"username": []byte(managed.ScalerUser), "password": []byte("short")},
		"no password":      {"username": []byte(managed.ScalerUser)},
	} {
		secret.Data = data
		if _, ok := managed.ScalerPassword(secret); ok {
			t.Errorf("%s: the Secret was taken as it is", name)
		}
	}
	ta := managed.ScalerTriggerAuthentication(cluster)
	if !managed.MapsScalerAccount(ta, cluster) || managed.MapsScalerAccount(managed.TriggerAuthentication(cluster, true), cluster) {
		t.Error("MapsScalerAccount does not tell the scaler TriggerAuthentication from root's")
	}
}
