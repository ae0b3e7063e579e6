package dryrun

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

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

// Config returns the go-sql-driver configuration KEDA would connect with.
func (p Params) Config() (*mysql.Config, error) {
	if p.ConnectionString != "" {
		cfg, err := mysql.ParseDSN(p.ConnectionString)
		if err != nil {
			return nil, ErrNotADSN
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
	// AllowedHosts are further host names any cluster's dry-run may dial (--dry-run-allowed-host).
	AllowedHosts []string
	// Aliases map an allowed host name to the address:port to dial instead
	// (--dry-run-host-alias); applied after the allow check, so they never widen it.
	Aliases map[string]string
}

var ordinal = regexp.MustCompile(`^[0-9]+$`)

// DialAddress returns the address to dial for cfg when it names a host that belongs to
// InnoDBCluster cluster in namespace: its instances service, one of its pods under that
// service, or its router service, by their cluster DNS names. Anything else, including IP
// addresses, short names and Unix sockets, is not dialed, and the reason is returned.
func (p HostPolicy) DialAddress(cfg *mysql.Config, cluster, namespace string) (string, error) {
	if cfg.Net != "tcp" && cfg.Net != "tcp4" && cfg.Net != "tcp6" {
		return "", fmt.Errorf("network %q is not tcp", cfg.Net)
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("address is not host:port")
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	ports, ok := p.allowed(name, cluster, namespace)
	if !ok {
		return "", fmt.Errorf("host %s is not a service of InnoDBCluster %s in namespace %s", host, cluster, namespace)
	}
	if ports != nil && !slices.Contains(ports, port) {
		return "", fmt.Errorf("port %s of %s is not a MySQL port of the cluster (%s)", port, host, strings.Join(ports, ", "))
	}
	if alias, ok := p.Aliases[name]; ok {
		return alias, nil
	}
	// A fully qualified name: the resolver's search domains play no part.
	return net.JoinHostPort(name+".", port), nil
}

// allowed tells whether name is one of the cluster's hosts, and which ports of it
// speak MySQL's classic protocol (nil: any, for --dry-run-allowed-host names).
func (p HostPolicy) allowed(name, cluster, namespace string) (ports []string, ok bool) {
	suffix := "." + namespace + ".svc." + strings.ToLower(p.ClusterDomain)
	instances := innodbcluster.InstancesService(cluster) + suffix
	pod := strings.TrimSuffix(name, "."+instances)
	switch {
	case name == instances:
		return instancePorts, true
	case name == innodbcluster.RouterService(cluster)+suffix:
		return routerPorts, true
	case pod != name && strings.HasPrefix(pod, innodbcluster.StatefulSetName(cluster)+"-") &&
		ordinal.MatchString(strings.TrimPrefix(pod, innodbcluster.StatefulSetName(cluster)+"-")):
		return instancePorts, true // <cluster>-<ordinal>.<cluster>-instances...: one group member
	}
	for _, h := range p.AllowedHosts {
		if name == strings.ToLower(strings.TrimSuffix(h, ".")) {
			return nil, true
		}
	}
	return nil, false
}

// The classic-protocol ports of the operator's services: mysqld's, and the router's
// (3306 maps to its read-write port; 6446 read-write, 6447 read-only, 6450 split).
var (
	instancePorts = []string{"3306"}
	routerPorts   = []string{"3306", "6446", "6447", "6450"}
)
