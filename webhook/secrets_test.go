package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// TestNoSecretValueInAnyAnswer: a TriggerAuthentication may map any Secret key to any
// parameter, so an attacker who may create one (but not read the Secret) maps it where
// innokeda or MySQL would echo it: the host of a warning, the user of "Access denied", the
// database of "Unknown database". No value read from a Secret reaches the answer or a log.
func TestNoSecretValueInAnyAnswer(t *testing.T) {
	db := harness.SharedMariaDB(t)
	const (
		hostValue = "db-host-from-secret-H4.example"
		portValue = "33071"
		userValue = "user-from-secret-U9"
		dbValue   = "db_from_secret_D2"
		pwValue   = "pw-from-secret-P6"
		dsnHost   = "dsn-host-from-secret-C3.example"
	)
	secretValues := []string{hostValue, portValue, userValue, dbValue, pwValue, dsnHost, harness.AppPassword}
	loot := secretObj("loot", map[string]string{
		"host": hostValue, "port": portValue, "user": userValue, "db": dbValue, "pw": pwValue,
		"real-user": harness.AppUser, "real-pw": harness.AppPassword,
		"dsn": harness.AppUser + ":" + harness.AppPassword + "@tcp(" + dsnHost + ":3306)/" + dbValue,
	})
	auth := func(name string, refs ...kedav1alpha1.AuthSecretTargetRef) client.Object {
		return triggerAuth(name, refs...)
	}
	extra := []client.Object{loot,
		auth("host-from-secret", ref("host", "loot", "host"), ref("username", "loot", "real-user"), ref("password", "loot", "real-pw")),
		auth("port-from-secret", ref("port", "loot", "port"), ref("username", "loot", "real-user"), ref("password", "loot", "real-pw")),
		auth("user-from-secret", ref("username", "loot", "user"), ref("password", "loot", "pw")),
		auth("db-from-secret", ref("dbName", "loot", "db"), ref("username", "loot", "real-user"), ref("password", "loot", "real-pw")),
		auth("dsn-from-secret", ref("connectionString", "loot", "dsn")),
	}
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
	noMetadataHost := gen.WithTriggerMetadata(0, "host", "", "port", "")
	for _, tc := range []struct {
		name string
		so   *kedav1alpha1.ScaledObject
	}{
		{"the host, echoed by the host policy", filled(noMetadataHost, gen.WithTriggerMetadata(0, "port", "3306"), gen.WithAuthenticationRef(0, "", "host-from-secret"))},
		{"the port, echoed by the port policy", filled(gen.WithTriggerMetadata(0, "port", ""), gen.WithAuthenticationRef(0, "", "port-from-secret"))},
		{"the user name, echoed by MySQL's access denied", filled(gen.WithAuthenticationRef(0, "", "user-from-secret"))},
		{"the database, echoed by MySQL's unknown database", filled(gen.WithAuthenticationRef(0, "", "db-from-secret"))},
		{"the parts of a connection string", filled(noMetadataHost, gen.WithAuthenticationRef(0, "", "dsn-from-secret"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.handle(t, request(t, admissionv1.Create, tc.so))
			answer, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Warnings) == 0 && resp.Allowed {
				t.Fatalf("admitted without a word: the test no longer reaches an echo (%s)", answer)
			}
			for _, v := range secretValues {
				if strings.Contains(string(answer), v) {
					t.Errorf("the answer holds the Secret value %q: %s", v, answer)
				}
				if strings.Contains(f.logs.String(), v) {
					t.Errorf("a log line holds the Secret value %q", v)
				}
			}
			if !strings.Contains(string(answer), "[redacted]") {
				t.Errorf("the answer does not show where a value was redacted: %s", answer)
			}
		})
	}
}
