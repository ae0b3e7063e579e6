package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestMariaDB(t *testing.T) {
	m, err := StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ctx := context.Background()
	sum, err := m.TableChecksum(ctx)
	if err != nil || sum == "0" {
		t.Fatalf("checksum %q, %v", sum, err)
	}
	tables, err := m.Tables(ctx)
	if err != nil || len(tables) != 1 {
		t.Fatalf("tables %v, %v", tables, err)
	}

	// The server offers TLS with a certificate its CA verifies, and counts the session.
	before, err := m.TLSConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(m.CA) {
		t.Fatal("the CA's PEM holds no certificate")
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", m.Addr, AppUser, AppPassword
	cfg.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer func() { _ = db.Close() }()
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil || cipher == "" {
		t.Fatalf("session cipher %q, %v: want a TLS session", cipher, err)
	}
	if after, err := m.TLSConnections(ctx); err != nil || after != before+1 {
		t.Errorf("Ssl_accepts went from %d to %d (%v), want one more", before, after, err)
	}
}

func TestMariaDBWithoutTLS(t *testing.T) {
	m, err := StartMariaDB(WithoutTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if m.CA != nil {
		t.Error("a server without TLS has a CA")
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.TLSConfig = "tcp", m.Addr, AppUser, AppPassword, "true"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer func() { _ = db.Close() }()
	if err := db.PingContext(context.Background()); err == nil {
		t.Error("tls=true connected to a server without TLS")
	}
}

// In the unit tier, starting a server is an error that names the fix.
func TestNoServersInTheUnitTier(t *testing.T) {
	t.Setenv(noServersEnv, "1")
	if _, err := StartMariaDB(); err == nil || !strings.Contains(err.Error(), "integration_PKGS") {
		t.Errorf("StartMariaDB in the unit tier: %v", err)
	}
	if _, err := StartControlPlane(); err == nil || !strings.Contains(err.Error(), "integration_PKGS") {
		t.Errorf("StartControlPlane in the unit tier: %v", err)
	}
}
