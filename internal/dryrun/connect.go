package dryrun

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// Params are a trigger's connection parameters, resolved from metadata and its
// TriggerAuthentication the way KEDA resolves them.
type Params struct {
	Host, Port, DBName, Username, Password string
	// ConnectionString, when set, is used verbatim as a go-sql-driver DSN and wins over the rest.
	ConnectionString string
}

// ErrNotADSN is returned for a connection string go-sql-driver cannot parse. Its message
// never contains the string, which holds a password.
var ErrNotADSN = errors.New("is not a go-sql-driver DSN such as user:password@tcp(host:3306)/db (a bare IP address or service name is not one): " +
	"use the trigger's host and port instead, or write a complete DSN")

// allowedDSNParameters are the go-sql-driver parameters a connection string may set: each
// changes how the client connects or reads results, none the server session KEDA's polls
// run in (a session variable such as autocommit=0 would make KEDA hold a transaction, and
// its locks, across polls), and none widens what a query may do (multiStatements,
// allowAllFiles) or how credentials travel (allowCleartextPasswords). charset and collation
// set the connection's character set, which no query the guard admits (printable ASCII)
// reads differently.
var allowedDSNParameters = setOf("tls", "timeout", "readTimeout", "writeTimeout", "parseTime", "loc",
	"checkConnLiveness", "charset", "collation")

// knownDSNParameters may be named in a message: the connection string comes from a Secret,
// so only a name from this fixed list, never the text itself, is quoted.
var knownDSNParameters = setOf("allowAllFiles", "allowCleartextPasswords", "allowFallbackToPlaintext",
	"allowNativePasswords", "allowOldPasswords", "clientFoundRows", "columnsWithAlias", "interpolateParams",
	"maxAllowedPacket", "multiStatements", "rejectReadOnly", "serverPubKey", "connectionAttributes",
	"compress", "autocommit", "tx_isolation", "transaction_isolation", "transaction_read_only", "tx_read_only",
	"sql_mode", "time_zone", "wait_timeout", "innodb_lock_wait_timeout", "lock_wait_timeout",
	"max_execution_time", "max_statement_time", "sql_safe_updates", "foreign_key_checks", "sql_log_bin")

