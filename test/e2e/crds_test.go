package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/innokeda/innokeda/test/harness"
)

// TestMissingCRDsAreNamedAtStart runs innokeda against an API server with neither KEDA's
// nor the MySQL Operator's CRDs: it must stop at once, saying which CRDs are missing and
// how to install them, rather than wait for caches that never sync.
func TestMissingCRDsAreNamedAtStart(t *testing.T) {
	bare, err := harness.StartBareControlPlane()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	path, err := bare.KubeconfigFile(harness.Admin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--kubeconfig", path, "--webhook-port", strconv.Itoa(freePort(t)),
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || ctx.Err() != nil {
		t.Fatalf("innokeda: %v (context: %v), want exit code 1 at once\n%s", err, ctx.Err(), out)
	}
	for _, want := range []string{
		"scaledobjects.keda.sh (keda.sh/v1alpha1 ScaledObject)", "triggerauthentications.keda.sh", "clustertriggerauthentications.keda.sh",
		"innodbclusters.mysql.oracle.com (mysql.oracle.com/v2 InnoDBCluster)", "helm install keda kedacore/keda", "helm install mysql-operator",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
}
