// Package autofill decides what innokeda fills into a ScaledObject that scales the
// StatefulSet of an annotated InnoDBCluster. It does no I/O: the caller gathers Facts,
// Decide returns the filled object, a JSON patch of exactly those fills, and warnings.
package autofill

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/sqltables"
)

// MySQLTriggerType is KEDA's trigger type for the MySQL scaler.
const MySQLTriggerType = "mysql"

// Fill is one field innokeda set.
type Fill struct {
	// Path is the field path, e.g. spec.triggers[0].metadata.host.
	Path string
	// Field names the field without indexes, for metrics: host, minReplicaCount, ...
	Field string
	// Value is the value set, as shown to users.
	Value string
	// Replaced says why a value the user gave was replaced; empty when the field was unset.
	Replaced string
}

// Result is what Decide wants changed.
type Result struct {
	// Skip is why the object is left alone; empty when it is in scope.
	Skip Skip
	// Object is the ScaledObject with the fills applied (a copy; the input is not changed).
	Object *kedav1alpha1.ScaledObject
	Fills  []Fill
	// Patch is a JSON patch that applies exactly the fills (and the autofilled annotation)
	// to the object as it was sent, leaving every other field, known or not, alone.
	Patch []jsonpatch.Operation
	// Warnings are for the user, in a fixed order; the last one summarises the fills.
	Warnings []string
}

// Decide returns what to fill into so. It fills only ScaledObjects whose target is the
// StatefulSet (or, wrongly, the InnoDBCluster itself) of a cluster annotated
// innokeda.io/autofill: "true". Each field is set only when it is missing or provably
// wrong, so Decide on its own output fills nothing.
func Decide(so *kedav1alpha1.ScaledObject, facts Facts) Result {
	if skip, warning := Scope(so, facts); skip != "" {
		r := Result{Skip: skip, Object: so}
		if warning != "" {
			r.Warnings = []string{warning}
		}
		return r
	}
	settings, warnings := innodbcluster.SettingsFromAnnotations(facts.Cluster.Annotations)
	d := &decision{facts: facts, settings: settings, obj: so.DeepCopy(), warnings: warnings}
	d.scaleTarget()
	d.envSourceContainer()
	for i := range d.obj.Spec.Triggers {
		if d.obj.Spec.Triggers[i].Type == MySQLTriggerType {
			d.mysqlTrigger(i)
		}
	}
	if rr, ok := facts.ReadReplica(); ok {
		d.readReplicaBounds(rr)
	} else if facts.Router() {
		d.routerBounds()
	} else {
		d.replicaBounds()
		d.pacing()
	}
	d.clusterState()
	d.recordFills()
	return Result{Object: d.obj, Fills: d.fills, Patch: d.patch, Warnings: d.warnings}
}

type decision struct {
	facts    Facts
	settings innodbcluster.Settings
	obj      *kedav1alpha1.ScaledObject
	fills    []Fill
	patch    []jsonpatch.Operation
	warnings []string
}

// containers lists the names of the target's pod template containers, in order.
func (d *decision) containers() []string { return d.facts.Containers() }

// envContainer is the container whose env KEDA should resolve: the database's, or the
// router's for the router Deployment.
func (d *decision) envContainer() string {
	if d.facts.Router() {
		return innodbcluster.RouterContainer
	}
	return innodbcluster.MySQLContainer
}

