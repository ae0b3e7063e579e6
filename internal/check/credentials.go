package check

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/validation"
)

// credentials resolves a mysql trigger's connection parameters from the same sources as
// KEDA, in the same order (shared/reference/keda-mysql-scaler.md), and where each value
// came from. Secret values stay in the returned Params: they are never logged, and a
// message quotes a value only when the ScaledObject's author wrote it (origin.shown);
// for any other it names the Secret and key, or the env variable, it came from.
type credentials struct {
	cache         client.Reader // TriggerAuthentications, ClusterTriggerAuthentications
	secrets       client.Reader // uncached: Secrets, and authentications the cache does not have yet
	kedaNamespace string        // where ClusterTriggerAuthentications' Secrets live
}

// resolution is what resolve found for one trigger.
type resolution struct {
	params dryrun.Params
	// origins are where params' values came from, by KEDA's parameter names (host, port,
	// dbName, username, password, connectionString); see originOf.
	origins map[string]origin
	// violations are what KEDA would only log (a missing TriggerAuthentication, Secret or key).
	violations validation.Violations
	// unresolved names a source innokeda cannot read; the trigger is then not dry-run.
	unresolved string
}

// origin is where a connection parameter's value came from.
type origin struct {
	// shown: the value is the author's own, written in the ScaledObject's metadata, so a
	// message may quote it. A value from a Secret or a container's env is never quoted,
	// nor is anything derived from it: no message depends on what it is.
	shown bool
	place string // the source, for messages: "metadata.host", "Secret db key host (...)"
}

// sourced is a value and where it came from.
type sourced struct {
	value  string
	origin origin
}

// originOf is where param's value came from. With a connection string, KEDA reads the
// host, port, user, password and database from it alone: they came from where it came from.
func (r resolution) originOf(param string) origin {
	if r.params.ConnectionString != "" {
		return r.origins["connectionString"]
	}
	if o, ok := r.origins[param]; ok {
		return o
	}
	return origin{shown: true, place: "nowhere (empty)"} // an empty value hides nothing
}

// describe names a value in a message: quoted when shown, else by its source.
func (o origin) describe(value string) string {
	if o.shown {
		return fmt.Sprintf("%q", value)
	}
	return "from " + o.place
}

// subject is how the host policy's reasons name the address (see dryrun.Subject): shown
// only when the author wrote both its host and its port.
func (r resolution) subject() dryrun.Subject {
	host, port := r.originOf("host"), r.originOf("port")
	switch {
	case !host.shown:
		return dryrun.Subject{Source: host.place}
	case !port.shown:
		return dryrun.Subject{Source: host.place + ", with the port from " + port.place}
	}
	return dryrun.Shown
}

func (c *credentials) resolve(ctx context.Context, ns string, i int, t kedav1alpha1.ScaleTriggers, container *corev1.Container) (resolution, error) {
	var res resolution
	auth := map[string]sourced{}
	if ref := t.AuthenticationRef; ref != nil {
		var err error
		if auth, err = c.authParams(ctx, ns, i, ref, container, &res); err != nil {
			return res, err
		}
	}
	fromEnv := func(param string) (sourced, error) {
		name := strings.TrimSpace(t.Metadata[param+"FromEnv"])
		if name == "" {
			return sourced{}, nil
		}
		return c.envValue(ctx, ns, container, name, validation.MetadataPath(i, param+"FromEnv"), &res)
	}
	md := func(param string) sourced {
		return sourced{value: t.Metadata[param], origin: origin{shown: true, place: "metadata." + param}}
	}
	res.origins = map[string]origin{}
	// KEDA takes the first non-blank value, trimmed.
	first := func(param string, candidates ...sourced) string {
		for _, c := range candidates {
			if v := strings.TrimSpace(c.value); v != "" {
				res.origins[param] = c.origin
				return v
			}
		}
		return ""
	}
	usernameEnv, err := fromEnv("username")
	if err != nil {
		return res, err
	}
	passwordEnv, err := fromEnv("password")
	if err != nil {
		return res, err
	}
	connectionStringEnv, err := fromEnv("connectionString")
	if err != nil {
		return res, err
	}
	res.params = dryrun.Params{
		Host:             first("host", md("host"), auth["host"]),
		Port:             first("port", md("port"), auth["port"]),
		DBName:           first("dbName", md("dbName"), auth["dbName"]),
		Username:         first("username", md("username"), auth["username"], usernameEnv),
		Password:         first("password", auth["password"], passwordEnv),
		ConnectionString: first("connectionString", auth["connectionString"], connectionStringEnv),
	}
	return res, nil
}

