package webhook_test

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

// TestAQueryTheParserCannotReadIsDenied: TiDB's parser panics on a decimal of more than 81
// digits. A panicking handler would be an error answer, which failurePolicy Ignore admits:
// the query, INTO OUTFILE included, would reach KEDA unchecked. It is denied instead.
func TestAQueryTheParserCannotReadIsDenied(t *testing.T) {
	db := harness.SharedMariaDB(t)
	f := newValidatorFixture(t, db.Addr, webhook.OnUnreachableWarn)
	long := "1." + strings.Repeat("0", 90) + "1"
	resp := f.handle(t, request(t, admissionv1.Create, filled(withQuery("SELECT COUNT(*) FROM testtable WHERE price > "+long+" INTO OUTFILE '/tmp/x'"))))
	if resp.Allowed || !strings.Contains(denial(resp), "spec.triggers[0].metadata.query: Invalid value: the query holds something innokeda's MySQL parser cannot read") {
		t.Errorf("allowed=%v %q %q; want a denial on the query", resp.Allowed, resp.Warnings, denial(resp))
	}
}