func (d *decision) scaleTarget() {
	ref := d.obj.Spec.ScaleTargetRef
	path := "spec.scaleTargetRef"
	if ref.Kind == innodbcluster.Kind {
		d.warnf("%s: KEDA cannot scale an InnoDBCluster (its CRD has no scale subresource); innokeda pointed the ScaledObject at StatefulSet %s, the group members the MySQL Operator runs for it",
			path, innodbcluster.StatefulSetName(d.facts.Cluster.Name))
		ref.Kind = "StatefulSet"
		d.set(path+".kind", "kind", "/spec/scaleTargetRef/kind", ref.Kind, "an InnoDBCluster cannot be scaled")
		ref.APIVersion = "apps/v1"
		d.set(path+".apiVersion", "apiVersion", "/spec/scaleTargetRef/apiVersion", ref.APIVersion, "an InnoDBCluster cannot be scaled")
		if name := innodbcluster.StatefulSetName(d.facts.Cluster.Name); ref.Name != name {
			ref.Name = name
			d.set(path+".name", "name", "/spec/scaleTargetRef/name", ref.Name, "an InnoDBCluster cannot be scaled")
		}
		return
	}
	if ref.APIVersion == "" {
		ref.APIVersion = "apps/v1"
		d.set(path+".apiVersion", "apiVersion", "/spec/scaleTargetRef/apiVersion", ref.APIVersion, "")
	}
}

// envSourceContainer points KEDA at the mysql container. KEDA resolves the env of one
// container for every trigger and fails them all when the name matches no container; its
// default, containers[0], is the operator's sidecar.
func (d *decision) envSourceContainer() {
	ref := d.obj.Spec.ScaleTargetRef
	const path = "spec.scaleTargetRef.envSourceContainerName"
	current := ref.EnvSourceContainerName
	containers := d.containers()
	if current != "" && slices.Contains(containers, current) {
		return
	}
	want := d.envContainer()
	if !slices.Contains(containers, want) {
		d.warnf("%s: the pod template of %s %s has no %q container (containers: %s); set the name of the container yourself",
			path, d.facts.TargetKind(), ref.Name, want, strings.Join(containers, ", "))
		return
	}
	reason := ""
	if current != "" {
		reason = fmt.Sprintf("%s is not a container of %s %s (containers: %s)",
			quoteShort(current), d.facts.TargetKind(), ref.Name, strings.Join(containers, ", "))
	}
	ref.EnvSourceContainerName = want
	d.set(path, "envSourceContainerName", "/spec/scaleTargetRef/envSourceContainerName", ref.EnvSourceContainerName, reason)
}

func (d *decision) mysqlTrigger(i int) {
	t := &d.obj.Spec.Triggers[i]
	path := fmt.Sprintf("spec.triggers[%d]", i)
	md := t.Metadata

	// The password can only come from a TriggerAuthentication or passwordFromEnv, and a
	// connection string only from a TriggerAuthentication or connectionStringFromEnv.
	if t.AuthenticationRef == nil && md["passwordFromEnv"] == "" && md["connectionStringFromEnv"] == "" {
		t.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: AuthenticationName(d.facts.Cluster.Name, d.settings)}
		d.fill(Fill{Path: path + ".authenticationRef", Field: "authenticationRef", Value: t.AuthenticationRef.Name},
			jsonpatch.NewOperation("add", fmt.Sprintf("/spec/triggers/%d/authenticationRef", i), t.AuthenticationRef))
	}
	params := d.authParameters(path, t.AuthenticationRef)
	if md["connectionStringFromEnv"] != "" || params.Has("connectionString") {
		return // KEDA uses the connection string verbatim; host, port and the rest are ignored.
	}

	cluster := d.facts.Cluster
	host := innodbcluster.ServiceHost(innodbcluster.InstancesService(cluster.Name), cluster.Namespace, d.facts.ClusterDomain)
	if d.settings.HostService == innodbcluster.HostServiceRouter {
		host = innodbcluster.ServiceHost(innodbcluster.RouterService(cluster.Name), cluster.Namespace, d.facts.ClusterDomain)
	}
	switch {
	case md["host"] == "" && !params.Has("host"):
		d.setMetadata(i, "host", host, "")
	case md["host"] != "" && !isHost(md["host"]):
		d.setMetadata(i, "host", host, "the value was not a host name (use a bare host name; the port goes into port)")
	}

	port := strconv.Itoa(innodbcluster.MySQLPort)
	switch {
	case md["port"] == "" && !params.Has("port"):
		d.setMetadata(i, "port", port, "")
	case md["port"] != "" && !isPort(md["port"]):
		d.setMetadata(i, "port", port, "the value was not a port number")
	}

	if md["dbName"] == "" && !params.Has("dbName") {
		db := d.settings.Database
		if db == "" {
			// KEDA names the HPA's metric s<i>-mysql-<dbName>: without one, s0-mysql-.
			db = sqltables.OnlySchema(strings.TrimSpace(md["query"]))
		}
		if db != "" {
			d.setMetadata(i, "dbName", db, "")
		}
	}

	if md["username"] != "" || md["usernameFromEnv"] != "" || params.Has("username") {
		return
	}
	if d.facts.RootUserInSecret {
		// The Secret names the root account, but the authentication in use does not map
		// it, and innokeda does not copy values out of Secrets.
		if t.AuthenticationRef == nil {
			d.warnf("%s: the trigger has no username; set metadata.username", path)
		} else {
			d.warnf("%s: the trigger has no username; set metadata.username, or map username in %s %s",
				path, KeyOf(t.AuthenticationRef).Kind, t.AuthenticationRef.Name)
		}
		return
	}
	d.setMetadata(i, "username", innodbcluster.DefaultRootUser, "")
}

