package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/redact"
	"github.com/innokeda/innokeda/internal/validation"
)

// credentials resolves a mysql trigger's connection parameters from the same sources as
// KEDA, in the same order (shared/reference/keda-mysql-scaler.md). Secret values stay in
// the returned Params: they are never logged, and messages name Secrets and keys only.
type credentials struct {
	cache         client.Reader // TriggerAuthentications, ClusterTriggerAuthentications
	secrets       client.Reader // uncached: Secrets, and authentications the cache does not have yet
	kedaNamespace string        // where ClusterTriggerAuthentications' Secrets live
}

// resolution is what resolve found for one trigger.
type resolution struct {
	params dryrun.Params
	// violations are what KEDA would only log (a missing TriggerAuthentication, Secret or key).
	violations validation.Violations
	// unresolved names a source innokeda cannot read; the trigger is then not dry-run.
	unresolved string
	// secrets are the values read from Secrets and container env: kept out of every answer.
	secrets redact.Secrets
}

func (c *credentials) resolve(ctx context.Context, ns string, i int, t kedav1alpha1.ScaleTriggers, container *corev1.Container) (resolution, error) {
	var res resolution
	auth := map[string]string{}
	if ref := t.AuthenticationRef; ref != nil {
		var err error
		if auth, err = c.authParams(ctx, ns, i, ref, container, &res); err != nil {
			return res, err
		}
	}
	fromEnv := func(param string) (string, error) {
		name := strings.TrimSpace(t.Metadata[param+"FromEnv"])
		if name == "" {
			return "", nil
		}
		return c.envValue(ctx, ns, container, name, validation.MetadataPath(i, param+"FromEnv"), &res)
	}
	md := t.Metadata
	// KEDA takes the first non-blank value, trimmed.
	first := func(values ...string) string {
		for _, v := range values {
			if v = strings.TrimSpace(v); v != "" {
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
		Host:             first(md["host"], auth["host"]),
		Port:             first(md["port"], auth["port"]),
		DBName:           first(md["dbName"], auth["dbName"]),
		Username:         first(md["username"], auth["username"], usernameEnv),
		Password:         first(auth["password"], passwordEnv),
		ConnectionString: first(auth["connectionString"], connectionStringEnv),
	}
	return res, nil
}

// authParams reads the parameters a TriggerAuthentication or ClusterTriggerAuthentication provides.
func (c *credentials) authParams(ctx context.Context, ns string, i int, ref *kedav1alpha1.AuthenticationRef, container *corev1.Container, res *resolution) (map[string]string, error) {
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
	found, err := get(ctx, c.cache, lookupNS, ref.Name, obj)
	if err == nil && !found {
		// Just created (innokeda's controller creates the TriggerAuthentication right before
		// the ScaledObject): the cache may not have it yet, the API server has.
		found, err = get(ctx, c.secrets, lookupNS, ref.Name, obj)
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
	params := map[string]string{}
	for j, r := range spec.SecretTargetRef {
		refPath := fmt.Sprintf("%s %s secretTargetRef[%d] (parameter %s)", kind, ref.Name, j, r.Parameter)
		v, ok, err := c.secretKey(ctx, secretNS, r.Name, r.Key, path, refPath, res)
		if err != nil {
			return nil, err
		}
		if ok {
			params[r.Parameter] = v
		}
	}
	for _, e := range spec.Env {
		if e.ContainerName != "" && (container == nil || e.ContainerName != container.Name) {
			res.unresolved = fmt.Sprintf("%s %s takes %s from the env of container %s, which innokeda does not resolve", kind, ref.Name, e.Parameter, e.ContainerName)
			continue
		}
		v, err := c.envValue(ctx, ns, container, e.Name, path, res)
		if err != nil {
			return nil, err
		}
		params[e.Parameter] = v
	}
	other := autofill.ParametersOf(spec)
	for _, p := range []string{"host", "port", "dbName", "username", "password", "connectionString"} {
		if _, ok := params[p]; !ok && other.Has(p) {
			res.unresolved = fmt.Sprintf("%s %s takes %s from a source innokeda does not read (only secretTargetRef and env are)", kind, ref.Name, p)
		}
	}
	return params, nil
}

// secretKey reads one key of a Secret; a missing Secret or key is a violation, as KEDA
// would silently use an empty value.
func (c *credentials) secretKey(ctx context.Context, ns, name, key string, path *field.Path, what string, res *resolution) (string, bool, error) {
	secret := &corev1.Secret{}
	found, err := get(ctx, c.secrets, ns, name, secret)
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
	res.secrets.Add(string(v))
	return string(v), true, nil
}

// envValue resolves an env variable of the target's container: a literal value or a
// Secret key. Other sources leave the trigger unresolved (not dry-run).
func (c *credentials) envValue(ctx context.Context, ns string, container *corev1.Container, name string, path *field.Path, res *resolution) (string, error) {
	if container == nil {
		res.unresolved = fmt.Sprintf("env variable %s: the target has no such container", name)
		return "", nil
	}
	for _, e := range container.Env {
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			res.secrets.Add(e.Value) // a credential written into the pod spec is still one
			return e.Value, nil
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, _, err := c.secretKey(ctx, ns, ref.Name, ref.Key, path, fmt.Sprintf("env variable %s of container %s", name, container.Name), res)
			return v, err
		}
		res.unresolved = fmt.Sprintf("env variable %s of container %s comes from a source innokeda does not read", name, container.Name)
		return "", nil
	}
	res.unresolved = fmt.Sprintf("container %s has no env variable %s (innokeda does not read envFrom)", container.Name, name)
	return "", nil
}
