// Package gen builds the objects innokeda's tests use: ScaledObjects, and an
// InnoDBCluster with the StatefulSet, Services, pods and Secret the MySQL Operator (and
// Kubernetes) would create for it.
// Each builder takes functional options, so a test states only what matters to it.
package gen

import (
	"fmt"
	"maps"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
)

// ScaledObjectOption changes a ScaledObject under construction.
type ScaledObjectOption func(*kedav1alpha1.ScaledObject)

// ScaledObject returns a ScaledObject in namespace ns that targets StatefulSet/target
// (apiVersion unset, like most hand-written ones) and has no triggers.
func ScaledObject(ns, name, target string, opts ...ScaledObjectOption) *kedav1alpha1.ScaledObject {
	so := &kedav1alpha1.ScaledObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Kind: "StatefulSet", Name: target},
		},
	}
	for _, o := range opts {
		o(so)
	}
	return so
}

// ScaledObjectFrom returns a copy of so with opts applied.
func ScaledObjectFrom(so *kedav1alpha1.ScaledObject, opts ...ScaledObjectOption) *kedav1alpha1.ScaledObject {
	so = so.DeepCopy()
	for _, o := range opts {
		o(so)
	}
	return so
}

// WithTarget sets scaleTargetRef's apiVersion, kind and name.
func WithTarget(apiVersion, kind, name string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		so.Spec.ScaleTargetRef.APIVersion = apiVersion
		so.Spec.ScaleTargetRef.Kind = kind
		so.Spec.ScaleTargetRef.Name = name
	}
}

// WithEnvSourceContainer sets scaleTargetRef.envSourceContainerName.
func WithEnvSourceContainer(name string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) { so.Spec.ScaleTargetRef.EnvSourceContainerName = name }
}

// WithTrigger appends a trigger of the given type and metadata.
func WithTrigger(triggerType string, metadata map[string]string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		so.Spec.Triggers = append(so.Spec.Triggers, kedav1alpha1.ScaleTriggers{Type: triggerType, Metadata: metadata})
	}
}

// WithMySQLTrigger appends a mysql trigger with only a query and queryValue, the way
// innokeda means users to write them.
func WithMySQLTrigger(query, queryValue string) ScaledObjectOption {
	return WithTrigger("mysql", map[string]string{"query": query, "queryValue": queryValue})
}

// WithTriggerMetadata sets metadata keys of trigger i.
func WithTriggerMetadata(i int, kv ...string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		if so.Spec.Triggers[i].Metadata == nil {
			so.Spec.Triggers[i].Metadata = map[string]string{}
		}
		for j := 0; j+1 < len(kv); j += 2 {
			so.Spec.Triggers[i].Metadata[kv[j]] = kv[j+1]
		}
	}
}

// WithAuthenticationRef sets trigger i's authenticationRef.
func WithAuthenticationRef(i int, kind, name string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		so.Spec.Triggers[i].AuthenticationRef = &kedav1alpha1.AuthenticationRef{Kind: kind, Name: name}
	}
}

// WithReplicas sets minReplicaCount and maxReplicaCount; nil leaves one unset.
func WithReplicas(minReplicas, maxReplicas *int32) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		so.Spec.MinReplicaCount = minReplicas
		so.Spec.MaxReplicaCount = maxReplicas
	}
}

// WithScaleDown and WithScaleUp set the HPA behavior's rules (nil removes them).
func WithScaleDown(rules *autoscalingv2.HPAScalingRules) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) { behavior(so).ScaleDown = rules }
}

func WithScaleUp(rules *autoscalingv2.HPAScalingRules) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) { behavior(so).ScaleUp = rules }
}

// WithPacing sets the pacing innokeda fills for group members: one member per 300 s
// after a 600 s window down, one per 120 s up.
func WithPacing() ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) {
		WithScaleDown(&autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](600),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 300}}})(so)
		WithScaleUp(&autoscalingv2.HPAScalingRules{
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 120}}})(so)
	}
}

