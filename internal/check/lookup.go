package check

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// LookupTarget reads, from the cache, the StatefulSet and InnoDBCluster a ScaledObject's
// target (of the kind and name autofill.TargetOf returned) leads to. Objects that do not
// exist are left nil; only other errors are returned.
//
// The router Deployment is read from api, not the cache: the MySQL Operator does not label
// it mysql.oracle.com/cluster (router_objects.py writes "label:" for "labels:"), so a
// label-filtered cache never holds it, and caching every Deployment is not innokeda's
// business. Only Deployments named like a router get here (autofill.TargetOf).
func LookupTarget(ctx context.Context, cache, api client.Reader, ns, kind, name string) (autofill.Facts, error) {
	var facts autofill.Facts
	clusterName := name
	if kind == "Deployment" {
		deployment := &appsv1.Deployment{}
		found, err := Get(ctx, api, ns, name, deployment)
		if err != nil || !found {
			return facts, err
		}
		facts.RouterDeployment = deployment
		owner, ok := innodbcluster.ControllerName(deployment)
		if !ok {
			return facts, nil
		}
		clusterName = owner
	}
	if kind == "StatefulSet" {
		sts := &appsv1.StatefulSet{}
		found, err := Get(ctx, cache, ns, name, sts)
		if err != nil {
			return facts, err
		}
		if found {
			facts.StatefulSet = sts
			owner, ok := innodbcluster.ControllerName(sts)
			if !ok {
				return facts, nil
			}
			clusterName = owner
		}
		// Not found: the cluster of the same name, if any, tells whether to warn.
	}
	cluster := &innodbcluster.InnoDBCluster{}
	if found, err := Get(ctx, cache, ns, clusterName, cluster); err != nil || !found {
		return facts, err
	}
	facts.Cluster = cluster
	if kind == innodbcluster.Kind {
		sts := &appsv1.StatefulSet{}
		found, err := Get(ctx, cache, ns, innodbcluster.StatefulSetName(clusterName), sts)
		if err != nil {
			return facts, err
		}
		if found {
			facts.StatefulSet = sts
		}
	}
	return facts, nil
}

// Get reads one object; found is false when it, or its kind, does not exist.
func Get(ctx context.Context, r client.Reader, ns, name string, obj client.Object) (found bool, err error) {
	err = r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
		return false, nil
	}
	return false, fmt.Errorf("get %T %s/%s: %w", obj, ns, name, err)
}