// authParameters returns what the trigger's authentication provides, warning when it
// does not exist.
func (d *decision) authParameters(path string, ref *kedav1alpha1.AuthenticationRef) sets.Set[string] {
	if ref == nil {
		return nil
	}
	key := KeyOf(ref)
	if key == (AuthKey{Kind: "TriggerAuthentication", Name: innodbcluster.ManagedTriggerAuthenticationName(d.facts.Cluster.Name)}) {
		return managedParameters(d.facts.RootUserInSecret)
	}
	params, ok := d.facts.TriggerAuthentications[key]
	if !ok {
		d.warnf("%s.authenticationRef: %s %s does not exist in namespace %s; KEDA will not find the password",
			path, key.Kind, key.Name, d.facts.Cluster.Namespace)
	}
	return params
}

// replicaBounds replaces KEDA's defaults, which are wrong for a database: minReplicaCount
// 0 would stop every group member, maxReplicaCount 100 is above the Group Replication limit.
func (d *decision) replicaBounds() {
	spec := &d.obj.Spec
	if spec.MaxReplicaCount == nil {
		maxReplicas := int32(innodbcluster.MaxGroupMembers)
		spec.MaxReplicaCount = &maxReplicas
		d.set("spec.maxReplicaCount", "maxReplicaCount", "/spec/maxReplicaCount", maxReplicas, "")
	}
	if spec.MinReplicaCount == nil {
		minReplicas := min(max(d.facts.Cluster.DesiredInstances(), 1), *spec.MaxReplicaCount)
		spec.MinReplicaCount = &minReplicas
		d.set("spec.minReplicaCount", "minReplicaCount", "/spec/minReplicaCount", minReplicas, "")
	}
}

// readReplicaBounds fills the minimum of a read replica's StatefulSet: its instances in
// the InnoDBCluster spec. No maximum is filled, as there is no group limit to fill in,
// but KEDA's default of 100 is a lot of full copies of the data: a warning says so.
func (d *decision) readReplicaBounds(rr innodbcluster.ReadReplica) {
	spec := &d.obj.Spec
	if spec.MaxReplicaCount == nil {
		d.warnf("spec.maxReplicaCount is not set: KEDA's default is %d read replicas of StatefulSet %s, each a full copy of the data; set the most you want",
			kedaDefaultMaxReplicas, d.obj.Spec.ScaleTargetRef.Name)
	}
	if spec.MinReplicaCount == nil {
		minReplicas := max(rr.DesiredInstances(), 1)
		if spec.MaxReplicaCount != nil {
			minReplicas = min(minReplicas, *spec.MaxReplicaCount)
		}
		spec.MinReplicaCount = &minReplicas
		d.set("spec.minReplicaCount", "minReplicaCount", "/spec/minReplicaCount", minReplicas, "")
	}
}