func behavior(so *kedav1alpha1.ScaledObject) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if so.Spec.Advanced == nil {
		so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{}
	}
	if so.Spec.Advanced.HorizontalPodAutoscalerConfig == nil {
		so.Spec.Advanced.HorizontalPodAutoscalerConfig = &kedav1alpha1.HorizontalPodAutoscalerConfig{}
	}
	if so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior == nil {
		so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	}
	return so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior
}

// WithAnnotation sets an annotation.
func WithAnnotation(key, value string) ScaledObjectOption {
	return func(so *kedav1alpha1.ScaledObject) { metav1.SetMetaDataAnnotation(&so.ObjectMeta, key, value) }
}

// ClusterOption changes an InnoDBCluster under construction.
type ClusterOption func(*innodbcluster.InnoDBCluster)

// InnoDBCluster returns a cluster of three instances whose Secret is <name>-cluster-secret
// (the mysql-innodbcluster chart's name for it), annotated innokeda.io/autofill: "true".
func InnoDBCluster(ns, name string, opts ...ClusterOption) *innodbcluster.InnoDBCluster {
	c := &innodbcluster.InnoDBCluster{
		TypeMeta: metav1.TypeMeta{APIVersion: innodbcluster.GroupVersion.String(), Kind: innodbcluster.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ns,
			Name:        name,
			Annotations: map[string]string{annotations.Autofill: "true"},
		},
		Spec: innodbcluster.Spec{SecretName: name + "-cluster-secret", Instances: ptr.To[int32](3)},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithReadReplica adds spec.readReplicas entry name with instances.
func WithReadReplica(name string, instances int32) ClusterOption {
	return func(c *innodbcluster.InnoDBCluster) {
		c.Spec.ReadReplicas = append(c.Spec.ReadReplicas, innodbcluster.ReadReplica{Name: name, Instances: ptr.To(instances)})
	}
}

// WithClusterStatus sets status.cluster.status, as the operator does.
func WithClusterStatus(status string) ClusterOption {
	return func(c *innodbcluster.InnoDBCluster) { c.Status.Cluster.Status = status }
}

// WithClusterAnnotation sets an annotation on the cluster; an empty value removes it.
func WithClusterAnnotation(key, value string) ClusterOption {
	return func(c *innodbcluster.InnoDBCluster) {
		if value == "" {
			delete(c.Annotations, key)
			return
		}
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, key, value)
	}
}

// WithInstances sets spec.instances; nil leaves it unset.
func WithInstances(n *int32) ClusterOption {
	return func(c *innodbcluster.InnoDBCluster) { c.Spec.Instances = n }
}

// StatefulSet returns the StatefulSet the MySQL Operator creates for cluster
// (innodbcluster.DerivedStatefulSet); its UID must be set when it goes to an API server.
func StatefulSet(cluster *innodbcluster.InnoDBCluster) *appsv1.StatefulSet {
	return innodbcluster.DerivedStatefulSet(cluster)
}

// ReadReplicaStatefulSet returns the StatefulSet the MySQL Operator makes for read replica
// name of cluster (innodbcluster.DerivedReadReplicaStatefulSet).
func ReadReplicaStatefulSet(cluster *innodbcluster.InnoDBCluster, name string) *appsv1.StatefulSet {
	return innodbcluster.DerivedReadReplicaStatefulSet(cluster, name)
}

// RouterDeployment returns the router Deployment the MySQL Operator makes for cluster
// (innodbcluster.DerivedRouterDeployment).
func RouterDeployment(cluster *innodbcluster.InnoDBCluster) *appsv1.Deployment {
	return innodbcluster.DerivedRouterDeployment(cluster)
}

// WithRouterInstances sets spec.router.instances.
func WithRouterInstances(n int32) ClusterOption {
	return func(c *innodbcluster.InnoDBCluster) { c.Spec.Router = &innodbcluster.RouterSpec{Instances: ptr.To(n)} }
}

// InstancesService returns the headless Service <cluster>-instances the MySQL Operator
// creates for cluster (cluster_objects.py prepare_cluster_service), with its controller
// ownerReference to the cluster (whose UID must be set).
func InstancesService(cluster *innodbcluster.InnoDBCluster) *corev1.Service {
	svc := operatorService(cluster, innodbcluster.InstancesService(cluster.Name))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	svc.Spec.PublishNotReadyAddresses = true
	svc.Spec.Selector = map[string]string{innodbcluster.ClusterLabel: cluster.Name, "component": "mysqld"}
	return svc
}

// RouterService returns the router's Service <cluster> the MySQL Operator creates for
// cluster (router_objects.py prepare_router_service), of type ClusterIP; the API server
// gives it its cluster IP.
func RouterService(cluster *innodbcluster.InnoDBCluster) *corev1.Service {
	svc := operatorService(cluster, innodbcluster.RouterService(cluster.Name))
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Selector = map[string]string{innodbcluster.ClusterLabel: cluster.Name, "component": "mysqlrouter"}
	svc.Spec.Ports = []corev1.ServicePort{
		{Name: "mysql", Port: innodbcluster.MySQLPort}, {Name: "mysql-alternate", Port: 6446},
		{Name: "mysql-ro", Port: 6447}, {Name: "mysql-rw-split", Port: 6450},
	}
	return svc
}

func operatorService(cluster *innodbcluster.InnoDBCluster, name string) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       cluster.Namespace,
			Name:            name,
			Labels:          map[string]string{innodbcluster.ClusterLabel: cluster.Name, "tier": "mysql"},
			OwnerReferences: []metav1.OwnerReference{innodbcluster.ControllerRef(innodbcluster.GroupVersion.String(), innodbcluster.Kind, cluster.Name, cluster.UID)},
		},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "mysql", Port: innodbcluster.MySQLPort}}},
	}
}

