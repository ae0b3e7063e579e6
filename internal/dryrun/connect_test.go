package dryrun

import (
	"strings"
	"testing"
)

func TestDialAddress(t *testing.T) {
	policy := HostPolicy{
		ClusterDomain: "cluster.local",
		AllowedHosts:  []string{"mysql.example.com"},
		Aliases:       map[string]string{"mycluster-instances.db.svc.cluster.local": "127.0.0.1:33306"},
	}
	tests := []struct {
		addr, want, wantErr string
	}{
		{addr: "mycluster-instances.db.svc.cluster.local:3306", want: "127.0.0.1:33306"},
		{addr: "MyCluster-Instances.db.svc.cluster.local.:3306", want: "127.0.0.1:33306"},
		{addr: "mycluster-2.mycluster-instances.db.svc.cluster.local:3306", want: "mycluster-2.mycluster-instances.db.svc.cluster.local.:3306"},
		{addr: "mycluster.db.svc.cluster.local:6446", want: "mycluster.db.svc.cluster.local.:6446"},
		{addr: "mysql.example.com:3306", want: "mysql.example.com.:3306"},
		{addr: "mysql.example.com:13306", want: "mysql.example.com.:13306"},
		{addr: "mycluster.db.svc.cluster.local:6447", want: "mycluster.db.svc.cluster.local.:6447"},
		{addr: "mycluster.db.svc.cluster.local:22", wantErr: "port 22 of mycluster.db.svc.cluster.local is not a MySQL port of the cluster (3306, 6446, 6447, 6450)"},
		{addr: "mycluster-instances.db.svc.cluster.local:33061", wantErr: "port 33061 of mycluster-instances.db.svc.cluster.local is not a MySQL port of the cluster (3306)"},
		{addr: "mycluster-0.mycluster-instances.db.svc.cluster.local:10250", wantErr: "is not a MySQL port of the cluster (3306)"},
		{addr: "10.96.0.12:6446", wantErr: "host 10.96.0.12 is not a service of InnoDBCluster mycluster in namespace db"},
		{addr: "mycluster-instances:3306", wantErr: "host mycluster-instances is not a service"},
		{addr: "mycluster-instances.other.svc.cluster.local:3306", wantErr: "is not a service"},
		{addr: "othercluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{addr: "evil.mycluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{addr: "mycluster-x.mycluster-instances.db.svc.cluster.local:3306", wantErr: "is not a service"},
		{addr: "kubernetes.default.svc.cluster.local:443", wantErr: "is not a service"},
		{addr: "localhost:3306", wantErr: "is not a service"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			cfg, err := Params{ConnectionString: "u:p@tcp(" + tc.addr + ")/db"}.Config()
			if err != nil {
				t.Fatal(err)
			}
			got, err := policy.DialAddress(cfg, "mycluster", "db")
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("DialAddress(%s) = %q, %v; want error containing %q", tc.addr, got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("DialAddress(%s) = %q, %v; want %q", tc.addr, got, err, tc.want)
			}
		})
	}
	unix, _ := Params{ConnectionString: "u:p@unix(/var/run/mysqld.sock)/db"}.Config()
	if _, err := policy.DialAddress(unix, "mycluster", "db"); err == nil || err.Error() != `network "unix" is not tcp` {
		t.Errorf("unix socket: %v", err)
	}
}

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
