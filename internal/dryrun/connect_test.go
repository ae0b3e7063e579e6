package dryrun

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const (
	clusterUID = types.UID("6c1d0b8e-cluster")
	stsUID     = types.UID("0f3a5e21-statefulset")
)

// controller is a controller ownerReference, as the MySQL Operator (kopf.adopt) and the
// StatefulSet controller write them.
func controller(apiVersion, kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
}

var (
	byCluster = controller("mysql.oracle.com/v2", "InnoDBCluster", "mycluster", clusterUID)
	bySTS     = controller("apps/v1", "StatefulSet", "mycluster", stsUID)
)

func service(name string, typ corev1.ServiceType, clusterIP string, owners []metav1.OwnerReference) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name, OwnerReferences: slices.Clone(owners)},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP}}
}

func pod(name, ip string, ready bool, owners []metav1.OwnerReference) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name, OwnerReferences: slices.Clone(owners)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

// operatorServers are the objects the MySQL Operator and Kubernetes make for a cluster of
// three members, listed out of order.
func operatorServers() ClusterServers {
	return ClusterServers{
		Name: "mycluster", Namespace: "db", UID: clusterUID,
		InstancesService: service("mycluster-instances", corev1.ServiceTypeClusterIP, corev1.ClusterIPNone, byCluster),
		RouterService:    service("mycluster", corev1.ServiceTypeClusterIP, "10.96.0.12", byCluster),
		StatefulSet: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "mycluster", UID: stsUID,
			OwnerReferences: slices.Clone(byCluster)}},
		Pods: []corev1.Pod{
			pod("mycluster-2", "10.244.0.12", true, bySTS),
			pod("mycluster-0", "10.244.0.10", true, bySTS),
			pod("mycluster-1", "10.244.0.11", true, bySTS),
		},
	}
}

// The suffix of the reasons a Service is not the operator's.
const deleteIt = ": find out who created it, and delete it"

