package managed

import (
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/sqltables"
)

// The managed scaler account: one per cluster, the same name on every cluster. The name
// is never read back from the Secret: whoever may edit the Secret must not be able to
// point innokeda's GRANTs and REVOKEs at another account, such as root.
const (
	ScalerUser = "innokeda_scaler"
	ScalerHost = "%"
)

// Keys of the scaler Secret, the names KEDA's TriggerAuthentication maps.
const (
	ScalerSecretKeyUsername = "username"
	ScalerSecretKeyPassword = "password"
)

// ScalerSecretName is the Secret that holds the managed scaler account's password.
func ScalerSecretName(cluster string) string { return cluster + "-innokeda-scaler" }

// ScalerSecret returns the Secret innokeda keeps for c's scaler account, owned by c.
func ScalerSecret(c *innodbcluster.InnoDBCluster, password string) *corev1.Secret {
	meta := objectMeta(c)
	meta.Name = ScalerSecretName(c.Name)
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			ScalerSecretKeyUsername: []byte(ScalerUser),
			ScalerSecretKeyPassword: []byte(password),
		},
	}
}

// ScalerPassword returns the password the scaler Secret holds, and false when the Secret
// is not one innokeda can use as it is (a key missing or changed): it is then rewritten
// with a new password.
func ScalerPassword(s *corev1.Secret) (string, bool) {
	password := string(s.Data[ScalerSecretKeyPassword])
	if string(s.Data[ScalerSecretKeyUsername]) != ScalerUser || len(password) < minScalerPassword {
		return "", false
	}
	return password, true
}

// minScalerPassword is the shortest password innokeda accepts back from its own Secret.
const minScalerPassword = 32

// ScalerTriggerAuthentication returns the TriggerAuthentication that maps c's managed
// scaler account: username and password from the scaler Secret.
func ScalerTriggerAuthentication(c *innodbcluster.InnoDBCluster) *kedav1alpha1.TriggerAuthentication {
	ta := TriggerAuthentication(c, false)
	secret := ScalerSecretName(c.Name)
	ta.Spec.SecretTargetRef = []kedav1alpha1.AuthSecretTargetRef{
		{Parameter: "username", Name: secret, Key: ScalerSecretKeyUsername},
		{Parameter: "password", Name: secret, Key: ScalerSecretKeyPassword},
	}
	return ta
}

// MapsScalerAccount tells whether ta maps c's scaler Secret.
func MapsScalerAccount(ta *kedav1alpha1.TriggerAuthentication, c *innodbcluster.InnoDBCluster) bool {
	return slices.ContainsFunc(ta.Spec.SecretTargetRef, func(r kedav1alpha1.AuthSecretTargetRef) bool {
		return r.Name == ScalerSecretName(c.Name)
	})
}

// ScalerGrants is what the scaler account of a cluster needs, from the ScaledObjects
// whose mysql triggers poll with the TriggerAuthentication innokeda keeps for it.
type ScalerGrants struct {
	Tables   []sqltables.Table // sorted, without duplicates
	Triggers int               // the triggers polling with the account
	// Problems are the triggers that will not work with the account, one message each,
	// naming the ScaledObject and the fix. Their tables are not granted.
	Problems []string
}

// UsesManagedAuthentication tells whether trigger t polls with the TriggerAuthentication
// innokeda keeps for cluster: it is a mysql trigger and references it by name, as a
// TriggerAuthentication in its own namespace.
func UsesManagedAuthentication(t kedav1alpha1.ScaleTriggers, cluster string) bool {
	return t.Type == autofill.MySQLTriggerType && t.AuthenticationRef != nil &&
		autofill.KeyOf(t.AuthenticationRef) == autofill.AuthKey{Kind: "TriggerAuthentication", Name: Name(cluster)}
}

// ScalerGrantsFor reads what c's scaler account needs from the ScaledObjects of c's
// namespace. A ScaledObject being deleted needs nothing any more. A query whose tables
// cannot be read, or that reads what the account may never be given (see
// sqltables.Refused), is a problem: the validating webhook denies such a query, so it
// is one written before the cluster asked for the account, or while innokeda was away.
func ScalerGrantsFor(c *innodbcluster.InnoDBCluster, scaledObjects []kedav1alpha1.ScaledObject) ScalerGrants {
	var g ScalerGrants
	found := map[sqltables.Table]bool{}
	for _, so := range scaledObjects {
		if so.Namespace != c.Namespace || so.DeletionTimestamp != nil {
			continue
		}
		for i, t := range so.Spec.Triggers {
			if !UsesManagedAuthentication(t, c.Name) {
				continue
			}
			g.Triggers++
			where := fmt.Sprintf("ScaledObject %s spec.triggers[%d]", so.Name, i)
			if u := strings.TrimSpace(t.Metadata["username"]); u != "" && u != ScalerUser {
				g.Problems = append(g.Problems, fmt.Sprintf("%s sets metadata.username %q, which KEDA uses instead of the TriggerAuthentication's %s: remove it", where, u, ScalerUser))
			}
			tables, err := sqltables.Read(strings.TrimSpace(t.Metadata["query"]), strings.TrimSpace(t.Metadata["dbName"]))
			if err != nil {
				g.Problems = append(g.Problems, fmt.Sprintf("%s: the query %v", where, err))
				continue
			}
			if refused := refusedTable(tables); refused != "" {
				g.Problems = append(g.Problems, fmt.Sprintf("%s: the query %s", where, refused))
				continue
			}
			for _, table := range tables {
				found[table] = true
			}
		}
	}
	for t := range found {
		g.Tables = append(g.Tables, t)
	}
	slices.SortFunc(g.Tables, func(a, b sqltables.Table) int {
		if c := strings.Compare(a.Schema, b.Schema); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return g
}

// refusedTable returns why one of tables may never be granted, or "".
func refusedTable(tables []sqltables.Table) string {
	for _, t := range tables {
		if reason := sqltables.Refused(t); reason != "" {
			return reason
		}
	}
	return ""
}