// routerBounds fills the minimum of the router Deployment: spec.router.instances, at
// least 1 (at 0, applications that connect through the router cannot connect at all).
func (d *decision) routerBounds() {
	spec := &d.obj.Spec
	if spec.MinReplicaCount == nil {
		minReplicas := max(d.facts.Cluster.RouterInstances(), 1)
		if spec.MaxReplicaCount != nil {
			minReplicas = min(minReplicas, *spec.MaxReplicaCount)
		}
		spec.MinReplicaCount = &minReplicas
		d.set("spec.minReplicaCount", "minReplicaCount", "/spec/minReplicaCount", minReplicas, "")
	}
}

// recordFills adds the autofilled annotation and the summary warning.
func (d *decision) recordFills() {
	if len(d.fills) == 0 {
		return
	}
	paths := make([]string, 0, len(d.fills))
	shown := make([]string, 0, len(d.fills))
	for _, f := range d.fills {
		paths = append(paths, f.Path)
		s := f.Path + "=" + f.Value
		if f.Replaced != "" {
			s += " (replaced: " + f.Replaced + ")"
		}
		shown = append(shown, s)
	}
	existing := d.obj.GetAnnotations()
	if previous := existing[annotations.Autofilled]; previous != "" {
		paths = mergeLists(strings.Split(previous, ","), paths)
	}
	value := strings.Join(paths, ",")
	if existing == nil {
		d.patch = append(d.patch, jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{annotations.Autofilled: value}))
		existing = map[string]string{}
	} else {
		d.patch = append(d.patch, jsonpatch.NewOperation("add", "/metadata/annotations/"+escapePointer(annotations.Autofilled), value))
	}
	existing[annotations.Autofilled] = value
	d.obj.SetAnnotations(existing)

	cluster := d.facts.Cluster
	d.warnings = append(d.warnings, fmt.Sprintf("innokeda filled %d field(s) from InnoDBCluster %s/%s: %s",
		len(d.fills), cluster.Namespace, cluster.Name, strings.Join(shown, "; ")))
}

// set records a fill of a field of the object whose parent always exists.
func (d *decision) set(path, field, pointer string, value any, replaced string) {
	d.fill(Fill{Path: path, Field: field, Value: fmt.Sprint(value), Replaced: replaced},
		jsonpatch.NewOperation("add", pointer, value))
}

// setMetadata sets a key of trigger i's metadata, creating the map when it is missing.
func (d *decision) setMetadata(i int, key, value, replaced string) {
	t := &d.obj.Spec.Triggers[i]
	if t.Metadata == nil {
		t.Metadata = map[string]string{}
		d.patch = append(d.patch, jsonpatch.NewOperation("add", fmt.Sprintf("/spec/triggers/%d/metadata", i), map[string]string{}))
	}
	t.Metadata[key] = value
	d.set(fmt.Sprintf("spec.triggers[%d].metadata.%s", i, key), key,
		fmt.Sprintf("/spec/triggers/%d/metadata/%s", i, escapePointer(key)), value, replaced)
}

func (d *decision) fill(f Fill, op jsonpatch.Operation) {
	d.fills = append(d.fills, f)
	d.patch = append(d.patch, op)
}

func (d *decision) warnf(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// isHost accepts an IP address or a DNS name, as KEDA joins host and port itself.
func isHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	return len(validation.IsDNS1123Subdomain(strings.ToLower(strings.TrimSuffix(s, ".")))) == 0
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

// pointerEscaper escapes a JSON pointer reference token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapePointer(s string) string { return pointerEscaper.Replace(s) }

// mergeLists appends to a the items of b it does not hold yet, keeping the order.
func mergeLists(a, b []string) []string {
	seen := sets.New(a...)
	for _, s := range b {
		if !seen.Has(s) {
			seen.Insert(s)
			a = append(a, s)
		}
	}
	return a
}

// quoteShort quotes a user's value for a message, cut so that a long value cannot flood it.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