func TestDialAddress(t *testing.T) {
	policy := HostPolicy{ClusterDomain: "cluster.local", AllowedHosts: []string{"mysql.example.com"}}
	withAlias := HostPolicy{ClusterDomain: "cluster.local", Aliases: map[string]string{
		"mycluster-instances.db.svc.cluster.local":             "127.0.0.1:33306",
		"mycluster.db.svc.cluster.local":                       "127.0.0.1:33306",
		"mycluster-1.mycluster-instances.db.svc.cluster.local": "127.0.0.1:33306",
	}}
	// An operator who lists a cluster's name as an allowed host does not skip its checks.
	allowingClusterNames := HostPolicy{ClusterDomain: "cluster.local", AllowedHosts: []string{"mycluster-instances.db.svc.cluster.local", "mycluster.db.svc.cluster.local"}}
	const instancesHost = "mycluster-instances.db.svc.cluster.local"
	externalName := func(s *ClusterServers) {
		s.InstancesService = service("mycluster-instances", corev1.ServiceTypeExternalName, "", nil)
		s.InstancesService.Spec.ExternalName = "mysql.attacker.example"
	}
	// An attacker's pod: the right name, hostname and subdomain, the labels, no owner.
	attackerPod := func(name string) func(*ClusterServers) {
		return func(s *ClusterServers) {
			s.Pods = slices.DeleteFunc(s.Pods, func(p corev1.Pod) bool { return p.Name == name })
			p := pod(name, "10.244.9.9", true, nil)
			p.Spec.Hostname, p.Spec.Subdomain = name, "mycluster-instances"
			s.Pods = append(s.Pods, p)
		}
	}
	tests := []struct {
		name    string
		policy  HostPolicy
		addr    string
		servers func(*ClusterServers)
		want    string
		wantErr string
	}{
		// What the operator made: the API objects give the address.
		{name: "instances service: the Ready member of the lowest ordinal", addr: instancesHost + ":3306", want: "10.244.0.10:3306"},
		{name: "instances service, any case, trailing dot", addr: "MyCluster-Instances.db.svc.cluster.local.:3306", want: "10.244.0.10:3306"},
		{name: "instances service: a Ready member before a lower one that is not",
			addr: instancesHost + ":3306", servers: func(s *ClusterServers) { s.Pods[1].Status.Conditions[0].Status = corev1.ConditionFalse }, want: "10.244.0.11:3306"},
		{name: "instances service: a member being deleted comes last",
			addr: instancesHost + ":3306", servers: func(s *ClusterServers) { s.Pods[1].DeletionTimestamp = &metav1.Time{} }, want: "10.244.0.11:3306"},
		{name: "instances service: no member Ready, the lowest ordinal running",
			addr: instancesHost + ":3306", servers: func(s *ClusterServers) {
				for i := range s.Pods {
					s.Pods[i].Status.Conditions = nil
				}
				s.Pods[1].Status.PodIP = ""
			}, want: "10.244.0.11:3306"},
		{name: "instances service: ordinals compare as numbers",
			addr: instancesHost + ":3306", servers: func(s *ClusterServers) {
				s.Pods = []corev1.Pod{pod("mycluster-10", "10.244.0.20", true, bySTS), pod("mycluster-9", "10.244.0.19", true, bySTS)}
			}, want: "10.244.0.19:3306"},
		{name: "instances service: an IPv6 member", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.Pods = []corev1.Pod{pod("mycluster-0", "fd00::10", true, bySTS)} }, want: "[fd00::10]:3306"},
		{name: "one member by name, Ready or not", addr: "mycluster-2.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) { s.Pods[0].Status.Conditions = nil }, want: "10.244.0.12:3306"},
		{name: "router service: its cluster IP on the read-write port", addr: "mycluster.db.svc.cluster.local:6446", want: "10.96.0.12:6446"},
		{name: "router service: classic port", addr: "mycluster.db.svc.cluster.local:3306", want: "10.96.0.12:3306"},
		{name: "router service: read-only port", addr: "mycluster.db.svc.cluster.local:6447", want: "10.96.0.12:6447"},
		{name: "router service: read/write split port", addr: "mycluster.db.svc.cluster.local:6450", want: "10.96.0.12:6450"},
		{name: "router service of type LoadBalancer: its cluster IP", addr: "mycluster.db.svc.cluster.local:6446",
			servers: func(s *ClusterServers) { s.RouterService.Spec.Type = corev1.ServiceTypeLoadBalancer }, want: "10.96.0.12:6446"},
		{name: "an allowed host: by DNS, any port", addr: "mysql.example.com:13306", want: "mysql.example.com.:13306"},
		{name: "an allowed host needs no cluster objects", addr: "mysql.example.com:3306", servers: func(s *ClusterServers) { *s = ClusterServers{Name: "mycluster", Namespace: "db"} },
			want: "mysql.example.com.:3306"},
		{name: "alias: applied once the checks pass", policy: withAlias, addr: instancesHost + ":3306", want: "127.0.0.1:33306"},
		{name: "alias of a member: applied once the checks pass", policy: withAlias, addr: "mycluster-1.mycluster-instances.db.svc.cluster.local:3306", want: "127.0.0.1:33306"},

		// An ExternalName Service made before the operator's (which then keeps it).
		{name: "ExternalName instances service", addr: instancesHost + ":3306", servers: externalName,
			wantErr: "host " + instancesHost + " names Service mycluster-instances, which is of type ExternalName (a DNS alias for another host), so it is not the MySQL Operator's" + deleteIt},
		{name: "ExternalName instances service: an alias does not skip the check", policy: withAlias, addr: instancesHost + ":3306", servers: externalName,
			wantErr: "names Service mycluster-instances, which is of type ExternalName"},
		{name: "ExternalName instances service: listing its name as an allowed host does not skip the check", policy: allowingClusterNames, addr: instancesHost + ":3306", servers: externalName,
			wantErr: "names Service mycluster-instances, which is of type ExternalName"},
		{name: "ExternalName instances service, owned by the cluster all the same", addr: instancesHost + ":3306", servers: func(s *ClusterServers) {
			externalName(s)
			s.InstancesService.OwnerReferences = slices.Clone(byCluster)
		}, wantErr: "names Service mycluster-instances, which is of type ExternalName"},
		{name: "ExternalName instances service: a member's name under it is not dialed either", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:3306", servers: externalName,
			wantErr: "host mycluster-0.mycluster-instances.db.svc.cluster.local names Service mycluster-instances, which is of type ExternalName"},
		{name: "ExternalName router service", addr: "mycluster.db.svc.cluster.local:6446", servers: func(s *ClusterServers) {
			s.RouterService = service("mycluster", corev1.ServiceTypeExternalName, "", byCluster)
		}, wantErr: "host mycluster.db.svc.cluster.local names Service mycluster, which is of type ExternalName (a DNS alias for another host), so it is not the MySQL Operator's" + deleteIt},

		// A Service of the right name that the cluster does not control.
		{name: "instances service without an owner", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.InstancesService.OwnerReferences = nil },
			wantErr: "host " + instancesHost + " names Service mycluster-instances, which is not the MySQL Operator's: its controller is none, not InnoDBCluster mycluster (UID 6c1d0b8e-cluster)" + deleteIt},
		{name: "instances service owned by an InnoDBCluster of the same name and another UID", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) {
				s.InstancesService.OwnerReferences = controller("mysql.oracle.com/v2", "InnoDBCluster", "mycluster", "an-earlier-cluster")
			},
			wantErr: "which is not the MySQL Operator's: its controller is InnoDBCluster mycluster (UID an-earlier-cluster), not InnoDBCluster mycluster (UID 6c1d0b8e-cluster)" + deleteIt},
		{name: "instances service controlled by another kind with the cluster's UID", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) {
				s.InstancesService.OwnerReferences = controller("apps/v1", "Deployment", "mycluster", clusterUID)
			},
			wantErr: "which is not the MySQL Operator's: its controller is Deployment mycluster (UID 6c1d0b8e-cluster), not InnoDBCluster mycluster"},
		{name: "instances service controlled by an InnoDBCluster of another API group", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) {
				s.InstancesService.OwnerReferences = controller("mysql.attacker.example/v2", "InnoDBCluster", "mycluster", clusterUID)
			},
			wantErr: "which is not the MySQL Operator's: its controller is InnoDBCluster mycluster (UID 6c1d0b8e-cluster), not InnoDBCluster mycluster"},
		{name: "instances service owned by the cluster, but not as its controller", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.InstancesService.OwnerReferences[0].Controller = nil },
			wantErr: "which is not the MySQL Operator's: its controller is none"},
		{name: "a cluster without a UID matches no owner", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.UID, s.InstancesService.OwnerReferences[0].UID = "", "" },
			wantErr: "which is not the MySQL Operator's: its controller is InnoDBCluster mycluster (UID ), not InnoDBCluster mycluster (UID )"},
		{name: "router service not owned", addr: "mycluster.db.svc.cluster.local:6446",
			servers: func(s *ClusterServers) { s.RouterService.OwnerReferences = nil },
			wantErr: "host mycluster.db.svc.cluster.local names Service mycluster, which is not the MySQL Operator's: its controller is none, not InnoDBCluster mycluster (UID 6c1d0b8e-cluster)" + deleteIt},

		// No such Service (or none with the operator's label, which the cache holds).
		{name: "instances service missing", addr: instancesHost + ":3306", servers: func(s *ClusterServers) { s.InstancesService = nil },
			wantErr: "host " + instancesHost + " names Service mycluster-instances, which does not exist in namespace db (or is not labelled mysql.oracle.com/cluster=mycluster): wait until the MySQL Operator has created it"},
		{name: "router service missing", addr: "mycluster.db.svc.cluster.local:3306", servers: func(s *ClusterServers) { s.RouterService = nil },
			wantErr: "host mycluster.db.svc.cluster.local names Service mycluster, which does not exist in namespace db"},

		// The router's Service without a cluster IP to dial.
		{name: "router service headless", addr: "mycluster.db.svc.cluster.local:6446",
			servers: func(s *ClusterServers) { s.RouterService.Spec.ClusterIP = corev1.ClusterIPNone },
			wantErr: `host mycluster.db.svc.cluster.local names Service mycluster, which has no cluster IP (clusterIP "None"), unlike the MySQL Operator's router Service: point the trigger at the instances service, or find out who created it, and delete it`},
		{name: "router service headless: an alias does not skip the check", policy: withAlias, addr: "mycluster.db.svc.cluster.local:6446",
			servers: func(s *ClusterServers) { s.RouterService.Spec.ClusterIP = corev1.ClusterIPNone }, wantErr: `which has no cluster IP (clusterIP "None")`},
		{name: "router service with no cluster IP yet", addr: "mycluster.db.svc.cluster.local:6446",
			servers: func(s *ClusterServers) { s.RouterService.Spec.ClusterIP = "" }, wantErr: `which has no cluster IP (clusterIP "")`},

		// Pods with a member's name (hostname, subdomain, labels) that are not members.
		{name: "a pod of a member's name that no StatefulSet controls", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:3306", servers: attackerPod("mycluster-0"),
			wantErr: "host mycluster-0.mycluster-instances.db.svc.cluster.local names pod mycluster-0, which is not a pod of StatefulSet mycluster: its controller is none" + deleteIt},
		{name: "a pod of a member's name: an alias does not skip the check", policy: withAlias, addr: "mycluster-1.mycluster-instances.db.svc.cluster.local:3306", servers: attackerPod("mycluster-1"),
			wantErr: "names pod mycluster-1, which is not a pod of StatefulSet mycluster: its controller is none"},
		{name: "a pod controlled by another StatefulSet", addr: "mycluster-3.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) {
				s.Pods = append(s.Pods, pod("mycluster-3", "10.244.9.9", true, controller("apps/v1", "StatefulSet", "mycluster", "another-statefulset")))
			},
			wantErr: "names pod mycluster-3, which is not a pod of StatefulSet mycluster: its controller is StatefulSet mycluster (UID another-statefulset)" + deleteIt},
		{name: "a pod controlled by a ReplicaSet with the StatefulSet's UID", addr: "mycluster-3.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) {
				s.Pods = append(s.Pods, pod("mycluster-3", "10.244.9.9", true, controller("apps/v1", "ReplicaSet", "mycluster", stsUID)))
			},
			wantErr: "names pod mycluster-3, which is not a pod of StatefulSet mycluster: its controller is ReplicaSet mycluster"},
		{name: "an attacker's pod is never picked for the instances service", addr: instancesHost + ":3306", servers: attackerPod("mycluster-0"), want: "10.244.0.11:3306"},
		{name: "the instances service when only an attacker's pod runs", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.Pods = nil; attackerPod("mycluster-0")(s) },
			wantErr: "host " + instancesHost + " has no group member to dial: no pod of StatefulSet mycluster is running with an IP yet: wait until one is"},
		{name: "a member's name that no pod has", addr: "mycluster-7.mycluster-instances.db.svc.cluster.local:3306",
			wantErr: "host mycluster-7.mycluster-instances.db.svc.cluster.local names pod mycluster-7, which is not a pod of StatefulSet mycluster (there is no such pod labelled mysql.oracle.com/cluster=mycluster): use the instances service, or the name of a pod that exists"},
		{name: "a member without an IP", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) { s.Pods[1].Status.PodIP = "" },
			wantErr: "host mycluster-0.mycluster-instances.db.svc.cluster.local names pod mycluster-0, which is not running with an IP: wait until it is, or use the instances service"},
		{name: "a member that has failed: its IP may be another pod's now", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) { s.Pods[1].Status.Phase = corev1.PodFailed }, wantErr: "names pod mycluster-0, which is not running with an IP"},
		{name: "members of a StatefulSet the cluster does not control", addr: instancesHost + ":3306",
			servers: func(s *ClusterServers) { s.StatefulSet.OwnerReferences = nil },
			wantErr: "host " + instancesHost + " has no group member to dial: StatefulSet mycluster is not the MySQL Operator's: its controller is none, not InnoDBCluster mycluster (UID 6c1d0b8e-cluster)"},
		{name: "members of a StatefulSet the cluster does not control, by name", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:3306",
			servers: func(s *ClusterServers) {
				s.StatefulSet.OwnerReferences = controller("apps/v1", "Deployment", "x", clusterUID)
			},
			wantErr: "has no group member to dial: StatefulSet mycluster is not the MySQL Operator's: its controller is Deployment x"},
		{name: "no StatefulSet", addr: instancesHost + ":3306", servers: func(s *ClusterServers) { s.StatefulSet = nil },
			wantErr: "host " + instancesHost + " has no group member to dial: StatefulSet mycluster does not exist in namespace db (or is not labelled mysql.oracle.com/cluster=mycluster): wait until the MySQL Operator has created it"},

		// Ports that do not speak MySQL's classic protocol.
		{name: "router: not a MySQL port", addr: "mycluster.db.svc.cluster.local:22",
			wantErr: "port 22 of mycluster.db.svc.cluster.local is not a MySQL port of the cluster (3306, 6446, 6447, 6450)"},
		{name: "instances: group replication port", addr: instancesHost + ":33061",
			wantErr: "port 33061 of " + instancesHost + " is not a MySQL port of the cluster (3306)"},
		{name: "member: kubelet port", addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:10250",
			wantErr: "port 10250 of mycluster-0.mycluster-instances.db.svc.cluster.local is not a MySQL port of the cluster (3306)"},
		{name: "the port is checked before the objects", addr: instancesHost + ":33060", servers: externalName,
			wantErr: "port 33060 of " + instancesHost + " is not a MySQL port of the cluster (3306)"},

		// Not a name of this cluster.
		{name: "an IP address", addr: "10.96.0.12:6446", wantErr: "host 10.96.0.12 is not a service of InnoDBCluster mycluster in namespace db"},
		{name: "a member's IP address", addr: "10.244.0.10:3306", wantErr: "host 10.244.0.10 is not a service of InnoDBCluster mycluster in namespace db"},
		{name: "a short name", addr: "mycluster-instances:3306", wantErr: "host mycluster-instances is not a service of InnoDBCluster mycluster in namespace db"},
		{name: "another namespace", addr: "mycluster-instances.other.svc.cluster.local:3306", wantErr: "host mycluster-instances.other.svc.cluster.local is not a service"},
		{name: "another cluster", addr: "othercluster-instances.db.svc.cluster.local:3306", wantErr: "host othercluster-instances.db.svc.cluster.local is not a service"},
		{name: "a name under the instances service that is no member's", addr: "evil.mycluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{name: "a member's name without an ordinal", addr: "mycluster-x.mycluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{name: "a read replica's member under the instances service", addr: "mycluster-rr-0.mycluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{name: "the API server", addr: "kubernetes.default.svc.cluster.local:443", wantErr: "is not a service"},
		{name: "localhost", addr: "localhost:3306", wantErr: "host localhost is not a service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if p.ClusterDomain == "" {
				p = policy
			}
			servers := operatorServers()
			if tc.servers != nil {
				tc.servers(&servers)
			}
			cfg, err := Params{ConnectionString: "u:p@tcp(" + tc.addr + ")/db"}.Config()
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.DialAddress(cfg, servers, Shown)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("DialAddress(%s) = %q, %v\nwant error containing %q", tc.addr, got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("DialAddress(%s) = %q, %v; want %q", tc.addr, got, err, tc.want)
			}
			// From a Secret, the same address gives the same verdict, and one reason for
			// every refusal, so that nothing of the address reaches it.
			hidden := Subject{Source: "Secret s key host"}
			gotHidden, errHidden := p.DialAddress(cfg, servers, hidden)
			if gotHidden != got || (errHidden == nil) != (err == nil) {
				t.Fatalf("from a Secret: %q, %v; shown: %q, %v", gotHidden, errHidden, got, err)
			}
			if errHidden != nil && errHidden.Error() != hiddenReason {
				t.Errorf("reason %q, want the one reason for every refusal of a Secret's address", errHidden)
			}
		})
	}
	unix, _ := Params{ConnectionString: "u:p@unix(/var/run/mysqld.sock)/db"}.Config()
	if _, err := policy.DialAddress(unix, operatorServers(), Shown); err == nil || err.Error() != `network "unix" is not tcp` {
		t.Errorf("unix socket: %v", err)
	}
	if _, err := policy.DialAddress(unix, operatorServers(), Subject{Source: "Secret s key connectionString"}); err == nil || !strings.HasPrefix(err.Error(), "the host from Secret s key connectionString is not a server of InnoDBCluster mycluster in namespace db that innokeda may dial") {
		t.Errorf("unix socket from a Secret: %v", err)
	}
}