// checkDSNParameters refuses a DSN that sets a parameter not on allowedDSNParameters.
// dsn has parsed: its parameters are what follows the first '?' after its last '/'.
func checkDSNParameters(dsn string) error {
	slash := strings.LastIndexByte(dsn, '/')
	q := strings.IndexByte(dsn[slash+1:], '?')
	if q < 0 {
		return nil
	}
	for _, pair := range strings.Split(dsn[slash+1+q+1:], "&") {
		name, _, _ := strings.Cut(pair, "=")
		if name == "" || allowedDSNParameters[name] {
			continue
		}
		what := "a parameter that is not one innokeda admits"
		if knownDSNParameters[name] {
			what = "parameter " + name
		}
		return fmt.Errorf("sets %s: a connection string may set only %s, which change no server session state; "+
			"KEDA would set anything else (a session variable, a driver option) on every connection it polls with: remove it", what, strings.Join(sortedKeys(allowedDSNParameters), ", "))
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Config returns the go-sql-driver configuration KEDA would connect with.
func (p Params) Config() (*mysql.Config, error) {
	if p.ConnectionString != "" {
		cfg, err := mysql.ParseDSN(p.ConnectionString)
		if err != nil {
			return nil, ErrNotADSN
		}
		if err := checkDSNParameters(p.ConnectionString); err != nil {
			return nil, err
		}
		return cfg, nil
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(p.Host, p.Port)
	cfg.User, cfg.Passwd, cfg.DBName = p.Username, p.Password, p.DBName
	return cfg, nil
}

// HostPolicy decides which hosts a dry-run may dial, and where.
type HostPolicy struct {
	ClusterDomain string
	// AllowedHosts are further host names any cluster's dry-run may dial by DNS
	// (--dry-run-allowed-host): an operator's explicit choice.
	AllowedHosts []string
	// Aliases map an allowed host name to the address:port to dial instead
	// (--dry-run-host-alias); applied after every other check, so they never widen them.
	Aliases map[string]string
}

// ClusterServers is what the API server holds about the servers of one InnoDBCluster, as
// the webhook read it from its cache. A cluster DNS name is not proof that a host is the
// cluster's: whoever may create objects in the namespace can make it resolve to a server
// of theirs, with an ExternalName Service named <cluster>-instances created before the
// operator's (the operator then keeps it: it creates the Service only when it is missing),
// or with a pod whose hostname is <cluster>-<n> and subdomain <cluster>-instances. So a
// dry-run dials the address these objects give, and only when they are the operator's.
// (An ownerReference is written by whoever creates the object, so one that names the
// cluster's UID can be forged by someone who reads it; a ClusterIP or a pod IP cannot be
// pointed outside the cluster the way a DNS name can, and pods are checked one level
// further, through the StatefulSet.)
//
// What the operator creates (mysql/mysql-operator, mysqloperator/controller/innodbcluster/):
//   - Service <cluster>-instances: cluster_objects.py prepare_cluster_service, headless
//     (clusterIP: None), labelled mysql.oracle.com/cluster=<cluster>; created in
//     operator_cluster.py on_innodbcluster_create ("4. Cluster Service") after kopf.adopt,
//     which adds an ownerReference to the InnoDBCluster with controller: true (kopf
//     hierarchies.py append_owner_reference: controller=True, block_owner_deletion=True).
//   - Service <cluster>, the router's: router_objects.py prepare_router_service, of
//     spec.service.type (ClusterIP by default; NodePort and LoadBalancer have a cluster IP
//     too), labelled mysql.oracle.com/cluster=<cluster>; created and adopted the same way
//     in on_innodbcluster_create ("10. Router Service").
//   - StatefulSet <cluster>: cluster_objects.py prepare_cluster_stateful_set, adopted in
//     on_innodbcluster_create ("7. Cluster StatefulSet"); serviceName <cluster>-instances;
//     its pod template is labelled mysql.oracle.com/cluster=<cluster>. Its pods, named
//     <cluster>-<ordinal>, are created by Kubernetes' StatefulSet controller, which makes
//     itself their controller owner; the operator tells its pods apart the same way
//     (cluster_api.py InnoDBCluster.owns_pod: the pod's StatefulSet owner).
type ClusterServers struct {
	// Name, Namespace and UID are the InnoDBCluster's.
	Name, Namespace string
	UID             types.UID
	// InstancesService is Service <cluster>-instances, RouterService Service <cluster>,
	// and StatefulSet the group members' StatefulSet <cluster>; nil when missing.
	InstancesService, RouterService *corev1.Service
	StatefulSet                     *appsv1.StatefulSet
	// Pods are the namespace's pods labelled mysql.oracle.com/cluster=<cluster>. The
	// label is not proof either: only those the StatefulSet controls are group members.
	Pods []corev1.Pod
}

var ordinal = regexp.MustCompile(`^[0-9]+$`)

// The hosts of a cluster a dry-run may dial.
type hostKind int

const (
	hostNone      hostKind = iota
	hostInstances          // <cluster>-instances.<ns>.svc.<domain>: any group member
	hostPod                // <cluster>-<n>.<cluster>-instances.<ns>.svc.<domain>: one group member
	hostRouter             // <cluster>.<ns>.svc.<domain>: the router
	hostAllowed            // a --dry-run-allowed-host name
)

// DialAddress returns the address to dial for cfg when it names a server of the cluster:
// its instances service (a group member's pod IP), one of its pods under that service
// (that pod's IP) or its router service (its cluster IP), each only when the API objects
// behind the name are the MySQL Operator's (see ClusterServers); or a
// --dry-run-allowed-host name, by DNS. Anything else, including IP addresses, short names
// and Unix sockets, is not dialed, and the reason is returned.
//
// subject says how the reason names the address (see Subject).
func (p HostPolicy) DialAddress(cfg *mysql.Config, servers ClusterServers, subject Subject) (string, error) {
	address, err := p.dialAddress(cfg, servers, subject)
	return address, subject.reason(err, servers.Name, servers.Namespace)
}

func (p HostPolicy) dialAddress(cfg *mysql.Config, servers ClusterServers, subject Subject) (string, error) {
	kind, host, name, port, pod, err := p.name(cfg, servers.Name, servers.Namespace, subject)
	if err != nil {
		return "", err
	}
	what := subject.host(host)
	var ip string
	switch kind {
	case hostInstances:
		ip, err = servers.anyMember(what)
	case hostPod:
		ip, err = servers.member(what, pod)
	case hostRouter:
		ip, err = servers.routerIP(what)
	}
	if err != nil {
		return "", err
	}
	if alias, ok := p.Aliases[name]; ok {
		return alias, nil
	}
	if kind == hostAllowed {
		// A fully qualified name: the resolver's search domains play no part.
		return net.JoinHostPort(name+".", port), nil
	}
	return net.JoinHostPort(ip, port), nil
}

// NamesCluster checks, from cfg's address alone, that it names one of the hosts of
// InnoDBCluster namespace/cluster that a dry-run may dial, on a MySQL port of it: no API
// object is looked at. A trigger that sends the cluster's credentials anywhere else would
// hand them to whoever runs that host.
func (p HostPolicy) NamesCluster(cfg *mysql.Config, cluster, namespace string, subject Subject) error {
	_, _, _, _, _, err := p.name(cfg, cluster, namespace, subject)
	return subject.reason(err, cluster, namespace)
}

// NamesMember checks, from hostPort alone, that it names one group member of the
// cluster (<cluster>-<n>.<cluster>-instances.<namespace>.svc.<domain>) on port 3306.
func (p HostPolicy) NamesMember(hostPort, cluster, namespace string, subject Subject) error {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", hostPort
	kind, host, _, _, _, err := p.name(cfg, cluster, namespace, subject)
	if err == nil && kind != hostPod {
		err = fmt.Errorf("%s is not a group member of InnoDBCluster %s in namespace %s", subject.host(host), cluster, namespace)
	}
	return err
}

// Subject is how the host policy's reasons name the address they are about. A reason
// quotes the address only where whoever reads it wrote it, or innokeda built it (Shown);
// otherwise it says where the address came from, and is one reason for every refusal
// (Subject.reason), so that no value read from a Secret reaches an answer, an Event or a
// log line, and no reason depends on what such a value is.
type Subject struct {
	Shown  bool
	Source string // where the address came from, such as "Secret db key host"; when not Shown
}

// Shown is the Subject of an address that may be quoted.
var Shown = Subject{Shown: true}

// reason is err as a reason about s. For an address that may not be quoted it is one
// reason for every refusal: which one applied would tell what kind of name the address
// is (a pod's, the router's, another host's), and so something of its value.
func (s Subject) reason(err error, cluster, namespace string) error {
	if err == nil || s.Shown {
		return err
	}
	return fmt.Errorf("%s is not a server of InnoDBCluster %s in namespace %s that innokeda may dial "+
		"(its instances service or a group member's pod under it, on port 3306, or its router's service, each with the MySQL Operator's objects behind it)",
		s.host(""), cluster, namespace)
}

func (s Subject) host(name string) string {
	if s.Shown {
		return "host " + name
	}
	return "the host from " + s.Source
}

// name classifies cfg's address (host as written, name in lower case without a final
// dot), and checks its network and port.
func (p HostPolicy) name(cfg *mysql.Config, cluster, namespace string, subject Subject) (kind hostKind, host, name, port, pod string, err error) {
	if cfg.Net != "tcp" && cfg.Net != "tcp4" && cfg.Net != "tcp6" {
		return hostNone, "", "", "", "", fmt.Errorf("network %q is not tcp", cfg.Net)
	}
	host, port, err = net.SplitHostPort(cfg.Addr)
	if err != nil {
		return hostNone, "", "", "", "", fmt.Errorf("address is not host:port")
	}
	name = strings.ToLower(strings.TrimSuffix(host, "."))
	kind, pod = p.classify(name, cluster, namespace)
	var ports []string
	switch kind {
	case hostNone:
		return kind, host, name, port, pod, fmt.Errorf("%s is not a service of InnoDBCluster %s in namespace %s", subject.host(host), cluster, namespace)
	case hostInstances, hostPod:
		ports = instancePorts
	case hostRouter:
		ports = routerPorts
	}
	if ports != nil && !slices.Contains(ports, port) {
		return kind, host, name, port, pod, fmt.Errorf("port %s of %s is not a MySQL port of the cluster (%s)", port, host, strings.Join(ports, ", "))
	}
	return kind, host, name, port, pod, nil
}

// classify tells which of the cluster's hosts name is, if any, and for a per-pod name,
// the pod's name. The cluster's own names come first: listing one with
// --dry-run-allowed-host does not skip its checks.
func (p HostPolicy) classify(name, cluster, namespace string) (hostKind, string) {
	suffix := "." + namespace + ".svc." + strings.ToLower(p.ClusterDomain)
	instances := innodbcluster.InstancesService(cluster) + suffix
	pod := strings.TrimSuffix(name, "."+instances)
	switch {
	case name == instances:
		return hostInstances, ""
	case name == innodbcluster.RouterService(cluster)+suffix:
		return hostRouter, ""
	case pod != name && strings.HasPrefix(pod, innodbcluster.StatefulSetName(cluster)+"-") &&
		ordinal.MatchString(strings.TrimPrefix(pod, innodbcluster.StatefulSetName(cluster)+"-")):
		return hostPod, pod
	}
	for _, h := range p.AllowedHosts {
		if name == strings.ToLower(strings.TrimSuffix(h, ".")) {
			return hostAllowed, ""
		}
	}
	return hostNone, ""
}

// The classic-protocol ports of the operator's services: mysqld's, and the router's
// (3306 maps to its read-write port; 6446 read-write, 6447 read-only, 6450 split).
var (
	instancePorts = []string{"3306"}
	routerPorts   = []string{"3306", "6446", "6447", "6450"}
)

// The fix every "not the operator's" reason ends with.
const notTheOperators = "find out who created it, and delete it"

// operatorService checks that svc, which what names (Subject.host), is the MySQL Operator's: it exists,
// is not an ExternalName (a DNS alias for any other host), and its controller is this
// InnoDBCluster.
func (s ClusterServers) operatorService(what, name string, svc *corev1.Service) error {
	switch {
	case svc == nil:
		return fmt.Errorf("%s names Service %s, which does not exist in namespace %s (or is not labelled %s=%s): "+
			"wait until the MySQL Operator has created it", what, name, s.Namespace, innodbcluster.ClusterLabel, s.Name)
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return fmt.Errorf("%s names Service %s, which is of type ExternalName (a DNS alias for another host), so it is not the MySQL Operator's: %s",
			what, name, notTheOperators)
	case !controlledBy(svc, innodbcluster.GroupVersion.Group, innodbcluster.Kind, s.UID):
		return fmt.Errorf("%s names Service %s, which is not the MySQL Operator's: its controller is %s, not InnoDBCluster %s (UID %s): %s",
			what, name, controllerOf(svc), s.Name, s.UID, notTheOperators)
	}
	return nil
}

// routerIP returns the router Service's cluster IP.
func (s ClusterServers) routerIP(what string) (string, error) {
	name := innodbcluster.RouterService(s.Name)
	if err := s.operatorService(what, name, s.RouterService); err != nil {
		return "", err
	}
	ip := s.RouterService.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || net.ParseIP(ip) == nil {
		return "", fmt.Errorf("%s names Service %s, which has no cluster IP (clusterIP %q), unlike the MySQL Operator's router Service: "+
			"point the trigger at the instances service, or %s", what, name, ip, notTheOperators)
	}
	return ip, nil
}

// members returns the group members the API server knows of, after checking that the
// instances Service host lives under, and the StatefulSet, are the operator's.
func (s ClusterServers) members(what string) ([]corev1.Pod, error) {
	if err := s.operatorService(what, innodbcluster.InstancesService(s.Name), s.InstancesService); err != nil {
		return nil, err
	}
	sts := innodbcluster.StatefulSetName(s.Name)
	switch {
	case s.StatefulSet == nil:
		return nil, fmt.Errorf("%s has no group member to dial: StatefulSet %s does not exist in namespace %s (or is not labelled %s=%s): "+
			"wait until the MySQL Operator has created it", what, sts, s.Namespace, innodbcluster.ClusterLabel, s.Name)
	case !controlledBy(s.StatefulSet, innodbcluster.GroupVersion.Group, innodbcluster.Kind, s.UID):
		return nil, fmt.Errorf("%s has no group member to dial: StatefulSet %s is not the MySQL Operator's: its controller is %s, not InnoDBCluster %s (UID %s)",
			what, sts, controllerOf(s.StatefulSet), s.Name, s.UID)
	}
	var members []corev1.Pod
	for _, pod := range s.Pods {
		if controlledBy(&pod, appsv1.GroupName, "StatefulSet", s.StatefulSet.UID) {
			members = append(members, pod)
		}
	}
	return members, nil
}

// anyMember returns the IP of the group member to dial for the instances service: a
// running one, Ready ones first, then the lowest ordinal.
func (s ClusterServers) anyMember(what string) (string, error) {
	members, err := s.members(what)
	if err != nil {
		return "", err
	}
	members = slices.DeleteFunc(members, func(p corev1.Pod) bool { return !running(&p) })
	if len(members) == 0 {
		return "", fmt.Errorf("%s has no group member to dial: no pod of StatefulSet %s is running with an IP yet: wait until one is",
			what, innodbcluster.StatefulSetName(s.Name))
	}
	slices.SortFunc(members, func(a, b corev1.Pod) int {
		if ra, rb := ready(&a), ready(&b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Compare(podOrdinal(a.Name), podOrdinal(b.Name))
	})
	return members[0].Status.PodIP, nil
}

// member returns the IP of group member pod, which what names.
func (s ClusterServers) member(what, pod string) (string, error) {
	members, err := s.members(what)
	if err != nil {
		return "", err
	}
	sts := innodbcluster.StatefulSetName(s.Name)
	i := slices.IndexFunc(members, func(p corev1.Pod) bool { return p.Name == pod })
	if i < 0 {
		for j := range s.Pods {
			if s.Pods[j].Name == pod {
				return "", fmt.Errorf("%s names %s, which is not a pod of StatefulSet %s: its controller is %s: %s",
					what, "pod "+pod, sts, controllerOf(&s.Pods[j]), notTheOperators)
			}
		}
		return "", fmt.Errorf("%s names %s, which is not a pod of StatefulSet %s (there is no such pod labelled %s=%s): "+
			"use the instances service, or the name of a pod that exists", what, "pod "+pod, sts, innodbcluster.ClusterLabel, s.Name)
	}
	if !running(&members[i]) {
		return "", fmt.Errorf("%s names %s, which is not running with an IP: wait until it is, or use the instances service", what, "pod "+pod)
	}
	return members[i].Status.PodIP, nil
}

// controlledBy tells whether obj's controller owner is the object of that API group,
// kind and UID.
func controlledBy(obj metav1.Object, group, kind string, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || uid == "" || ref.UID != uid || ref.Kind != kind {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == group
}

// controllerOf describes obj's controller owner.
func controllerOf(obj metav1.Object) string {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s (UID %s)", ref.Kind, ref.Name, ref.UID)
}

// running tells whether pod has an IP that is still its own: a pod that has finished
// may have handed its IP on to another.
func running(pod *corev1.Pod) bool {
	return pod.Status.PodIP != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// ready tells whether pod is Ready and not being deleted.
func ready(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podOrdinal is the ordinal a StatefulSet pod's name ends with.
func podOrdinal(name string) int {
	n, err := strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
	if err != nil {
		return math.MaxInt
	}
	return n
}
