package app

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// failingMapper answers every lookup with err.
type failingMapper struct {
	meta.RESTMapper
	err error
}

func (m failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, m.err
}

func TestRequireCRDs(t *testing.T) {
	mapperWith := func(kinds ...schema.GroupVersionKind) meta.RESTMapper {
		m := meta.NewDefaultRESTMapper(nil)
		for _, k := range kinds {
			m.Add(k, meta.RESTScopeNamespace)
		}
		return m
	}
	var all []schema.GroupVersionKind
	for _, k := range requiredKinds {
		all = append(all, k.gvk)
	}
	if err := requireCRDs(mapperWith(all...)); err != nil {
		t.Errorf("every CRD served: %v", err)
	}

	t.Run("KEDA missing: the three CRDs named, and how to install KEDA, once", func(t *testing.T) {
		err := requireCRDs(mapperWith(schema.GroupVersionKind{Group: "mysql.oracle.com", Version: "v2", Kind: "InnoDBCluster"}))
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"scaledobjects.keda.sh (keda.sh/v1alpha1 ScaledObject)", "triggerauthentications.keda.sh", "clustertriggerauthentications.keda.sh", "helm install keda kedacore/keda"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
		}
		if strings.Count(err.Error(), "helm install keda") != 1 || strings.Contains(err.Error(), "innodbclusters") {
			t.Errorf("%q: want the KEDA install once and nothing about InnoDBClusters", err)
		}
	})
	t.Run("the operator missing", func(t *testing.T) {
		err := requireCRDs(mapperWith(all[:3]...))
		if err == nil || !strings.Contains(err.Error(), "innodbclusters.mysql.oracle.com (mysql.oracle.com/v2 InnoDBCluster)") || !strings.Contains(err.Error(), "helm install mysql-operator") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("another error is not reported as a missing CRD", func(t *testing.T) {
		unreachable := errors.New("connection refused")
		err := requireCRDs(failingMapper{err: unreachable})
		if !errors.Is(err, unreachable) || strings.Contains(err.Error(), "does not serve") {
			t.Errorf("error %v", err)
		}
	})
}