// hiddenReason is the reason for every refusal of an address from Secret s key host.
var hiddenReason = func() string {
	_, err := HostPolicy{ClusterDomain: "cluster.local"}.DialAddress(&mysql.Config{Net: "tcp", Addr: "nowhere:1"}, operatorServers(), Subject{Source: "Secret s key host"})
	return err.Error()
}()

func TestConnectionStringThatIsNotADSN(t *testing.T) {
	for _, cs := range []string{"10.96.0.12", "mycluster.db.svc.cluster.local:3306", "mysql://root:hunter2@host/db"} {
		_, err := Params{ConnectionString: cs}.Config()
		if err != ErrNotADSN {
			t.Errorf("Config(%q) error = %v, want ErrNotADSN", cs, err)
		}
		if err != nil && strings.Contains(err.Error(), cs) {
			t.Errorf("error echoes the connection string: %v", err)
		}
	}
}

// TestConnectionStringParametersByAllowlist: a DSN from a Secret may set only parameters
// that change no session state; a refusal names a parameter only when it is a known word,
// never the rest of the text.
func TestConnectionStringParametersByAllowlist(t *testing.T) {
	admitted := []string{
		"keda:pw@tcp(db:3306)/app",
		"keda:pw@tcp(db:3306)/app?tls=true&timeout=2s&readTimeout=1s&writeTimeout=1s",
		"keda:pw@tcp(db:3306)/app?parseTime=true&loc=UTC&charset=utf8mb4&collation=utf8mb4_bin&checkConnLiveness=true",
		"keda:p?w/x@tcp(db:3306)/app", // '?' and '/' inside the password
	}
	for _, dsn := range admitted {
		if _, err := (Params{ConnectionString: dsn}).Config(); err != nil {
			t.Errorf("Config(%q) = %v, want it admitted", dsn, err)
		}
	}
	refused := map[string]string{
		"keda:pw@tcp(db:3306)/app?autocommit=0":                             "parameter autocommit",
		"keda:pw@tcp(db:3306)/app?tls=true&tx_isolation=%27SERIALIZABLE%27": "parameter tx_isolation",
		"keda:pw@tcp(db:3306)/app?allowAllFiles=true":                       "parameter allowAllFiles",
		"keda:pw@tcp(db:3306)/app?multiStatements=true":                     "parameter multiStatements",
		"keda:pw@tcp(db:3306)/app?allowCleartextPasswords=1":                "parameter allowCleartextPasswords",
		"keda:pw@tcp(db:3306)/app?sql_mode=%27ORACLE%27":                    "parameter sql_mode",
		"keda:pw@tcp(db:3306)/app?s3cr3t_guess=1":                           "a parameter that is not one innokeda admits",
	}
	for dsn, want := range refused {
		_, err := (Params{ConnectionString: dsn}).Config()
		if err == nil || !strings.Contains(err.Error(), "sets "+want+":") {
			t.Errorf("Config(%q) = %v, want a refusal naming %s", dsn, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw@") {
			t.Errorf("Config(%q): the refusal quotes the connection string: %v", dsn, err)
		}
	}
}