// MemberPod returns group member <sts>-<ordinal> as Kubernetes' StatefulSet controller
// creates it: the template's labels, hostname and subdomain, and a controller
// ownerReference to sts (whose UID must be set), running and Ready at ip. An API server
// drops the status on create: set it with the status subresource.
func MemberPod(sts *appsv1.StatefulSet, ordinal int, ip string) *corev1.Pod {
	name := fmt.Sprintf("%s-%d", sts.Name, ordinal)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       sts.Namespace,
			Name:            name,
			Labels:          maps.Clone(sts.Spec.Template.Labels),
			OwnerReferences: []metav1.OwnerReference{innodbcluster.ControllerRef("apps/v1", "StatefulSet", sts.Name, sts.UID)},
		},
		Spec: corev1.PodSpec{
			Hostname:   name,
			Subdomain:  sts.Spec.ServiceName,
			Containers: sts.Spec.Template.Spec.DeepCopy().Containers,
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// Secret returns the cluster's root Secret; with rootUser "" it has no rootUser key.
func Secret(cluster *innodbcluster.InnoDBCluster, rootUser, rootPassword string) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: cluster.Spec.SecretName},
		StringData: map[string]string{innodbcluster.SecretKeyRootPassword: rootPassword},
	}
	if rootUser != "" {
		s.StringData[innodbcluster.SecretKeyRootUser] = rootUser
	}
	return s
}

// TriggerAuthentication returns the TriggerAuthentication innokeda keeps for cluster
// (<cluster>-innokeda): password from the Secret's rootPassword and, when withUser,
// username from its rootUser.
func TriggerAuthentication(cluster *innodbcluster.InnoDBCluster, withUser bool) *kedav1alpha1.TriggerAuthentication {
	ta := &kedav1alpha1.TriggerAuthentication{
		TypeMeta: metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "TriggerAuthentication"},
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: innodbcluster.ManagedTriggerAuthenticationName(cluster.Name),
			Labels: map[string]string{managed.ManagedByLabel: managed.ManagedByValue}},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{
			{Parameter: "password", Name: cluster.Spec.SecretName, Key: innodbcluster.SecretKeyRootPassword},
		}},
	}
	if withUser {
		ta.Spec.SecretTargetRef = append(ta.Spec.SecretTargetRef,
			kedav1alpha1.AuthSecretTargetRef{Parameter: "username", Name: cluster.Spec.SecretName, Key: innodbcluster.SecretKeyRootUser})
	}
	return ta
}
