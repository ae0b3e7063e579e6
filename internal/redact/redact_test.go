package redact

import (
	"errors"
	"fmt"
	"testing"
)

func TestFrom(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		text    string
		want    string
	}{
		{name: "nothing recorded", text: "Access denied for user 'root'", want: "Access denied for user 'root'"},
		{name: "a user name in MySQL's message", secrets: []string{"app-admin"},
			text: "MySQL error 1045 (ER_ACCESS_DENIED_ERROR): Access denied for user 'app-admin'@'10.0.0.7' (using password: YES)",
			want: "MySQL error 1045 (ER_ACCESS_DENIED_ERROR): Access denied for user '[redacted]'@'10.0.0.7' (using password: YES)"},
		{name: "a database name MySQL folded to lower case", secrets: []string{"BillingDB"},
			text: "Table 'billingdb.jobs' doesn't exist", want: "Table '[redacted].jobs' doesn't exist"},
		{name: "every occurrence", secrets: []string{"s3cret-host"},
			text: "host s3cret-host is not s3cret-host", want: "host [redacted] is not [redacted]"},
		{name: "a value holding another is replaced whole", secrets: []string{"db", "db.internal"},
			text: "cannot resolve db.internal", want: "cannot resolve [redacted]"},
		{name: "surrounding spaces, as KEDA trims them", secrets: []string{"  root-user \n"},
			text: "user 'root-user'", want: "user '[redacted]'"},
		{name: "a one-letter value, as a word", secrets: []string{"a"},
			text: "a table a", want: "[redacted] table [redacted]"},
		{name: "a value inside a longer word stays", secrets: []string{"keda"},
			text: "innokeda: Access denied for user 'keda'", want: "innokeda: Access denied for user '[redacted]'"},
		{name: "a port inside a longer number stays", secrets: []string{"3306"},
			text: "port 3306, not 33061", want: "port [redacted], not 33061"},
		{name: "empty values are ignored", secrets: []string{"", "  "}, text: "text", want: "text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Secrets
			s.Add(tc.secrets...)
			if got := s.From(tc.text); got != tc.want {
				t.Errorf("From(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	var none *Secrets
	if got := none.From("x"); got != "x" {
		t.Errorf("nil Secrets changed the text: %q", got)
	}
}

func TestError(t *testing.T) {
	var s Secrets
	s.Add("Pw0rd")
	inner := errors.New("MySQL error 1045")
	err := s.Error(fmt.Errorf("ALTER USER x IDENTIFIED BY 'Pw0rd': %w", inner))
	if err.Error() != "ALTER USER x IDENTIFIED BY '[redacted]': MySQL error 1045" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, inner) {
		t.Error("the wrapped error is no longer seen through the redaction")
	}
	if clean := errors.New("no secret here"); s.Error(clean) != clean {
		t.Error("an error without a secret was wrapped")
	}
	if s.Error(nil) != nil {
		t.Error("nil became an error")
	}
}
