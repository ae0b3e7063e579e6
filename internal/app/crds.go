package app

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requiredKind is a kind innokeda cannot start without, and how to get it.
type requiredKind struct {
	gvk     schema.GroupVersionKind
	crd     string
	install string
}

const (
	installKEDA     = "install KEDA: helm repo add kedacore https://kedacore.github.io/charts && helm install keda kedacore/keda --namespace keda --create-namespace"
	installOperator = "install the MySQL Operator for Kubernetes: helm repo add mysql-operator https://mysql.github.io/mysql-operator/ && helm install mysql-operator mysql-operator/mysql-operator --namespace mysql-operator --create-namespace"
)

var requiredKinds = []requiredKind{
	{schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}, "scaledobjects.keda.sh", installKEDA},
	{schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}, "triggerauthentications.keda.sh", installKEDA},
	{schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ClusterTriggerAuthentication"}, "clustertriggerauthentications.keda.sh", installKEDA},
	{schema.GroupVersionKind{Group: "mysql.oracle.com", Version: "v2", Kind: "InnoDBCluster"}, "innodbclusters.mysql.oracle.com", installOperator},
}

// requireCRDs names every CustomResourceDefinition innokeda needs that the API server does
// not serve, and how to install it: otherwise the first sign would be a cache that never
// syncs. Other errors (the API server unreachable) are returned as they are.
func requireCRDs(mapper meta.RESTMapper) error {
	var missing, how []string
	for _, k := range requiredKinds {
		_, err := mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
			missing = append(missing, fmt.Sprintf("%s (%s %s)", k.crd, k.gvk.GroupVersion(), k.gvk.Kind))
			if len(how) == 0 || how[len(how)-1] != k.install {
				how = append(how, k.install)
			}
		case err != nil:
			return fmt.Errorf("look up %s: %w", k.crd, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("innokeda needs CustomResourceDefinitions this API server does not serve: " +
		strings.Join(missing, ", ") + ". To fix it, " + strings.Join(how, "; then ") + "; then restart innokeda")
}