// authParams reads the parameters a TriggerAuthentication or ClusterTriggerAuthentication provides.
func (c *credentials) authParams(ctx context.Context, ns string, i int, ref *kedav1alpha1.AuthenticationRef, container *corev1.Container, res *resolution) (map[string]sourced, error) {
	path := validation.TriggerPath(i).Child("authenticationRef")
	var spec *kedav1alpha1.TriggerAuthenticationSpec
	var obj client.Object
	secretNS, lookupNS := ns, ns
	kind := ref.Kind
	if kind == "ClusterTriggerAuthentication" {
		cta := &kedav1alpha1.ClusterTriggerAuthentication{}
		obj, spec, secretNS, lookupNS = cta, &cta.Spec, c.kedaNamespace, ""
	} else {
		ta := &kedav1alpha1.TriggerAuthentication{}
		obj, spec, kind = ta, &ta.Spec, "TriggerAuthentication"
	}
	found, err := Get(ctx, c.cache, lookupNS, ref.Name, obj)
	if err == nil && !found {
		// Just created (innokeda's controller creates the TriggerAuthentication right before
		// the ScaledObject): the cache may not have it yet, the API server has.
		found, err = Get(ctx, c.secrets, lookupNS, ref.Name, obj)
	}
	if err != nil {
		return nil, err
	}
	if !found {
		detail := fmt.Sprintf("%s %s does not exist", kind, ref.Name)
		if lookupNS != "" {
			detail += " in namespace " + lookupNS
		}
		detail += ": create it or fix the name (KEDA would only log this and connect without a password)"
		if strings.HasSuffix(ref.Name, "-innokeda") {
			detail += "; innokeda's controller keeps <cluster>-innokeda for annotated InnoDBClusters"
		}
		res.violations.Add(validation.ReasonAuthentication, validation.Invalid(path, detail))
		return nil, nil
	}
	// KEDA's resolveAuthRef reads env, then configMapTargetRef, then secretTargetRef, then
	// the vaults, a later source overriding an earlier one; a ClusterTriggerAuthentication's
	// or TriggerAuthentication's filePath replaces them all.
	params := map[string]sourced{}
	// Why an env parameter could not be resolved: it matters only if no Secret overrides it.
	envUnresolved := map[string]string{}
	for _, e := range spec.Env {
		if e.ContainerName != "" && (container == nil || e.ContainerName != container.Name) {
			envUnresolved[e.Parameter] = fmt.Sprintf("%s %s takes %s from the env of container %s, which innokeda does not resolve", kind, ref.Name, e.Parameter, e.ContainerName)
			continue
		}
		var scratch resolution
		v, err := c.envValue(ctx, ns, container, e.Name, path, &scratch)
		if err != nil {
			return nil, err
		}
		res.violations = append(res.violations, scratch.violations...)
		if scratch.unresolved != "" {
			envUnresolved[e.Parameter] = scratch.unresolved
			continue
		}
		v.origin.place += fmt.Sprintf(", through %s %s env (parameter %s)", kind, ref.Name, e.Parameter)
		params[e.Parameter] = v
	}
	fromSecrets := sets.New[string]()
	for j, r := range spec.SecretTargetRef {
		fromSecrets.Insert(r.Parameter)
		refPath := fmt.Sprintf("%s %s secretTargetRef[%d] (parameter %s)", kind, ref.Name, j, r.Parameter)
		v, ok, err := c.secretKey(ctx, secretNS, r.Name, r.Key, path, refPath, res)
		if err != nil {
			return nil, err
		}
		if ok {
			params[r.Parameter] = sourced{value: v, origin: origin{place: fmt.Sprintf("Secret %s key %s (%s)", r.Name, r.Key, refPath)}}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(envUnresolved)) {
		if !fromSecrets.Has(p) {
			res.unresolved = envUnresolved[p]
		}
	}
	if spec.FilePath != "" {
		res.unresolved = fmt.Sprintf("%s %s takes its parameters from file %s, which innokeda does not read", kind, ref.Name, spec.FilePath)
	}
	// A parameter any other source gives may be what KEDA uses (a vault overrides a
	// Secret, a ConfigMap overrides env): innokeda does not know it.
	unread := autofill.OtherParametersOf(spec)
	for _, p := range []string{"host", "port", "dbName", "username", "password", "connectionString"} {
		if unread.Has(p) {
			res.unresolved = fmt.Sprintf("%s %s takes %s from a source innokeda does not read (only secretTargetRef and env are)", kind, ref.Name, p)
		}
	}
	return params, nil
}

// secretKey reads one key of a Secret; a missing Secret or key is a violation, as KEDA
// would silently use an empty value.
func (c *credentials) secretKey(ctx context.Context, ns, name, key string, path *field.Path, what string, res *resolution) (string, bool, error) {
	secret := &corev1.Secret{}
	found, err := Get(ctx, c.secrets, ns, name, secret)
	if err != nil {
		return "", false, err
	}
	if !found {
		res.violations.Add(validation.ReasonAuthentication, validation.Invalid(path,
			fmt.Sprintf("%s refers to Secret %s, which does not exist in namespace %s: create it or fix the name", what, name, ns)))
		return "", false, nil
	}
	v, ok := secret.Data[key]
	if !ok {
		keys := make([]string, 0, len(secret.Data))
		for k := range secret.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		res.violations.Add(validation.ReasonAuthentication, validation.Invalid(path,
			fmt.Sprintf("%s refers to key %s of Secret %s, which has no such key (it has: %s)", what, key, name, strings.Join(keys, ", "))))
		return "", false, nil
	}
	return string(v), true, nil
}

// envValue resolves an env variable of the target's container: a literal value or a
// Secret key. Other sources leave the trigger unresolved (not dry-run). A literal value
// is not shown either: the pod spec's author need not be the ScaledObject's, and a
// credential written there is still one.
func (c *credentials) envValue(ctx context.Context, ns string, container *corev1.Container, name string, path *field.Path, res *resolution) (sourced, error) {
	if container == nil {
		res.unresolved = fmt.Sprintf("env variable %s: the target has no such container", name)
		return sourced{}, nil
	}
	for _, e := range container.Env {
		if e.Name != name {
			continue
		}
		what := fmt.Sprintf("env variable %s of container %s", name, container.Name)
		switch {
		case e.ValueFrom == nil:
			return sourced{value: e.Value, origin: origin{place: what}}, nil
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, _, err := c.secretKey(ctx, ns, ref.Name, ref.Key, path, what, res)
			return sourced{value: v, origin: origin{place: fmt.Sprintf("Secret %s key %s (%s)", ref.Name, ref.Key, what)}}, err
		}
		res.unresolved = fmt.Sprintf("env variable %s of container %s comes from a source innokeda does not read", name, container.Name)
		return sourced{}, nil
	}
	res.unresolved = fmt.Sprintf("container %s has no env variable %s (innokeda does not read envFrom)", container.Name, name)
	return sourced{}, nil
}
