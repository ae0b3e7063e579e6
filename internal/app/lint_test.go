package app

import (
	"bytes"
	"strings"
	"testing"
)

// innokeda lint is a subcommand of the manager's binary, with the manager's defaults.
func TestLintSubcommand(t *testing.T) {
	const input = `apiVersion: mysql.oracle.com/v2
kind: InnoDBCluster
metadata:
  name: mycluster
  annotations: {innokeda.io/autofill: "true"}
spec: {secretName: s, instances: 3}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {kind: StatefulSet, name: mycluster}
  triggers:
  - type: mysql
    metadata: {query: "SELECT COUNT(*) FROM app.jobs", queryValue: "5"}
`
	var stdout, stderr bytes.Buffer
	code := Lint([]string{"--fail-on", "info", "-"}, strings.NewReader(input), &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "-:8: info: ScaledObject default/so: spec.triggers[0].metadata.host: the mutating webhook would set it to mycluster-instances.default.svc.cluster.local") {
		t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
