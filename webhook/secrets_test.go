package webhook_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// An attacker who may create a TriggerAuthentication, but not read the Secret it maps,
// maps any key to any parameter: where innokeda or MySQL would echo it (the host of a
// warning, the user of "Access denied", the database of "Unknown database"), or where
// MySQL cuts or re-encodes it (a user name past 128 characters, bytes it cannot show).
// Messages name such a value by its Secret and key, and quote nothing of it.

// leaks returns the substrings of value, 8 bytes long, that text holds (or value itself
// when shorter): a cut or re-encoded echo still holds such a window.
func leaks(text, value string) []string {
	var found []string
	if len(value) < 8 {
		if strings.Contains(text, value) {
			found = append(found, value)
		}
		return found
	}
	for i := 0; i+8 <= len(value); i++ {
		if w := value[i : i+8]; strings.Contains(text, w) {
			found = append(found, w)
		}
	}
	return found
}

func TestNoSecretValueInAnyAnswer(t *testing.T) {
	db := harness.SharedMariaDB(t)
	const (
		// No 8 bytes of these are in any object's name or in innokeda's words.
		hostValue = "Hq7zTw3k.host"
		portValue = "33071"
		userValue = "Uy4mPq9zR"
		dbValue   = "Dk2xWv8n_q"
		pwValue   = "Pw6rTz1mQ"
		dsnHost   = "Cn3bVx5j.dsn"
	)
	// MariaDB keeps 128 characters of a user name in its messages, and shows a byte
	// >= 0x80 as '?': a value taken out of a message whole would leave the rest.
	longUser := "Lu" + strings.Repeat("Zq8rTx4w", 20)
	binaryUser := "Bn\xff\xfeQz7\xc3(Wk2pYt9v"
	secretValues := []string{hostValue, portValue, userValue, dbValue, pwValue, dsnHost, harness.AppPassword, longUser, binaryUser}
	loot := secretObj("loot", map[string]string{
		"host": hostValue, "port": portValue, "user": userValue, "db": dbValue, "pw": pwValue,
		"long-user": longUser, "binary-user": binaryUser,
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
		auth("long-user-from-secret", ref("username", "loot", "long-user"), ref("password", "loot", "pw")),
		auth("binary-user-from-secret", ref("username", "loot", "binary-user"), ref("password", "loot", "pw")),
		auth("db-from-secret", ref("dbName", "loot", "db"), ref("username", "loot", "real-user"), ref("password", "loot", "real-pw")),
		auth("dsn-from-secret", ref("connectionString", "loot", "dsn")),
	}
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
	noMetadataHost := gen.WithTriggerMetadata(0, "host", "", "port", "")
	for _, tc := range []struct {
		name     string
		so       *kedav1alpha1.ScaledObject
		wantFrom string // where the message says the value came from
	}{
		{"the host, echoed by the host policy", filled(noMetadataHost, gen.WithTriggerMetadata(0, "port", "3306"), gen.WithAuthenticationRef(0, "", "host-from-secret")), "the host from Secret loot key host"},
		{"the port, echoed by the port policy", filled(gen.WithTriggerMetadata(0, "port", ""), gen.WithAuthenticationRef(0, "", "port-from-secret")), "the host from metadata.host, with the port from Secret loot key port"},
		{"the user name, echoed by MySQL's access denied", filled(gen.WithAuthenticationRef(0, "", "user-from-secret")), "the user name from Secret loot key user"},
		{"a user name MySQL cuts at 128 characters", filled(gen.WithAuthenticationRef(0, "", "long-user-from-secret")), "the user name from Secret loot key long-user"},
		{"a user name of bytes MySQL re-encodes", filled(gen.WithAuthenticationRef(0, "", "binary-user-from-secret")), "the user name from Secret loot key binary-user"},
		{"the database, echoed by MySQL's unknown database", filled(gen.WithAuthenticationRef(0, "", "db-from-secret")), "the database from Secret loot key db"},
		{"the parts of a connection string", filled(noMetadataHost, gen.WithAuthenticationRef(0, "", "dsn-from-secret")), "the host from Secret loot key dsn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.handle(t, request(t, admissionv1.Create, tc.so))
			answer, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(resp.Warnings, "\n") + denial(resp)
			if !strings.Contains(text, tc.wantFrom) {
				t.Errorf("the answer does not say %q:\n%s", tc.wantFrom, text)
			}
			for _, v := range secretValues {
				if w := leaks(string(answer)+text, v); len(w) > 0 {
					t.Errorf("the answer holds %q of the Secret value %q: %s", w, v, answer)
				}
				if w := leaks(f.logs.String(), v); len(w) > 0 {
					t.Errorf("a log line holds %q of the Secret value %q", w, v)
				}
			}
		})
	}
}

// timestamps are the first field of a development-mode log line.
var timestamps = regexp.MustCompile(`(?m)^\S+\t`)

// An answer must not depend on what a Secret's value is: where it did (a value taken out
// of a text wherever it appeared), the author could guess a password by naming the guess
// as the host and watching whether the host came back, hundreds of guesses per request,
// and a password that is a common word changed innokeda's own messages. So the answer
// and the log lines for each password below are the same, byte for byte.
func TestAnswersDoNotDependOnASecretsValue(t *testing.T) {
	db := harness.SharedMariaDB(t)
	const guess = "guess-Right-7"
	passwords := []string{guess, "other-Pw-2", "query", "the", "MySQL", "host", "trigger", "a"}
	answerOf := func(t *testing.T, password string, so *kedav1alpha1.ScaledObject) (string, string) {
		t.Helper()
		extra := []client.Object{
			secretObj("app", map[string]string{"pw": password}),
			triggerAuth("app-auth", ref("password", "app", "pw")),
		}
		f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn, extra...)
		resp := f.handle(t, request(t, admissionv1.Create, so))
		resp.UID = ""
		answer, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		return string(answer), timestamps.ReplaceAllString(f.logs.String(), "")
	}
	withAuth := gen.WithAuthenticationRef(0, "", "app-auth")
	for _, tc := range []struct {
		name   string
		so     *kedav1alpha1.ScaledObject
		quoted bool // the answer quotes the guess, as the author wrote it
	}{
		// Every guess is named where the author may write: the host, the user, the database.
		{"the guess as the host", filled(withAuth, gen.WithTriggerMetadata(0, "host", guess, "username", harness.AppUser)), true},
		{"the guess as the user name", filled(withAuth, gen.WithTriggerMetadata(0, "username", guess)), true},
		{"the guess as the database", filled(withAuth, gen.WithTriggerMetadata(0, "username", harness.AppUser, "dbName", guess)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAnswer, wantLogs := answerOf(t, passwords[0], tc.so)
			if tc.quoted && !strings.Contains(wantAnswer, guess) {
				t.Fatalf("the answer does not quote the author's own %q: %s", guess, wantAnswer)
			}
			for _, pw := range passwords[1:] {
				answer, logs := answerOf(t, pw, tc.so)
				if answer != wantAnswer {
					t.Errorf("with password %q the answer is\n%s\nwith %q\n%s", pw, answer, passwords[0], wantAnswer)
				}
				if logs != wantLogs {
					t.Errorf("with password %q the logs are\n%s\nwith %q\n%s", pw, logs, passwords[0], wantLogs)
				}
			}
		})
	}
}
