package managed

import (
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/innokeda/innokeda/internal/annotations"
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

// OwnsScalerSecret tells whether s is the scaler Secret innokeda keeps for c: controlled
// by c and labelled as innokeda's. Only such a Secret is rewritten or deleted.
func OwnsScalerSecret(s *corev1.Secret, c *innodbcluster.InnoDBCluster) bool {
	return OwnedBy(s, c) && s.Labels[ManagedByLabel] == ManagedByValue
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
	RecordScalerAccount(ta)
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

// RecordScalerAccount marks ta as the record that the scaler account exists.
func RecordScalerAccount(ta *kedav1alpha1.TriggerAuthentication) {
	if ta.Annotations == nil {
		ta.Annotations = map[string]string{}
	}
	ta.Annotations[annotations.ScalerAccountExists] = "true"
}

// ScalerAccountRecorded tells whether ta records that the scaler account exists.
func ScalerAccountRecorded(ta *kedav1alpha1.TriggerAuthentication) bool {
	return ta.Annotations[annotations.ScalerAccountExists] == "true"
}

// ScalerGrants is what the scaler account of a cluster needs, from the ScaledObjects
// whose mysql triggers poll with the TriggerAuthentication innokeda keeps for it.
type ScalerGrants struct {
	Tables   []sqltables.Table // sorted, without duplicates
	Triggers int               // the triggers polling with the account
	// ScaledObjects are the names of those triggers' ScaledObjects, sorted.
	ScaledObjects []string
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

// ScalerProblem is why a trigger cannot work with the scaler account: Field is the
// trigger's metadata key to fix, Message reads after the trigger's name.
type ScalerProblem struct {
	Field, Message string
}

// ScalerTrigger returns the tables the scaler account needs for trigger t (whose
// connection opens in database dbName), or why the account cannot serve it: the
// controller grants those tables and nothing else, so KEDA's polls of such a trigger
// would fail, or, for information_schema.PROCESSLIST without PROCESS, count only the
// account's own sessions. The validating webhook denies these at admission; the
// controller reports those it finds and grants nothing for them.
// The query's reads come back too (empty when it cannot be read), for callers that judge
// them further. query is t's query as sqltables.Analyze read it, or nil to read it here.
func ScalerTrigger(t kedav1alpha1.ScaleTriggers, query *sqltables.Analysis, dbName string, settings innodbcluster.ScalerSettings) (sqltables.Reads, []ScalerProblem) {
	var problems []ScalerProblem
	if u := strings.TrimSpace(t.Metadata["username"]); u != "" && u != ScalerUser {
		problems = append(problems, ScalerProblem{"username", fmt.Sprintf("sets metadata.username %q, which KEDA uses instead of the MySQL account %s that the TriggerAuthentication maps: remove it", u, ScalerUser)})
	}
	if query == nil {
		query = sqltables.Analyze(t.Metadata["query"])
	}
	reads, err := query.Reads(dbName)
	if err != nil {
		return sqltables.Reads{}, append(problems, ScalerProblem{"query", "the query " + err.Error()})
	}
	for _, table := range reads.Tables {
		if reason := sqltables.Refused(table); reason != "" {
			return reads, append(problems, ScalerProblem{"query", "the query " + reason})
		}
		for _, name := range []string{table.Schema, table.Name} {
			if _, err := sqltables.Quote(name); err != nil {
				return reads, append(problems, ScalerProblem{"query", fmt.Sprintf("the query reads %s, whose name %q %v", table, name, err)})
			}
		}
	}
	if dbName != "" && !slices.ContainsFunc(reads.Tables, func(t sqltables.Table) bool { return t.Schema == dbName }) {
		problems = append(problems, ScalerProblem{"dbName", fmt.Sprintf("KEDA opens its connections in database %q (dbName), and the query reads no table there, so the account has no privilege on it and MySQL refuses every connection (error 1044): "+
			"read a table of %q, or leave dbName out (and the InnoDBCluster's %s annotation, which fills it in)", dbName, dbName, annotations.Database)})
	}
	if slices.Contains(reads.InformationSchema, "PROCESSLIST") && !slices.Contains(settings.Privileges, "PROCESS") {
		problems = append(problems, ScalerProblem{"query", fmt.Sprintf("the query reads information_schema.PROCESSLIST, which shows the account only its own sessions: "+
			"annotate the InnoDBCluster %s: PROCESS for it to see every session", annotations.ScalerPrivileges)})
	}
	return reads, problems
}

// ScalerGrantsFor reads what c's scaler account needs from the ScaledObjects of c's
// namespace. A ScaledObject being deleted needs nothing any more. A trigger the account
// cannot serve (ScalerTrigger) is a problem: the validating webhook denies it, so it is
// one written before the cluster asked for the account, or while innokeda was away.
func ScalerGrantsFor(c *innodbcluster.InnoDBCluster, settings innodbcluster.ScalerSettings, scaledObjects []kedav1alpha1.ScaledObject) ScalerGrants {
	var g ScalerGrants
	bound := ReadBoundOf(c) // never granted outside, whatever admission let through before it was set
	found := map[sqltables.Table]bool{}
	for _, so := range scaledObjects {
		if so.Namespace != c.Namespace || so.DeletionTimestamp != nil {
			continue
		}
		polls := false
		for i, t := range so.Spec.Triggers {
			if !UsesManagedAuthentication(t, c.Name) {
				continue
			}
			g.Triggers++
			polls = true
			reads, problems := ScalerTrigger(t, nil, strings.TrimSpace(t.Metadata["dbName"]), settings)
			if why := bound.Violation(c.Name, Names(bound.Outside(reads.Tables))); why != "" {
				problems = append(problems, ScalerProblem{"query", why})
			}
			for _, p := range problems {
				g.Problems = append(g.Problems, fmt.Sprintf("ScaledObject %s spec.triggers[%d]: %s", so.Name, i, p.Message))
			}
			if len(problems) > 0 {
				continue // nothing is granted for a trigger the account cannot serve
			}
			for _, table := range reads.Tables {
				found[table] = true
			}
		}
		if polls {
			g.ScaledObjects = append(g.ScaledObjects, so.Name)
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
	slices.Sort(g.ScaledObjects)
	return g
}
